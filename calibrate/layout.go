package calibrate

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/ggufwrite"
)

// Shape is the size of a llama-architecture model: a synthetic layout with
// random weights that llama.cpp loads and runs at the speed of a trained
// model of the same shape (speed does not depend on the values).
type Shape struct {
	Name                       string
	Layers, Embd, FFN          int
	Heads, KVHeads, Vocab, Ctx int
	TiedOutput                 bool // no output.weight: the embedding projects the logits
}

// Shapes used by calibration and the accuracy report: Llama 3.2 1B and
// Llama 3.1 8B's dimensions, and two small ones that run in seconds yet
// overflow the CPU caches.
var (
	Llama1B = Shape{Name: "llama-1b", Layers: 16, Embd: 2048, FFN: 8192, Heads: 32, KVHeads: 8, Vocab: 128256, Ctx: 4096, TiedOutput: true}
	Llama8B = Shape{Name: "llama-8b", Layers: 32, Embd: 4096, FFN: 14336, Heads: 32, KVHeads: 8, Vocab: 128256, Ctx: 4096}
	// CalibWide and CalibDeep differ in the bytes per layer and the layer
	// count, so that a fit separates the per-byte from the per-layer cost.
	CalibWide = Shape{Name: "calib-wide", Layers: 6, Embd: 2048, FFN: 5632, Heads: 16, KVHeads: 4, Vocab: 32000, Ctx: 2048}
	CalibDeep = Shape{Name: "calib-deep", Layers: 24, Embd: 1024, FFN: 2816, Heads: 16, KVHeads: 4, Vocab: 32000, Ctx: 2048}
)

// Params is the number of weights.
func (s Shape) Params() int64 {
	headDim := s.Embd / s.Heads
	kv := s.KVHeads * headDim
	layer := int64(s.Embd)*int64(s.Embd)*2 + int64(s.Embd)*int64(kv)*2 + 3*int64(s.Embd)*int64(s.FFN) + 2*int64(s.Embd)
	n := int64(s.Layers)*layer + int64(s.Vocab)*int64(s.Embd) + int64(s.Embd)
	if !s.TiedOutput {
		n += int64(s.Vocab) * int64(s.Embd)
	}
	return n
}

// tensors lists the layout's tensors in llama.cpp's converter order.
func (s Shape) tensors() []ggufwrite.TensorInfo {
	e, f, v := uint64(s.Embd), uint64(s.FFN), uint64(s.Vocab)
	kv := uint64(s.KVHeads * (s.Embd / s.Heads))
	ts := []ggufwrite.TensorInfo{{Name: "token_embd.weight", Type: gguf.TypeF16, Shape: []uint64{e, v}}}
	for i := 0; i < s.Layers; i++ {
		p := fmt.Sprintf("blk.%d.", i)
		ts = append(ts,
			ggufwrite.TensorInfo{Name: p + "attn_norm.weight", Type: gguf.TypeF32, Shape: []uint64{e}},
			ggufwrite.TensorInfo{Name: p + "attn_q.weight", Type: gguf.TypeF16, Shape: []uint64{e, e}},
			ggufwrite.TensorInfo{Name: p + "attn_k.weight", Type: gguf.TypeF16, Shape: []uint64{e, kv}},
			ggufwrite.TensorInfo{Name: p + "attn_v.weight", Type: gguf.TypeF16, Shape: []uint64{e, kv}},
			ggufwrite.TensorInfo{Name: p + "attn_output.weight", Type: gguf.TypeF16, Shape: []uint64{e, e}},
			ggufwrite.TensorInfo{Name: p + "ffn_norm.weight", Type: gguf.TypeF32, Shape: []uint64{e}},
			ggufwrite.TensorInfo{Name: p + "ffn_gate.weight", Type: gguf.TypeF16, Shape: []uint64{e, f}},
			ggufwrite.TensorInfo{Name: p + "ffn_up.weight", Type: gguf.TypeF16, Shape: []uint64{e, f}},
			ggufwrite.TensorInfo{Name: p + "ffn_down.weight", Type: gguf.TypeF16, Shape: []uint64{f, e}},
		)
	}
	ts = append(ts, ggufwrite.TensorInfo{Name: "output_norm.weight", Type: gguf.TypeF32, Shape: []uint64{e}})
	if !s.TiedOutput {
		ts = append(ts, ggufwrite.TensorInfo{Name: "output.weight", Type: gguf.TypeF16, Shape: []uint64{e, v}})
	}
	return ts
}

