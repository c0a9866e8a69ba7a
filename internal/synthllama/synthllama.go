// Package synthllama writes llama GGUF files of any size whose output does
// not depend on the input, for tests that run llama.cpp on a model of a
// given size: every layer's matrices are zero, so the hidden state is the
// constant token embedding, and the output matrix has ones in one row, so
// greedy decoding repeats one word of the vocabulary.
package synthllama

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/ggufwrite"
)

// Shape is a llama layout.
type Shape struct {
	Embd, Layers, FF, Heads, KVHeads uint64
}

// Write writes the F16 model of shape s with the tokenizer of vocab (any
// llama GGUF with an SPM vocabulary) to w, and returns the word greedy
// decoding repeats (with its leading space). Tensors of one shape share
// one buffer, so a billion-weight file needs little memory.
func Write(w io.Writer, s Shape, vocab *gguf.File) (word string, err error) {
	if s.Embd == 0 || s.Layers == 0 || s.FF == 0 || s.Heads == 0 || s.KVHeads == 0 || s.Embd%s.Heads != 0 || s.Heads%s.KVHeads != 0 {
		return "", fmt.Errorf("synthllama: shape %+v: want positive sizes, heads dividing n_embd, KV heads dividing heads", s)
	}
	var kvs []ggufwrite.KV
	var tokens []string
	for _, kv := range vocab.Metadata.KVs {
		if !strings.HasPrefix(kv.Key, "tokenizer.") {
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
			target, word = i, " "+strings.TrimPrefix(tok, "▁")
			break
		}
	}
	if target < 0 {
		return "", errors.New("synthllama: the vocabulary has no word token (▁ and four letters)")
	}
	nVocab := uint64(len(tokens))
	kvs = append([]ggufwrite.KV{
		{Key: "general.architecture", Value: "llama"},
		{Key: "general.name", Value: "synthllama"},
		{Key: "llama.context_length", Value: uint32(2048)},
		{Key: "llama.embedding_length", Value: uint32(s.Embd)},
		{Key: "llama.block_count", Value: uint32(s.Layers)},
		{Key: "llama.feed_forward_length", Value: uint32(s.FF)},
		{Key: "llama.attention.head_count", Value: uint32(s.Heads)},
		{Key: "llama.attention.head_count_kv", Value: uint32(s.KVHeads)},
		{Key: "llama.rope.dimension_count", Value: uint32(s.Embd / s.Heads)},
		{Key: "llama.attention.layer_norm_rms_epsilon", Value: float32(1e-5)},
		{Key: "llama.vocab_size", Value: uint32(nVocab)},
		{Key: "general.file_type", Value: uint32(1)}, // F16
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
	one := make([]float32, s.Embd)
	for i := range one {
		one[i] = 1
	}
	ones := ggufwrite.F32(one)
	out := make([]byte, 2*s.Embd*nVocab)
	copy(out[uint64(target)*s.Embd*2:], f16(0x3c00, s.Embd)) // 1.0 in the target's row
	tensors := []ggufwrite.Tensor{
		{Name: "token_embd.weight", Type: gguf.TypeF16, Shape: []uint64{s.Embd, nVocab}, Data: f16(0x211f, s.Embd*nVocab)}, // 0.01
		{Name: "output_norm.weight", Type: gguf.TypeF32, Shape: []uint64{s.Embd}, Data: ones},
		{Name: "output.weight", Type: gguf.TypeF16, Shape: []uint64{s.Embd, nVocab}, Data: out},
	}
	kvDim := s.Embd / s.Heads * s.KVHeads
	for il := uint64(0); il < s.Layers; il++ {
		b := fmt.Sprintf("blk.%d.", il)
		mat := func(name string, cols, rows uint64) ggufwrite.Tensor {
			return ggufwrite.Tensor{Name: b + name, Type: gguf.TypeF16, Shape: []uint64{cols, rows}, Data: zero(cols * rows)}
		}
		tensors = append(tensors,
			ggufwrite.Tensor{Name: b + "attn_norm.weight", Type: gguf.TypeF32, Shape: []uint64{s.Embd}, Data: ones},
			mat("attn_q.weight", s.Embd, s.Embd),
			mat("attn_k.weight", s.Embd, kvDim),
			mat("attn_v.weight", s.Embd, kvDim),
			mat("attn_output.weight", s.Embd, s.Embd),
			ggufwrite.Tensor{Name: b + "ffn_norm.weight", Type: gguf.TypeF32, Shape: []uint64{s.Embd}, Data: ones},
			mat("ffn_gate.weight", s.Embd, s.FF),
			mat("ffn_up.weight", s.Embd, s.FF),
			mat("ffn_down.weight", s.FF, s.Embd),
		)
	}
	return word, ggufwrite.Write(w, kvs, tensors)
}

// Build writes the model of shape s into dir quantized to typ with the
// llama-quantize at quantize, unless the file is already there (its name
// says the shape and type), and returns its path and word. Concurrent
// builds of one file are safe: each writes its own temporary files and
// renames the result into place.
func Build(quantize, dir string, s Shape, typ string, vocab *gguf.File) (path, word string, err error) {
	name := fmt.Sprintf("synthllama-v3-%d-%d-%d-%d-%d-%s.gguf", s.Embd, s.Layers, s.FF, s.Heads, s.KVHeads, typ)
	path = filepath.Join(dir, name)
	word, err = Write(io.Discard, Shape{Embd: 1, Layers: 1, FF: 1, Heads: 1, KVHeads: 1}, vocab)
	if err != nil {
		return "", "", err
	}
	if _, err := os.Stat(path); err == nil {
		return path, word, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	src, err := os.CreateTemp(dir, name+".*.f16")
	if err != nil {
		return "", "", err
	}
	defer os.Remove(src.Name())
	bw := bufio.NewWriterSize(src, 1<<20)
	if _, err := Write(bw, s, vocab); err != nil {
		src.Close()
		return "", "", err
	}
	if err := bw.Flush(); err != nil {
		src.Close()
		return "", "", err
	}
	if err := src.Close(); err != nil {
		return "", "", err
	}
	if err := distinct(src.Name()); err != nil {
		return "", "", err
	}
	tmp := strings.TrimSuffix(src.Name(), ".f16") + ".q"
	defer os.Remove(tmp)
	if out, err := exec.Command(quantize, src.Name(), tmp, typ, "2").CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("synthllama: llama-quantize: %v: %s", err, lastLine(string(out)))
	}
	return path, word, os.Rename(tmp, path)
}

// distinct gives every layer matrix of the F16 file at path its own first
// weight (a small positive value), so that no two tensors have the same
// bytes: ggml-rpc-server's cache is addressed by content, and identical
// tensors would share one entry. The output does not change: the values
// are far too small to move the logits.
func distinct(path string) error {
	f, err := gguf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	k := 0
	for _, t := range f.Tensors {
		if t.Layer < 0 || t.Type != gguf.TypeF16 {
			continue
		}
		// 2^-7 × (1 + k/128): 0.8% apart, so that they stay apart after
		// quantization (a Q8_0 block's f16 scale keeps 0.1%).
		var b [2]byte
		binary.LittleEndian.PutUint16(b[:], 0x2000+8*uint16(k%128))
		k++
		if _, err := w.WriteAt(b[:], t.Offset); err != nil {
			w.Close()
			return err
		}
	}
	return w.Close()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
