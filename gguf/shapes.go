package gguf

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrShape is wrapped by the *ShapeError of CheckShapes.
var ErrShape = errors.New("tensor shape contradicts the hyperparameters")

// ShapeError names a tensor whose shape llama.cpp's loader would refuse.
type ShapeError struct {
	Tensor string
	Shape  []uint64 // as stored, ggml order
	Want   string   // what was expected, e.g. "[4096 32000]" or "a layer below 32"
}

func (e *ShapeError) Error() string {
	return fmt.Sprintf("gguf: tensor %q has shape %s, want %s (%v)", e.Tensor, fmtShape(e.Shape), e.Want, ErrShape)
}

func (e *ShapeError) Unwrap() error { return ErrShape }

func fmtShape(s []uint64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.FormatUint(d, 10)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// Architectures whose embedding or output does not have the model's n_embd
// and vocabulary: draft heads and audio decoders (llama.cpp src/models/
// eagle3.cpp, dflash.cpp, wavtokenizer-dec.cpp).
var otherEmbedding = map[string]bool{"eagle3": true, "dflash": true, "wavtokenizer-dec": true}

// Architectures whose output projection has its own width (n_vocab_out in
// src/models/qwen3vl.cpp).
var otherOutput = map[string]bool{"qwen3vl": true, "qwen3vlmoe": true}

// Architectures whose experts work in a latent width instead of n_embd
// (src/models/nemotron-h.cpp, kimi-k3.cpp).
var latentExperts = map[string]bool{"nemotron_h": true, "nemotron_h_moe": true, "kimi-k3": true, "kimi_k3": true}

// plainAttention are the architectures built like llama (src/models/llama.cpp,
// qwen2.cpp, qwen3.cpp, qwen2moe.cpp, qwen3moe.cpp): Q, K, V and the
// attention output sized by the head counts and head size, feed-forward
// layers by n_ff. Their every dimension is checked.
var plainAttention = map[string]bool{"llama": true, "qwen2": true, "qwen3": true, "qwen2moe": true, "qwen3moe": true}

// CheckShapes checks every tensor's shape against the hyperparameters, as
// llama.cpp's loader does when it creates the model's tensors
// (llama_model_loader::check_tensor_dims, src/llama-model-loader.cpp): a
// dimension of 0, a layer index past block_count (llama.cpp: "wrong number
// of tensors"), and for the tensors every architecture creates alike, the
// dimensions the hyperparameters fix (n_embd, the vocabulary, the expert
// count; and for llama-like architectures the head and feed-forward sizes).
// It returns the first *ShapeError, or nil. A tensor it does not know is
// only checked for empty dimensions and its layer index.
func (f *File) CheckShapes() error {
	h := f.HParams()
	nEmbd := h.EmbeddingLength
	nVocab := uint64(0)
	if v, ok := f.Metadata.Get("tokenizer.ggml.tokens"); ok {
		if a, ok := v.Array(); ok {
			nVocab = uint64(a.Len()) // llama.cpp's n_vocab is vocab.n_tokens()
		}
	}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		for _, d := range t.Shape {
			if d == 0 {
				return &ShapeError{t.Name, t.Shape, "no dimension of 0"}
			}
		}
		if t.Layer >= 0 && h.BlockCount > 0 && t.Layer >= h.BlockCount {
			return &ShapeError{t.Name, t.Shape, fmt.Sprintf("a layer below block_count %d (llama.cpp: wrong number of tensors)", h.BlockCount)}
		}
		if nEmbd == 0 {
			continue
		}
		if want := expectedShape(t, &h, nEmbd, nVocab); want != nil && !matchShape(t.Shape, want) {
			return &ShapeError{t.Name, t.Shape, fmtWant(want)}
		}
	}
	return nil
}

// any stands for a dimension the rule does not fix.
const anyDim = ^uint64(0)