// metadata is llama.cpp's llama architecture keys and a SentencePiece-style
// vocabulary of placeholder tokens (three controls, the 256 byte tokens,
// then "▁tN"): enough for llama.cpp to load and benchmark the model.
func (s Shape) metadata() []ggufwrite.KV {
	toks := make([]string, s.Vocab)
	scores := make([]float32, s.Vocab)
	types := make([]int32, s.Vocab)
	for i := range toks {
		switch {
		case i < 3:
			toks[i], types[i] = []string{"<unk>", "<s>", "</s>"}[i], 3
			if i == 0 {
				types[i] = 2
			}
		case i < 3+256:
			toks[i], types[i] = fmt.Sprintf("<0x%02X>", i-3), 6
		default:
			toks[i], types[i] = fmt.Sprintf("\u2581t%d", i), 1
			scores[i] = -float32(i)
		}
	}
	a := "llama."
	return []ggufwrite.KV{
		{Key: "general.architecture", Value: "llama"},
		{Key: "general.name", Value: s.Name + " (synthetic, random weights)"},
		{Key: "general.file_type", Value: uint32(1)}, // MOSTLY_F16
		{Key: a + "context_length", Value: uint32(s.Ctx)},
		{Key: a + "embedding_length", Value: uint32(s.Embd)},
		{Key: a + "block_count", Value: uint32(s.Layers)},
		{Key: a + "feed_forward_length", Value: uint32(s.FFN)},
		{Key: a + "attention.head_count", Value: uint32(s.Heads)},
		{Key: a + "attention.head_count_kv", Value: uint32(s.KVHeads)},
		{Key: a + "rope.dimension_count", Value: uint32(s.Embd / s.Heads)},
		{Key: a + "rope.freq_base", Value: float32(500000)},
		{Key: a + "attention.layer_norm_rms_epsilon", Value: float32(1e-5)},
		{Key: a + "vocab_size", Value: uint32(s.Vocab)},
		{Key: "tokenizer.ggml.model", Value: "llama"},
		{Key: "tokenizer.ggml.tokens", Value: toks},
		{Key: "tokenizer.ggml.scores", Value: scores},
		{Key: "tokenizer.ggml.token_type", Value: types},
		{Key: "tokenizer.ggml.bos_token_id", Value: uint32(1)},
		{Key: "tokenizer.ggml.eos_token_id", Value: uint32(2)},
		{Key: "tokenizer.ggml.unknown_token_id", Value: uint32(0)},
		{Key: "tokenizer.ggml.add_bos_token", Value: true},
	}
}

// WriteF16 writes the shape as an F16 GGUF (norms in F32) with random
// weights drawn from seed, ready for llama-quantize.
func WriteF16(ctx context.Context, path string, s Shape, seed uint64) error {
	return Write(ctx, path, s, "F16", seed)
}

// fileTypes are llama.cpp's general.file_type values (llama_ftype).
var fileTypes = map[string]uint32{"F16": 1, "Q4_0": 2, "Q8_0": 7, "Q4_K_S": 14, "Q4_K_M": 15, "Q6_K": 18}

// Mix names the type of every tensor of a layout, as llama-quantize would
// choose it for a file type.
type Mix struct {
	FileType string // "F16", "Q8_0", "Q4_0", "Q4_K_M", or a single type's "Q4_K_S"/"Q6_K"
	typ      func(name string, layer, nLayer int, tied bool) gguf.Type
}

// single puts every matrix in t.
func single(ft string, t gguf.Type) Mix {
	return Mix{FileType: ft, typ: func(string, int, int, bool) gguf.Type { return t }}
}

// Mixes of llama-quantize's file types for the llama architecture,
// mirroring llama_tensor_get_type (src/llama-quant.cpp): the output
// projection (or a tied embedding, which serves as it) in Q6_K except for
// Q8_0; in Q4_K_M also attn_v and ffn_down of the layers use_more_bits
// picks (the first and last eighth, and every third between). Checked
// against llama-quantize's own 1B-sized files.
var Mixes = map[string]Mix{
	"F16":  single("F16", gguf.TypeF16),
	"Q8_0": single("Q8_0", gguf.TypeQ8_0),
	"Q4_0": {FileType: "Q4_0", typ: func(name string, layer, n int, tied bool) gguf.Type {
		if name == "output.weight" || tied && name == "token_embd.weight" {
			return gguf.TypeQ6_K
		}
		return gguf.TypeQ4_0
	}},
	"Q4_K_M": {FileType: "Q4_K_M", typ: func(name string, layer, n int, tied bool) gguf.Type {
		moreBits := layer < n/8 || layer >= 7*n/8 || (layer-n/8)%3 == 2
		switch {
		case name == "output.weight" || tied && name == "token_embd.weight":
			return gguf.TypeQ6_K
		case layer >= 0 && moreBits && (hasSuffix(name, ".attn_v.weight") || hasSuffix(name, ".ffn_down.weight")):
			return gguf.TypeQ6_K
		}
		return gguf.TypeQ4_K
	}},
	// Single-type layouts for calibration: one kernel class each.
	"Q4_K": single("Q4_K_S", gguf.TypeQ4_K),
	"Q6_K": single("Q6_K", gguf.TypeQ6_K),
}

func hasSuffix(s, suf string) bool { return len(s) >= len(suf) && s[len(s)-len(suf):] == suf }

