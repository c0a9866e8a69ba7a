package layouts

import (
	"fmt"
	"strings"
)

// Zoo returns every layout of the ground truth, in a fixed order: each
// base model (real released dimensions where the source says so, else a
// stated variation) in several file types.
func Zoo() []*Spec {
	var out []*Spec
	seen := map[string]bool{}
	for _, m := range models {
		for _, t := range m.types {
			s := m.spec
			s.Type = t
			s.ID = strings.ToLower(fmt.Sprintf("%s-%s", m.spec.ID, t))
			if seen[s.ID] {
				panic("layouts: duplicate layout " + s.ID)
			}
			seen[s.ID] = true
			out = append(out, &s)
		}
	}
	return out
}

// ByID returns the zoo layout with the given id.
func ByID(id string) (*Spec, bool) {
	for _, s := range Zoo() {
		if s.ID == id {
			return s, true
		}
	}
	return nil, false
}

// model is a base layout and the file types the zoo writes it in.
type model struct {
	spec  Spec
	types []FileType
}

var models = []model{
	// llama: Llama-2/3/3.1/3.2, Mistral, Mixtral, TinyLlama.
	{Spec{ID: "llama-2-7b", Source: "meta-llama/Llama-2-7b-hf config.json", Arch: "llama",
		Layers: 32, Embd: 4096, FF: 11008, Heads: 32, HeadsKV: 32, Vocab: 32000, CtxTrain: 4096},
		[]FileType{Q4_K_M, Q8_0, Q2_K, F16}},
	{Spec{ID: "llama-2-13b", Source: "meta-llama/Llama-2-13b-hf config.json", Arch: "llama",
		Layers: 40, Embd: 5120, FF: 13824, Heads: 40, HeadsKV: 40, Vocab: 32000, CtxTrain: 4096},
		[]FileType{Q4_K_M, IQ4_XS}},
	{Spec{ID: "llama-2-70b", Source: "meta-llama/Llama-2-70b-hf config.json", Arch: "llama",
		Layers: 80, Embd: 8192, FF: 28672, Heads: 64, HeadsKV: 8, Vocab: 32000, CtxTrain: 4096},
		[]FileType{Q4_K_M, Q2_K}},
	{Spec{ID: "llama-3-8b", Source: "meta-llama/Meta-Llama-3-8B config.json", Arch: "llama",
		Layers: 32, Embd: 4096, FF: 14336, Heads: 32, HeadsKV: 8, Vocab: 128256, CtxTrain: 8192},
		[]FileType{Q4_K_M, BF16}},
	{Spec{ID: "llama-3.1-8b", Source: "meta-llama/Llama-3.1-8B config.json (rope_scaling llama3: rope_freqs)", Arch: "llama",
		Layers: 32, Embd: 4096, FF: 14336, Heads: 32, HeadsKV: 8, Vocab: 128256, CtxTrain: 131072, RopeFreqs: true},
		[]FileType{Q4_K_M, Q8_0, IQ4_XS, Q2_K, F16}},
	{Spec{ID: "llama-3.1-70b", Source: "meta-llama/Llama-3.1-70B config.json", Arch: "llama",
		Layers: 80, Embd: 8192, FF: 28672, Heads: 64, HeadsKV: 8, Vocab: 128256, CtxTrain: 131072, RopeFreqs: true},
		[]FileType{Q4_K_M, IQ4_XS}},
	{Spec{ID: "llama-3.2-1b", Source: "meta-llama/Llama-3.2-1B config.json (tied embeddings, head dim 64)", Arch: "llama",
		Layers: 16, Embd: 2048, FF: 8192, Heads: 32, HeadsKV: 8, Vocab: 128256, CtxTrain: 131072, RopeFreqs: true, Tied: true},
		[]FileType{Q4_K_M, Q8_0, F16}},
	{Spec{ID: "llama-3.2-3b", Source: "meta-llama/Llama-3.2-3B config.json (tied embeddings)", Arch: "llama",
		Layers: 28, Embd: 3072, FF: 8192, Heads: 24, HeadsKV: 8, Vocab: 128256, CtxTrain: 131072, RopeFreqs: true, Tied: true},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "tinyllama-1.1b", Source: "TinyLlama/TinyLlama-1.1B-Chat-v1.0 config.json", Arch: "llama",
		Layers: 22, Embd: 2048, FF: 5632, Heads: 32, HeadsKV: 4, Vocab: 32000, CtxTrain: 2048},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "mistral-7b-v0.3", Source: "mistralai/Mistral-7B-v0.3 config.json", Arch: "llama",
		Layers: 32, Embd: 4096, FF: 14336, Heads: 32, HeadsKV: 8, Vocab: 32768, CtxTrain: 32768},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "mistral-nemo-12b", Source: "mistralai/Mistral-Nemo-Base-2407 config.json (head_dim 128 ≠ n_embd/n_head)", Arch: "llama",
		Layers: 40, Embd: 5120, FF: 14336, Heads: 32, HeadsKV: 8, HeadDim: 128, Vocab: 131072, CtxTrain: 1024000},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "mistral-small-24b", Source: "mistralai/Mistral-Small-24B-Base-2501 config.json", Arch: "llama",
		Layers: 40, Embd: 5120, FF: 32768, Heads: 32, HeadsKV: 8, HeadDim: 128, Vocab: 131072, CtxTrain: 32768},
		[]FileType{Q4_K_M, IQ4_XS}},
	{Spec{ID: "mixtral-8x7b", Source: "mistralai/Mixtral-8x7B-v0.1 config.json", Arch: "llama",
		Layers: 32, Embd: 4096, FF: 14336, Heads: 32, HeadsKV: 8, Vocab: 32000, CtxTrain: 32768, Experts: 8, ExpertsUsed: 2},
		[]FileType{Q4_K_M, Q2_K}},
	{Spec{ID: "mixtral-8x22b", Source: "mistralai/Mixtral-8x22B-v0.1 config.json", Arch: "llama",
		Layers: 56, Embd: 6144, FF: 16384, Heads: 48, HeadsKV: 8, Vocab: 32768, CtxTrain: 65536, Experts: 8, ExpertsUsed: 2},
		[]FileType{IQ4_XS}},

	// qwen2: Qwen2.5 (tied embeddings up to 3B; Q/K/V biases).
	{Spec{ID: "qwen2.5-0.5b", Source: "Qwen/Qwen2.5-0.5B config.json (n_embd 896: rows fall back from k-quants)", Arch: "qwen2",
		Layers: 24, Embd: 896, FF: 4864, Heads: 14, HeadsKV: 2, Vocab: 151936, CtxTrain: 32768, Tied: true},
		[]FileType{Q4_K_M, Q8_0, F16}},
	{Spec{ID: "qwen2.5-1.5b", Source: "Qwen/Qwen2.5-1.5B config.json", Arch: "qwen2",
		Layers: 28, Embd: 1536, FF: 8960, Heads: 12, HeadsKV: 2, Vocab: 151936, CtxTrain: 32768, Tied: true},
		[]FileType{Q4_K_M, Q2_K}},
	{Spec{ID: "qwen2.5-3b", Source: "Qwen/Qwen2.5-3B config.json", Arch: "qwen2",
		Layers: 36, Embd: 2048, FF: 11008, Heads: 16, HeadsKV: 2, Vocab: 151936, CtxTrain: 32768, Tied: true},
		[]FileType{Q4_K_M, IQ4_XS}},
	{Spec{ID: "qwen2.5-7b", Source: "Qwen/Qwen2.5-7B config.json", Arch: "qwen2",
		Layers: 28, Embd: 3584, FF: 18944, Heads: 28, HeadsKV: 4, Vocab: 152064, CtxTrain: 131072},
		[]FileType{Q4_K_M, Q8_0, BF16}},
	{Spec{ID: "qwen2.5-14b", Source: "Qwen/Qwen2.5-14B config.json", Arch: "qwen2",
		Layers: 48, Embd: 5120, FF: 13824, Heads: 40, HeadsKV: 8, Vocab: 152064, CtxTrain: 131072},
		[]FileType{Q4_K_M, Q2_K}},
	{Spec{ID: "qwen2.5-32b", Source: "Qwen/Qwen2.5-32B config.json", Arch: "qwen2",
		Layers: 64, Embd: 5120, FF: 27648, Heads: 40, HeadsKV: 8, Vocab: 152064, CtxTrain: 131072},
		[]FileType{Q4_K_M}},
	{Spec{ID: "qwen2.5-72b", Source: "Qwen/Qwen2.5-72B config.json (80 layers: LLM_TYPE_70B in the quantizer)", Arch: "qwen2",
		Layers: 80, Embd: 8192, FF: 29568, Heads: 64, HeadsKV: 8, Vocab: 152064, CtxTrain: 131072},
		[]FileType{Q4_K_M, Q2_K}},
}