func matchShape(got, want []uint64) bool {
	// ggml pads shapes with 1s: [n] and [n 1] are the same tensor.
	for len(got) > len(want) && got[len(got)-1] == 1 {
		got = got[:len(got)-1]
	}
	if len(got) != len(want) {
		return false
	}
	for i, w := range want {
		if w != anyDim && got[i] != w {
			return false
		}
	}
	return true
}

func fmtWant(want []uint64) string {
	parts := make([]string, len(want))
	for i, d := range want {
		if d == anyDim {
			parts[i] = "*"
		} else {
			parts[i] = strconv.FormatUint(d, 10)
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// expectedShape returns the shape llama.cpp creates tensor t with, anyDim
// where the architecture decides, or nil when the tensor has no rule.
func expectedShape(t *Tensor, h *HParams, nEmbd, nVocab uint64) []uint64 {
	arch := h.Architecture
	vocab := nVocab
	if vocab == 0 {
		vocab = anyDim
	}
	name := t.Name
	if t.Layer < 0 {
		if otherEmbedding[arch] {
			return nil
		}
		switch name {
		case "token_embd.weight":
			return []uint64{nEmbd, vocab}
		case "output.weight":
			if otherOutput[arch] {
				return []uint64{nEmbd, anyDim}
			}
			return []uint64{nEmbd, vocab}
		case "output_norm.weight":
			return []uint64{nEmbd}
		}
		return nil
	}
	suffix := strings.TrimPrefix(name, "blk."+strconv.Itoa(t.Layer)+".")
	il := t.Layer
	nExpert := h.ExpertCount
	if nExpert == 0 {
		nExpert = anyDim
	}
	expEmbd := nEmbd
	if latentExperts[arch] {
		expEmbd = anyDim
	}
	// The dimensions every architecture shares (the survey of src/models/*.cpp:
	// norms of n_embd, Q/K/V reading n_embd, outputs writing n_embd).
	q, kv, out, ffIn, ffOut, ffExp := anyDim, anyDim, anyDim, anyDim, anyDim, anyDim
	kvV := anyDim
	if plainAttention[arch] {
		nHead, nHeadKV := h.HeadCount.At(il), h.HeadCountKV.At(il)
		if nHead > 0 && h.KeyLength > 0 {
			q, out = nHead*h.KeyLength, nHead*h.KeyLength
			kv, kvV = nHeadKV*h.KeyLength, nHeadKV*h.ValueLength
		}
		if nff := h.FeedForwardLength.At(il); nff > 0 {
			ffIn, ffOut = nff, nff
		}
		ffExp = h.ExpertFeedForwardLength
		if ffExp == 0 && arch == "llama" {
			ffExp = h.FeedForwardLength.At(il) // Mixtral: the experts use n_ff
		}
		if ffExp == 0 {
			ffExp = anyDim
		}
	}
	switch suffix {
	case "attn_norm.weight", "ffn_norm.weight":
		return []uint64{nEmbd}
	case "attn_q.weight":
		if arch == "eagle3" {
			return nil
		}
		return []uint64{nEmbd, q}
	case "attn_k.weight":
		if arch == "eagle3" {
			return nil
		}
		return []uint64{nEmbd, kv}
	case "attn_v.weight":
		if arch == "eagle3" {
			return nil
		}
		return []uint64{nEmbd, kvV}
	case "attn_output.weight":
		return []uint64{out, nEmbd}
	case "ffn_up.weight", "ffn_gate.weight":
		return []uint64{nEmbd, ffIn}
	case "ffn_down.weight":
		return []uint64{ffOut, nEmbd}
	case "ffn_gate_inp.weight":
		if h.ExpertCount == 0 {
			return nil
		}
		return []uint64{nEmbd, nExpert}
	case "ffn_up_exps.weight", "ffn_gate_exps.weight":
		return []uint64{expEmbd, ffExp, nExpert}
	case "ffn_down_exps.weight":
		return []uint64{ffExp, expEmbd, nExpert}
	}
	return nil
}
