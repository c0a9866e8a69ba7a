package cluster

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/ggufwrite"
	"github.com/modelfit/modelfit/internal/testutil"
)

// synthShape is a llama layout of about a billion weights.
type synthShape struct {
	embd, layers, ff, heads, kvHeads uint64
}

var synth1B = synthShape{embd: 2048, layers: 16, ff: 8192, heads: 32, kvHeads: 8}

// synthModel writes an F16 llama of shape s with the tiny test model's
// vocabulary and quantizes it to typ with llama-quantize, into
// /tmp/rpc-synth-…/ (kept between runs: the file depends only on s and typ).
// The weights make the output independent of the input: every layer's
// matrices are zero, so the hidden state is the (constant) token embedding,
// and the output matrix has ones in a single row, so greedy decoding repeats
// one word: its text is returned.
func synthModel(t *testing.T, bin string, s synthShape, typ string) (path, word string) {
	t.Helper()
	vocab, err := gguf.Open(testutil.Path("models", "synth-llama-gqa-Q8_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer vocab.Close()
	var kvs []ggufwrite.KV
	var tokens []string
	for _, kv := range vocab.Metadata.KVs {
		if len(kv.Key) < 10 || kv.Key[:10] != "tokenizer." {
			continue
		}
		v := kv.Value.Any()
		if a, ok := v.(gguf.Array); ok {
			v = a.Values
			if ts, ok := a.Values.([]string); ok && kv.Key == "tokenizer.ggml.tokens" {
				tokens = ts
			}
		}
		kvs = append(kvs, ggufwrite.KV{Key: kv.Key, Value: v})
	}
	wordRE := regexp.MustCompile(`^▁[a-z]{4,}$`)
	target := -1
	for i, tok := range tokens {
		if wordRE.MatchString(tok) {
			target, word = i, " "+tok[len("▁"):]
			break
		}
	}
	if target < 0 {
		t.Fatal("no word token in the test vocabulary")
	}
	dir := fmt.Sprintf("/tmp/rpc-synth-%d-%d-%d-%d-%d-%s", s.embd, s.layers, s.ff, s.heads, s.kvHeads, typ)
	path = filepath.Join(dir, "model-"+typ+".gguf")
	if _, err := os.Stat(path); err == nil {
		return path, word
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	nVocab := uint64(len(tokens))
	kvs = append([]ggufwrite.KV{
		{Key: "general.architecture", Value: "llama"},
		{Key: "general.name", Value: "rpc-synth"},
		{Key: "llama.context_length", Value: uint32(2048)},
		{Key: "llama.embedding_length", Value: uint32(s.embd)},
		{Key: "llama.block_count", Value: uint32(s.layers)},
		{Key: "llama.feed_forward_length", Value: uint32(s.ff)},
		{Key: "llama.attention.head_count", Value: uint32(s.heads)},
		{Key: "llama.attention.head_count_kv", Value: uint32(s.kvHeads)},
		{Key: "llama.rope.dimension_count", Value: uint32(s.embd / s.heads)},
		{Key: "llama.attention.layer_norm_rms_epsilon", Value: float32(1e-5)},
		{Key: "llama.vocab_size", Value: uint32(nVocab)},
		{Key: "general.file_type", Value: uint32(1)},
	}, kvs...)
	f16 := func(v uint16, n uint64) []byte {
		b := make([]byte, 2*n)
		for i := uint64(0); i < n; i++ {
			binary.LittleEndian.PutUint16(b[2*i:], v)
		}
		return b
	}
	zeros := map[uint64][]byte{}
	zero := func(n uint64) []byte {
		if zeros[n] == nil {
			zeros[n] = make([]byte, 2*n)
		}
		return zeros[n]
	}
	ones := ggufwrite.F32(func() []float32 {
		x := make([]float32, s.embd)
		for i := range x {
			x[i] = 1
		}
		return x
	}())
	out := zero(s.embd * nVocab)
	out = append([]byte(nil), out...)
	copy(out[uint64(target)*s.embd*2:], f16(0x3c00, s.embd)) // 1.0
	tensors := []ggufwrite.Tensor{
		{Name: "token_embd.weight", Type: gguf.TypeF16, Shape: []uint64{s.embd, nVocab}, Data: f16(0x211f, s.embd*nVocab)}, // 0.01
		{Name: "output_norm.weight", Type: gguf.TypeF32, Shape: []uint64{s.embd}, Data: ones},
		{Name: "output.weight", Type: gguf.TypeF16, Shape: []uint64{s.embd, nVocab}, Data: out},
	}
	kvDim := s.embd / s.heads * s.kvHeads
	for il := uint64(0); il < s.layers; il++ {
		b := fmt.Sprintf("blk.%d.", il)
		tensors = append(tensors,
			ggufwrite.Tensor{Name: b + "attn_norm.weight", Type: gguf.TypeF32, Shape: []uint64{s.embd}, Data: ones},
			ggufwrite.Tensor{Name: b + "attn_q.weight", Type: gguf.TypeF16, Shape: []uint64{s.embd, s.embd}, Data: zero(s.embd * s.embd)},
			ggufwrite.Tensor{Name: b + "attn_k.weight", Type: gguf.TypeF16, Shape: []uint64{s.embd, kvDim}, Data: zero(s.embd * kvDim)},
			ggufwrite.Tensor{Name: b + "attn_v.weight", Type: gguf.TypeF16, Shape: []uint64{s.embd, kvDim}, Data: zero(s.embd * kvDim)},
			ggufwrite.Tensor{Name: b + "attn_output.weight", Type: gguf.TypeF16, Shape: []uint64{s.embd, s.embd}, Data: zero(s.embd * s.embd)},
			ggufwrite.Tensor{Name: b + "ffn_norm.weight", Type: gguf.TypeF32, Shape: []uint64{s.embd}, Data: ones},
			ggufwrite.Tensor{Name: b + "ffn_gate.weight", Type: gguf.TypeF16, Shape: []uint64{s.embd, s.ff}, Data: zero(s.embd * s.ff)},
			ggufwrite.Tensor{Name: b + "ffn_up.weight", Type: gguf.TypeF16, Shape: []uint64{s.embd, s.ff}, Data: zero(s.embd * s.ff)},
			ggufwrite.Tensor{Name: b + "ffn_down.weight", Type: gguf.TypeF16, Shape: []uint64{s.ff, s.embd}, Data: zero(s.ff * s.embd)},
		)
	}
	src := filepath.Join(dir, "model-F16.gguf")
	fh, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(fh, 1<<20)
	if err := ggufwrite.Write(w, kvs, tensors); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp"
	q := exec.Command(filepath.Join(bin, "llama-quantize"), src, tmp, typ, "2")
	if b, err := q.CombinedOutput(); err != nil {
		t.Fatalf("llama-quantize: %v\n%s", err, b)
	}
	os.Remove(src)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	return path, word
}
