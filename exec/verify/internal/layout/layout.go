// Package layout writes synthetic llama models laid out like released ones
// (Llama 3.2 1B, Llama 3.1 8B at Q4_K_M) as sparse GGUF files: every
// weight is zero, which costs no disk and runs the same kernels on the same
// bytes as a trained model, so memory and speed are those of the real
// layout. The tokenizer is a small synthetic SPM vocabulary padded to the
// real vocabulary size.
package layout

import (
	"fmt"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/ggufwrite"
)

// Shape is a llama model's hyperparameters and quantization.
type Shape struct {
	Name                       string
	Embd, Layers, Heads, KV    int
	FF, Vocab, CtxTrain        int
	Tied                       bool      // no output.weight: the embedding is the output projection
	Embed, Output, Main, Extra gguf.Type // token_embd, output, most 2D weights, and the Q4_K_M "more bits" tensors
}

// Llama1B is laid out like Llama 3.2 1B Instruct Q4_K_M (tied embeddings).
var Llama1B = Shape{Name: "llama-1b-Q4_K_M", Embd: 2048, Layers: 16, Heads: 32, KV: 8, FF: 8192, Vocab: 128256, CtxTrain: 131072,
	Tied: true, Embed: gguf.TypeQ6_K, Main: gguf.TypeQ4_K, Extra: gguf.TypeQ6_K}

// Llama8B is laid out like Llama 3.1 8B Instruct Q4_K_M.
var Llama8B = Shape{Name: "llama-8b-Q4_K_M", Embd: 4096, Layers: 32, Heads: 32, KV: 8, FF: 14336, Vocab: 128256, CtxTrain: 131072,
	Embed: gguf.TypeQ4_K, Output: gguf.TypeQ6_K, Main: gguf.TypeQ4_K, Extra: gguf.TypeQ6_K}

// moreBits is llama-quantize's choice of the layers whose attn_v and
// ffn_down get the larger type in Q4_K_M (src/llama-quant.cpp,
// use_more_bits): the first and last eighth, and every third in between.
func moreBits(i, n int) bool { return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2 }

// Write writes the model to path and returns its size in bytes.
func Write(path string, s Shape) (int64, error) {
	if s.Embd%s.Heads != 0 || s.Heads%s.KV != 0 {
		return 0, fmt.Errorf("layout: %s: heads %d/%d do not divide n_embd %d", s.Name, s.Heads, s.KV, s.Embd)
	}
	headDim := s.Embd / s.Heads
	kvEmbd := uint64(headDim * s.KV)
	e, ff, v := uint64(s.Embd), uint64(s.FF), uint64(s.Vocab)
	t := func(name string, typ gguf.Type, shape ...uint64) ggufwrite.Tensor {
		return ggufwrite.Tensor{Name: name, Type: typ, Shape: shape}
	}
	tensors := []ggufwrite.Tensor{t("token_embd.weight", s.Embed, e, v)}
	for i := 0; i < s.Layers; i++ {
		p := fmt.Sprintf("blk.%d.", i)
		extra := s.Main
		if moreBits(i, s.Layers) {
			extra = s.Extra
		}
		tensors = append(tensors,
			t(p+"attn_norm.weight", gguf.TypeF32, e),
			t(p+"attn_q.weight", s.Main, e, e),
			t(p+"attn_k.weight", s.Main, e, kvEmbd),
			t(p+"attn_v.weight", extra, e, kvEmbd),
			t(p+"attn_output.weight", s.Main, e, e),
			t(p+"ffn_norm.weight", gguf.TypeF32, e),
			t(p+"ffn_gate.weight", s.Main, e, ff),
			t(p+"ffn_up.weight", s.Main, e, ff),
			t(p+"ffn_down.weight", extra, ff, e),
		)
	}
	tensors = append(tensors, t("output_norm.weight", gguf.TypeF32, e))
	if !s.Tied {
		tensors = append(tensors, t("output.weight", s.Output, e, v))
	}
	kvs := []ggufwrite.KV{
		{Key: "general.architecture", Value: "llama"},
		{Key: "general.name", Value: s.Name},
		{Key: "general.file_type", Value: uint32(15)}, // MOSTLY_Q4_K_M
		{Key: "general.quantization_version", Value: uint32(2)},
		{Key: "llama.context_length", Value: uint32(s.CtxTrain)},
		{Key: "llama.embedding_length", Value: uint32(s.Embd)},
		{Key: "llama.block_count", Value: uint32(s.Layers)},
		{Key: "llama.feed_forward_length", Value: uint32(s.FF)},
		{Key: "llama.attention.head_count", Value: uint32(s.Heads)},
		{Key: "llama.attention.head_count_kv", Value: uint32(s.KV)},
		{Key: "llama.rope.dimension_count", Value: uint32(headDim)},
		{Key: "llama.rope.freq_base", Value: float32(500000)},
		{Key: "llama.attention.layer_norm_rms_epsilon", Value: float32(1e-5)},
		{Key: "llama.vocab_size", Value: uint32(s.Vocab)},
	}
	return ggufwrite.WriteSparse(path, append(kvs, vocab(s.Vocab)...), tensors)
}

// vocab is a synthetic SPM vocabulary of n tokens: <unk>, <s>, </s>, the
// 256 byte tokens, printable ASCII pieces, then fillers.
func vocab(n int) []ggufwrite.KV {
	tokens := make([]string, 0, n)
	types := make([]int32, 0, n)
	scores := make([]float32, 0, n)
	add := func(s string, typ int32) {
		tokens = append(tokens, s)
		types = append(types, typ)
		scores = append(scores, -float32(len(tokens)))
	}
	add("<unk>", 2)
	add("<s>", 3)
	add("</s>", 3)
	for b := 0; b < 256; b++ {
		add(fmt.Sprintf("<0x%02X>", b), 6)
	}
	for c := byte(' ' + 1); c < 127; c++ {
		add(string(c), 1)
		add("\u2581"+string(c), 1)
	}
	add("\u2581", 1)
	for i := len(tokens); i < n; i++ {
		add(fmt.Sprintf("\u2581tok%d", i), 1)
	}
	return []ggufwrite.KV{
		{Key: "tokenizer.ggml.model", Value: "llama"},
		{Key: "tokenizer.ggml.tokens", Value: tokens[:n]},
		{Key: "tokenizer.ggml.scores", Value: scores[:n]},
		{Key: "tokenizer.ggml.token_type", Value: types[:n]},
		{Key: "tokenizer.ggml.unknown_token_id", Value: uint32(0)},
		{Key: "tokenizer.ggml.bos_token_id", Value: uint32(1)},
		{Key: "tokenizer.ggml.eos_token_id", Value: uint32(2)},
	}
}