// Write writes the shape in the mix named (a key of Mixes), the norms in
// F32, from random blocks drawn from seed. Quantized blocks get small
// positive scales and random quants, so that llama.cpp computes on finite
// values; writing them directly spares a quantization run, which takes
// longer than the measurement itself.
func Write(ctx context.Context, path string, s Shape, mix string, seed uint64) (err error) {
	ts, kvs, err := s.layout(mix)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("calibrate: %w", cerr)
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	w := bufio.NewWriterSize(f, 4<<20)
	// Buffers of whole random blocks per type, written from a shifting
	// block offset: the values need not be independent, only varied.
	blocks := map[gguf.Type][]byte{}
	ones := make([]byte, 4*s.Embd)
	for i := 0; i < s.Embd; i++ {
		binary.LittleEndian.PutUint32(ones[4*i:], math.Float32bits(1))
	}
	shift := 0
	err = ggufwrite.Stream(w, kvs, ts, func(i int, size uint64, w io.Writer) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		typ := ts[i].Type
		if typ == gguf.TypeF32 { // the norms: ones
			_, err := w.Write(ones[:size])
			return err
		}
		block, ok := blocks[typ]
		if !ok {
			block = randomBlocks(typ, seed+uint64(typ))
			blocks[typ] = block
		}
		bs := int(typ.BlockBytes())
		for size > 0 {
			shift = (shift + 7919*bs) % (len(block) / 2 / bs * bs)
			n := min(size, uint64(len(block)-shift))
			if _, err := w.Write(block[shift : shift+int(n)]); err != nil {
				return err
			}
			size -= n
		}
		return nil
	})
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return fmt.Errorf("calibrate: writing %s: %w", path, err)
	}
	return nil
}

// randomBlocks returns about 1 MiB of whole random blocks of typ (F16 or
// Q8_0, Q4_0, Q4_K, Q6_K).
func randomBlocks(typ gguf.Type, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	bs := int(typ.BlockBytes())
	buf := make([]byte, (1<<20)/bs*bs)
	if typ == gguf.TypeF16 {
		for i := 0; i < len(buf); i += 2 {
			binary.LittleEndian.PutUint16(buf[i:], f16((rng.Float32()-0.5)*0.1))
		}
		return buf
	}
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	scale := func(b []byte) { binary.LittleEndian.PutUint16(b, f16(0.0005+rng.Float32()*0.002)) }
	for off := 0; off < len(buf); off += bs {
		b := buf[off : off+bs]
		switch typ {
		case gguf.TypeQ8_0, gguf.TypeQ4_0: // d, then the quants
			scale(b)
		case gguf.TypeQ4_K: // d, dmin, 12 bytes of 6-bit scales, quants
			scale(b)
			scale(b[2:])
		case gguf.TypeQ6_K: // quants, int8 scales, then d
			scale(b[bs-2:])
		}
	}
	return buf
}

// f16 converts a small float32 to IEEE half precision (round to nearest;
// subnormals flush to zero, which these weights never reach).
func f16(x float32) uint16 {
	b := math.Float32bits(x)
	sign := uint16(b>>16) & 0x8000
	exp := int((b>>23)&0xff) - 127 + 15
	mant := b & 0x7fffff
	if exp <= 0 {
		return sign
	}
	if exp >= 31 {
		return sign | 0x7c00
	}
	h := sign | uint16(exp)<<10 | uint16(mant>>13)
	if mant&0x1000 != 0 {
		h++
	}
	return h
}

// layout returns the tensors with the mix's types and the metadata.
func (s Shape) layout(mix string) ([]ggufwrite.TensorInfo, []ggufwrite.KV, error) {
	mx, ok := Mixes[mix]
	if !ok {
		return nil, nil, fmt.Errorf("calibrate: no %s layout (F16, Q8_0, Q4_0, Q4_K_M, Q4_K, Q6_K)", mix)
	}
	ts := s.tensors()
	for i := range ts {
		if ts[i].Type == gguf.TypeF32 {
			continue
		}
		layer := -1
		fmt.Sscanf(ts[i].Name, "blk.%d.", &layer)
		typ := mx.typ(ts[i].Name, layer, s.Layers, s.TiedOutput)
		if _, ok := typ.RowBytes(ts[i].Shape[0]); !ok {
			return nil, nil, fmt.Errorf("calibrate: %s: rows of %d values do not fill %s blocks", ts[i].Name, ts[i].Shape[0], typ)
		}
		ts[i].Type = typ
	}
	kvs := s.metadata()
	for i := range kvs {
		if kvs[i].Key == "general.file_type" {
			kvs[i].Value = fileTypes[mx.FileType]
		}
	}
	return ts, kvs, nil
}

var errHeaderOnly = errors.New("header only")

// WriteHeader writes the layout's header with the mix's types and no
// tensor data (a header-only file, as the zoo's): enough to plan it.
func WriteHeader(path string, s Shape, mix string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	ts, kvs, err := s.layout(mix)
	if err != nil {
		return err
	}
	err = ggufwrite.Stream(f, kvs, ts, func(int, uint64, io.Writer) error { return errHeaderOnly })
	if errors.Is(err, errHeaderOnly) {
		return nil
	}
	return err
}
