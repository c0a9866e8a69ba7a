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

	// qwen3 / qwen3moe: per-head Q/K norms, head dim 128 independent of n_embd.
	{Spec{ID: "qwen3-0.6b", Source: "Qwen/Qwen3-0.6B config.json", Arch: "qwen3",
		Layers: 28, Embd: 1024, FF: 3072, Heads: 16, HeadsKV: 8, HeadDim: 128, Vocab: 151936, CtxTrain: 40960, Tied: true},
		[]FileType{Q4_K_M, Q8_0, F16}},
	{Spec{ID: "qwen3-1.7b", Source: "Qwen/Qwen3-1.7B config.json", Arch: "qwen3",
		Layers: 28, Embd: 2048, FF: 6144, Heads: 16, HeadsKV: 8, HeadDim: 128, Vocab: 151936, CtxTrain: 40960, Tied: true},
		[]FileType{Q4_K_M, IQ4_XS}},
	{Spec{ID: "qwen3-4b", Source: "Qwen/Qwen3-4B config.json", Arch: "qwen3",
		Layers: 36, Embd: 2560, FF: 9728, Heads: 32, HeadsKV: 8, HeadDim: 128, Vocab: 151936, CtxTrain: 40960, Tied: true},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "qwen3-8b", Source: "Qwen/Qwen3-8B config.json", Arch: "qwen3",
		Layers: 36, Embd: 4096, FF: 12288, Heads: 32, HeadsKV: 8, HeadDim: 128, Vocab: 151936, CtxTrain: 40960},
		[]FileType{Q4_K_M, Q8_0, Q2_K, BF16}},
	{Spec{ID: "qwen3-14b", Source: "Qwen/Qwen3-14B config.json", Arch: "qwen3",
		Layers: 40, Embd: 5120, FF: 17408, Heads: 40, HeadsKV: 8, HeadDim: 128, Vocab: 151936, CtxTrain: 40960},
		[]FileType{Q4_K_M, IQ4_XS}},
	{Spec{ID: "qwen3-32b", Source: "Qwen/Qwen3-32B config.json (GQA 8)", Arch: "qwen3",
		Layers: 64, Embd: 5120, FF: 25600, Heads: 64, HeadsKV: 8, HeadDim: 128, Vocab: 151936, CtxTrain: 40960},
		[]FileType{Q4_K_M}},
	{Spec{ID: "qwen3-30b-a3b", Source: "Qwen/Qwen3-30B-A3B config.json", Arch: "qwen3moe",
		Layers: 48, Embd: 2048, FF: 6144, Heads: 32, HeadsKV: 4, HeadDim: 128, Vocab: 151936, CtxTrain: 40960,
		Experts: 128, ExpertsUsed: 8, ExpertFF: 768},
		[]FileType{Q4_K_M, Q8_0, Q2_K, IQ4_XS}},
	{Spec{ID: "qwen3-coder-30b-a3b", Source: "Qwen/Qwen3-Coder-30B-A3B-Instruct config.json (262144 context)", Arch: "qwen3moe",
		Layers: 48, Embd: 2048, FF: 6144, Heads: 32, HeadsKV: 4, HeadDim: 128, Vocab: 151936, CtxTrain: 262144,
		Experts: 128, ExpertsUsed: 8, ExpertFF: 768},
		[]FileType{Q4_K_M}},
	{Spec{ID: "qwen3-235b-a22b", Source: "Qwen/Qwen3-235B-A22B config.json (GQA 16)", Arch: "qwen3moe",
		Layers: 94, Embd: 4096, FF: 12288, Heads: 64, HeadsKV: 4, HeadDim: 128, Vocab: 151936, CtxTrain: 40960,
		Experts: 128, ExpertsUsed: 8, ExpertFF: 1536},
		[]FileType{Q4_K_M, Q2_K}},

	// qwen2moe: routed experts plus a gated shared expert.
	{Spec{ID: "qwen1.5-moe-a2.7b", Source: "Qwen/Qwen1.5-MoE-A2.7B config.json", Arch: "qwen2moe",
		Layers: 24, Embd: 2048, FF: 5632, Heads: 16, HeadsKV: 16, Vocab: 151936, CtxTrain: 8192,
		Experts: 60, ExpertsUsed: 4, ExpertFF: 1408, SharedFF: 5632},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "qwen2-57b-a14b", Source: "Qwen/Qwen2-57B-A14B config.json", Arch: "qwen2moe",
		Layers: 28, Embd: 3584, FF: 18944, Heads: 28, HeadsKV: 4, Vocab: 151936, CtxTrain: 65536,
		Experts: 64, ExpertsUsed: 8, ExpertFF: 2560, SharedFF: 20480},
		[]FileType{Q4_K_M, IQ4_XS}},

	// gemma2 / gemma3: sliding windows, head dim 256, tied 256k vocabularies.
	{Spec{ID: "gemma-2-2b", Source: "google/gemma-2-2b config.json (window 4096 on every other layer)", Arch: "gemma2",
		Layers: 26, Embd: 2304, FF: 9216, Heads: 8, HeadsKV: 4, HeadDim: 256, Vocab: 256000, CtxTrain: 8192, Tied: true, SWA: 4096},
		[]FileType{Q4_K_M, Q8_0, F16}},
	{Spec{ID: "gemma-2-9b", Source: "google/gemma-2-9b config.json", Arch: "gemma2",
		Layers: 42, Embd: 3584, FF: 14336, Heads: 16, HeadsKV: 8, HeadDim: 256, Vocab: 256000, CtxTrain: 8192, Tied: true, SWA: 4096},
		[]FileType{Q4_K_M, IQ4_XS}},
	{Spec{ID: "gemma-2-27b", Source: "google/gemma-2-27b config.json (head dim 128)", Arch: "gemma2",
		Layers: 46, Embd: 4608, FF: 36864, Heads: 32, HeadsKV: 16, HeadDim: 128, Vocab: 256000, CtxTrain: 8192, Tied: true, SWA: 4096},
		[]FileType{Q4_K_M, Q2_K}},
	{Spec{ID: "gemma-2-9b-nowindow", Source: "variation of gemma-2-9b: a file without the sliding_window key (llama.cpp defaults it to 4096)", Arch: "gemma2",
		Layers: 42, Embd: 3584, FF: 14336, Heads: 16, HeadsKV: 8, HeadDim: 256, Vocab: 256000, CtxTrain: 8192, Tied: true},
		[]FileType{Q8_0}},
	{Spec{ID: "gemma-3-270m", Source: "google/gemma-3-270m config.json (window 512)", Arch: "gemma3",
		Layers: 18, Embd: 640, FF: 2048, Heads: 4, HeadsKV: 1, HeadDim: 256, Vocab: 262144, CtxTrain: 32768, Tied: true, SWA: 512},
		[]FileType{Q8_0, F16}},
	{Spec{ID: "gemma-3-1b", Source: "google/gemma-3-1b-pt config.json (window 512)", Arch: "gemma3",
		Layers: 26, Embd: 1152, FF: 6912, Heads: 4, HeadsKV: 1, HeadDim: 256, Vocab: 262144, CtxTrain: 32768, Tied: true, SWA: 512},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "gemma-3-4b", Source: "google/gemma-3-4b-pt text config (window 1024)", Arch: "gemma3",
		Layers: 34, Embd: 2560, FF: 10240, Heads: 8, HeadsKV: 4, HeadDim: 256, Vocab: 262208, CtxTrain: 131072, Tied: true, SWA: 1024},
		[]FileType{Q4_K_M, Q8_0, BF16}},
	{Spec{ID: "gemma-3-12b", Source: "google/gemma-3-12b-pt text config", Arch: "gemma3",
		Layers: 48, Embd: 3840, FF: 15360, Heads: 16, HeadsKV: 8, HeadDim: 256, Vocab: 262208, CtxTrain: 131072, Tied: true, SWA: 1024},
		[]FileType{Q4_K_M, IQ4_XS}},
	{Spec{ID: "gemma-3-27b", Source: "google/gemma-3-27b-pt text config (head dim 128)", Arch: "gemma3",
		Layers: 62, Embd: 5376, FF: 21504, Heads: 32, HeadsKV: 16, HeadDim: 128, Vocab: 262208, CtxTrain: 131072, Tied: true, SWA: 1024},
		[]FileType{Q4_K_M, Q2_K}},

	// phi3: the converter writes sliding_window, llama.cpp ignores it.
	{Spec{ID: "phi-3-mini-4k", Source: "microsoft/Phi-3-mini-4k-instruct config.json (sliding_window 2047, ignored by llama.cpp)", Arch: "phi3",
		Layers: 32, Embd: 3072, FF: 8192, Heads: 32, HeadsKV: 32, Vocab: 32064, CtxTrain: 4096, SWA: 2047},
		[]FileType{Q4_K_M, Q8_0, F16}},
	{Spec{ID: "phi-3.5-mini", Source: "microsoft/Phi-3.5-mini-instruct config.json (LongRoPE factors, sliding_window 262144)", Arch: "phi3",
		Layers: 32, Embd: 3072, FF: 8192, Heads: 32, HeadsKV: 32, Vocab: 32064, CtxTrain: 131072, SWA: 262144, RopeFreqs: true},
		[]FileType{Q4_K_M, IQ4_XS}},
	{Spec{ID: "phi-3-medium-4k", Source: "microsoft/Phi-3-medium-4k-instruct config.json (GQA 4, sliding_window 2047)", Arch: "phi3",
		Layers: 40, Embd: 5120, FF: 17920, Heads: 40, HeadsKV: 10, Vocab: 32064, CtxTrain: 4096, SWA: 2047},
		[]FileType{Q4_K_M, Q2_K}},
	{Spec{ID: "phi-4", Source: "microsoft/phi-4 config.json (no window: the converter writes 0)", Arch: "phi3",
		Layers: 40, Embd: 5120, FF: 17920, Heads: 40, HeadsKV: 10, Vocab: 100352, CtxTrain: 16384},
		[]FileType{Q4_K_M, Q8_0}},

	// deepseek2: MLA (one latent KV head), leading dense layers, shared experts.
	{Spec{ID: "deepseek-v2-lite", Source: "deepseek-ai/DeepSeek-V2-Lite config.json (no q_lora, softmax gating)", Arch: "deepseek2",
		Layers: 27, Embd: 2048, FF: 10944, Heads: 16, HeadsKV: 1, HeadDim: 576, HeadDimV: 512, Vocab: 102400, CtxTrain: 163840,
		KVLora: 512, QKNope: 128, QKRope: 64, VHead: 128, Experts: 64, ExpertsUsed: 6, ExpertFF: 1408, SharedExperts: 2, LeadingDense: 1},
		[]FileType{Q4_K_M, Q8_0, IQ4_XS}},
	{Spec{ID: "moonlight-16b-a3b", Source: "moonshotai/Moonlight-16B-A3B config.json (DeepSeek-V3 layout, sigmoid gating, 163840 vocab)", Arch: "deepseek2",
		Layers: 27, Embd: 2048, FF: 11264, Heads: 16, HeadsKV: 1, HeadDim: 576, HeadDimV: 512, Vocab: 163840, CtxTrain: 8192,
		KVLora: 512, QKNope: 128, QKRope: 64, VHead: 128, Experts: 64, ExpertsUsed: 6, ExpertFF: 1408, SharedExperts: 2, LeadingDense: 1,
	},
		[]FileType{Q4_K_M}},
	{Spec{ID: "deepseek-v2", Source: "deepseek-ai/DeepSeek-V2 config.json", Arch: "deepseek2",
		Layers: 60, Embd: 5120, FF: 12288, Heads: 128, HeadsKV: 1, HeadDim: 576, HeadDimV: 512, Vocab: 102400, CtxTrain: 163840,
		QLora: 1536, KVLora: 512, QKNope: 128, QKRope: 64, VHead: 128, Experts: 160, ExpertsUsed: 6, ExpertFF: 1536, SharedExperts: 2,
		LeadingDense: 1, ExpertGroups: 8, GroupsUsed: 3},
		[]FileType{Q2_K}},
	{Spec{ID: "deepseek-v3", Source: "deepseek-ai/DeepSeek-V3 config.json (sigmoid gating, MTP layer not converted)", Arch: "deepseek2",
		Layers: 61, Embd: 7168, FF: 18432, Heads: 128, HeadsKV: 1, HeadDim: 576, HeadDimV: 512, Vocab: 129280, CtxTrain: 163840,
		QLora: 1536, KVLora: 512, QKNope: 128, QKRope: 64, VHead: 128, Experts: 256, ExpertsUsed: 8, ExpertFF: 2048, SharedExperts: 1,
		LeadingDense: 3, ExpertGroups: 8, GroupsUsed: 4},
		[]FileType{Q4_K_M, Q2_K, IQ4_XS}},

	{Spec{ID: "deepseek-v2-lite-legacy", Source: "deepseek-ai/DeepSeek-V2-Lite as converted before MLA-aware conversion (attn_kv_b, per-head lengths)", Arch: "deepseek2",
		Layers: 27, Embd: 2048, FF: 10944, Heads: 16, HeadsKV: 16, HeadDim: 192, HeadDimV: 128, Vocab: 102400, CtxTrain: 163840,
		KVLora: 512, QKNope: 128, QKRope: 64, VHead: 128, Experts: 64, ExpertsUsed: 6, ExpertFF: 1408, SharedExperts: 2, LeadingDense: 1, LegacyMLA: true},
		[]FileType{Q4_K_M}},
	{Spec{ID: "deepseek-v3-legacy", Source: "deepseek-ai/DeepSeek-V3 as converted before MLA-aware conversion (attn_kv_b, per-head lengths)", Arch: "deepseek2",
		Layers: 61, Embd: 7168, FF: 18432, Heads: 128, HeadsKV: 128, HeadDim: 192, HeadDimV: 128, Vocab: 129280, CtxTrain: 163840,
		QLora: 1536, KVLora: 512, QKNope: 128, QKRope: 64, VHead: 128, Experts: 256, ExpertsUsed: 8, ExpertFF: 2048, SharedExperts: 1,
		LeadingDense: 3, ExpertGroups: 8, GroupsUsed: 4, LegacyMLA: true},
		[]FileType{Q2_K}},

	{Spec{ID: "kimi-k2", Source: "moonshotai/Kimi-K2-Instruct config.json (DeepSeek-V3 layout: 384 experts, 64 heads, 163840 vocabulary, sigmoid gating)", Arch: "deepseek2",
		Layers: 61, Embd: 7168, FF: 18432, Heads: 64, HeadsKV: 1, HeadDim: 576, HeadDimV: 512, Vocab: 163840, CtxTrain: 131072,
		QLora: 1536, KVLora: 512, QKNope: 128, QKRope: 64, VHead: 128, Experts: 384, ExpertsUsed: 8, ExpertFF: 2048, SharedExperts: 1,
		LeadingDense: 1},
		[]FileType{Q2_K}},
	{Spec{ID: "glm-4.7-flash", Source: "variation after zai-org/GLM-4.7-Flash (DeepSeek MLA layout, sigmoid gating, MTP layer kept by the converter)", Arch: "deepseek2",
		Layers: 47, NextN: 1, Embd: 2048, FF: 10240, Heads: 20, HeadsKV: 1, HeadDim: 576, HeadDimV: 512, Vocab: 154880, CtxTrain: 202752,
		QLora: 768, KVLora: 512, QKNope: 192, QKRope: 64, VHead: 256, Experts: 64, ExpertsUsed: 4, ExpertFF: 1536, SharedExperts: 1,
		LeadingDense: 1},
		[]FileType{Q4_K_M, Q8_0}},

	// gpt-oss: MXFP4 experts, window 128 on every other layer, attention sinks.
	{Spec{ID: "gpt-oss-20b", Source: "openai/gpt-oss-20b config.json", Arch: "gpt-oss",
		Layers: 24, Embd: 2880, FF: 2880, Heads: 64, HeadsKV: 8, HeadDim: 64, Vocab: 201088, CtxTrain: 131072, SWA: 128,
		Experts: 32, ExpertsUsed: 4, ExpertFF: 2880},
		[]FileType{MXFP4MoE, Q8_0}},
	{Spec{ID: "gpt-oss-120b", Source: "openai/gpt-oss-120b config.json", Arch: "gpt-oss",
		Layers: 36, Embd: 2880, FF: 2880, Heads: 64, HeadsKV: 8, HeadDim: 64, Vocab: 201088, CtxTrain: 131072, SWA: 128,
		Experts: 128, ExpertsUsed: 4, ExpertFF: 2880},
		[]FileType{MXFP4MoE}},

	// granite / granitemoe / granitehybrid.
	{Spec{ID: "granite-3.1-2b", Source: "ibm-granite/granite-3.1-2b-base config.json", Arch: "granite",
		Layers: 40, Embd: 2048, FF: 8192, Heads: 32, HeadsKV: 8, Vocab: 49155, CtxTrain: 131072, Tied: true},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "granite-3.1-8b", Source: "ibm-granite/granite-3.1-8b-base config.json", Arch: "granite",
		Layers: 40, Embd: 4096, FF: 12800, Heads: 32, HeadsKV: 8, Vocab: 49155, CtxTrain: 131072, Tied: true},
		[]FileType{Q4_K_M, IQ4_XS}},
	{Spec{ID: "granite-3.1-1b-a400m", Source: "ibm-granite/granite-3.1-1b-a400m-base config.json", Arch: "granitemoe",
		Layers: 24, Embd: 1024, FF: 512, Heads: 16, HeadsKV: 8, Vocab: 49155, CtxTrain: 131072, Tied: true, Experts: 32, ExpertsUsed: 8},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "granite-3.1-3b-a800m", Source: "ibm-granite/granite-3.1-3b-a800m-base config.json", Arch: "granitemoe",
		Layers: 32, Embd: 1536, FF: 512, Heads: 24, HeadsKV: 8, Vocab: 49155, CtxTrain: 131072, Tied: true, Experts: 40, ExpertsUsed: 8},
		[]FileType{Q4_K_M}},
	{Spec{ID: "granite-4.0-h-tiny", Source: "variation of ibm-granite/granite-4.0-h-tiny: 40 layers, attention at 5, 15, 25, 35, Mamba-2 elsewhere, 64 experts top 6 + shared", Arch: "granitehybrid",
		Layers: 40, Embd: 1536, FF: 512, Heads: 12, HeadsKV: 4, HeadsKVArr: every(40, 10, 5, 4), Vocab: 100352, CtxTrain: 131072, Tied: true,
		Experts: 64, ExpertsUsed: 6, SharedFF: 1024, SSMConv: 4, SSMInner: 3072, SSMState: 128, SSMGroups: 1, SSMHeads: 48},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "granite-4.0-h-micro", Source: "variation of ibm-granite/granite-4.0-h-micro: dense hybrid, attention every 8th layer", Arch: "granitehybrid",
		Layers: 32, Embd: 2048, FF: 8192, Heads: 16, HeadsKV: 4, HeadsKVArr: every(32, 8, 7, 4), Vocab: 100352, CtxTrain: 131072, Tied: true,
		SSMConv: 4, SSMInner: 4096, SSMState: 128, SSMGroups: 1, SSMHeads: 64},
		[]FileType{Q4_K_M, BF16}},

	// command-r / cohere2: tied output, layer norms; cohere2 windows 3 of 4 layers.
	{Spec{ID: "command-r-v01", Source: "CohereForAI/c4ai-command-r-v01 config.json (no GQA)", Arch: "command-r",
		Layers: 40, Embd: 8192, FF: 22528, Heads: 64, HeadsKV: 64, Vocab: 256000, CtxTrain: 131072, Tied: true},
		[]FileType{Q4_K_M}},
	{Spec{ID: "command-r-08-2024", Source: "CohereForAI/c4ai-command-r-08-2024 config.json", Arch: "command-r",
		Layers: 40, Embd: 8192, FF: 24576, Heads: 64, HeadsKV: 8, Vocab: 256000, CtxTrain: 131072, Tied: true},
		[]FileType{Q4_K_M, IQ4_XS}},
	{Spec{ID: "command-r-plus", Source: "CohereForAI/c4ai-command-r-plus config.json (64 layers: Q/K norms)", Arch: "command-r",
		Layers: 64, Embd: 12288, FF: 33792, Heads: 96, HeadsKV: 8, Vocab: 256000, CtxTrain: 131072, Tied: true},
		[]FileType{Q2_K}},
	{Spec{ID: "command-r7b", Source: "CohereForAI/c4ai-command-r7b-12-2024 config.json (window 4096, pattern 4)", Arch: "cohere2",
		Layers: 32, Embd: 4096, FF: 14336, Heads: 32, HeadsKV: 8, Vocab: 256000, CtxTrain: 131072, Tied: true, SWA: 4096},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "command-a", Source: "CohereForAI/c4ai-command-a-03-2025 config.json", Arch: "cohere2",
		Layers: 64, Embd: 12288, FF: 36864, Heads: 96, HeadsKV: 8, Vocab: 256000, CtxTrain: 262144, Tied: true, SWA: 4096},
		[]FileType{Q4_K_M}},

	// olmo2.
	{Spec{ID: "olmo-2-1b", Source: "allenai/OLMo-2-0425-1B config.json", Arch: "olmo2",
		Layers: 16, Embd: 2048, FF: 8192, Heads: 16, HeadsKV: 16, Vocab: 100352, CtxTrain: 4096},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "olmo-2-7b", Source: "allenai/OLMo-2-1124-7B config.json", Arch: "olmo2",
		Layers: 32, Embd: 4096, FF: 11008, Heads: 32, HeadsKV: 32, Vocab: 100352, CtxTrain: 4096},
		[]FileType{Q4_K_M, F16}},
	{Spec{ID: "olmo-2-13b", Source: "allenai/OLMo-2-1124-13B config.json", Arch: "olmo2",
		Layers: 40, Embd: 5120, FF: 13824, Heads: 40, HeadsKV: 40, Vocab: 100352, CtxTrain: 4096},
		[]FileType{Q4_K_M}},
	{Spec{ID: "olmo-2-32b", Source: "allenai/OLMo-2-0325-32B config.json (GQA 5)", Arch: "olmo2",
		Layers: 64, Embd: 5120, FF: 27648, Heads: 40, HeadsKV: 8, Vocab: 100352, CtxTrain: 4096},
		[]FileType{Q4_K_M, IQ4_XS}},

	// glm4 / glm4moe: partial rotary (64 of 128), fused gate+up in GLM-4, MTP layer in GLM-4.5.
	{Spec{ID: "glm-4-9b-0414", Source: "THUDM/GLM-4-9B-0414 config.json (GQA 16)", Arch: "glm4",
		Layers: 40, Embd: 4096, FF: 13696, Heads: 32, HeadsKV: 2, HeadDim: 128, RopeDim: 64, Vocab: 151552, CtxTrain: 32768},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "glm-4-32b-0414", Source: "THUDM/GLM-4-32B-0414 config.json", Arch: "glm4",
		Layers: 61, Embd: 6144, FF: 23040, Heads: 48, HeadsKV: 8, HeadDim: 128, RopeDim: 64, Vocab: 151552, CtxTrain: 32768},
		[]FileType{Q4_K_M, IQ4_XS}},
	{Spec{ID: "glm-4.5-air", Source: "zai-org/GLM-4.5-Air config.json (46 layers + 1 MTP layer)", Arch: "glm4moe",
		Layers: 46, NextN: 1, Embd: 4096, FF: 10944, Heads: 96, HeadsKV: 8, HeadDim: 128, RopeDim: 64, Vocab: 151552, CtxTrain: 131072,
		Experts: 128, ExpertsUsed: 8, ExpertFF: 1408, SharedExperts: 1, LeadingDense: 1},
		[]FileType{Q4_K_M, Q2_K}},
	{Spec{ID: "glm-4.5", Source: "zai-org/GLM-4.5 config.json (92 layers + 1 MTP layer, qk_norm)", Arch: "glm4moe",
		Layers: 92, NextN: 1, Embd: 5120, FF: 12288, Heads: 96, HeadsKV: 8, HeadDim: 128, RopeDim: 64, Vocab: 151552, CtxTrain: 131072,
		Experts: 160, ExpertsUsed: 8, ExpertFF: 1536, SharedExperts: 1, LeadingDense: 3},
		[]FileType{IQ4_XS}},

	// nemotron_h: Mamba-2, attention and MLP layers.
	{Spec{ID: "nemotron-h-8b", Source: "variation of nvidia/Nemotron-H-8B-Base-8K: 52 layers alternating Mamba-2 / MLP, attention every 8th", Arch: "nemotron_h",
		Layers: 52, Embd: 4096, FFArr: nemotronFF(52, 21504), Heads: 32, HeadsKV: 8, HeadsKVArr: nemotronKV(52, 8), Vocab: 131072, CtxTrain: 8192,
		SSMConv: 4, SSMInner: 8192, SSMState: 128, SSMGroups: 8, SSMHeads: 128},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "nemotron-nano-9b-v2", Source: "variation of nvidia/NVIDIA-Nemotron-Nano-9B-v2: 56 layers, n_embd 4480, head dim 128", Arch: "nemotron_h",
		Layers: 56, Embd: 4480, FFArr: nemotronFF(56, 15680), Heads: 40, HeadsKV: 8, HeadDim: 128, HeadsKVArr: nemotronKV(56, 8), Vocab: 131072, CtxTrain: 131072,
		SSMConv: 4, SSMInner: 7680, SSMState: 128, SSMGroups: 8, SSMHeads: 120},
		[]FileType{Q4_K_M, IQ4_XS}},

	// starcoder2: layer norms and biases.
	{Spec{ID: "starcoder2-3b", Source: "bigcode/starcoder2-3b config.json (tied)", Arch: "starcoder2",
		Layers: 30, Embd: 3072, FF: 12288, Heads: 24, HeadsKV: 2, Vocab: 49152, CtxTrain: 16384, Tied: true},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "starcoder2-7b", Source: "bigcode/starcoder2-7b config.json", Arch: "starcoder2",
		Layers: 32, Embd: 4608, FF: 18432, Heads: 36, HeadsKV: 4, Vocab: 49152, CtxTrain: 16384},
		[]FileType{Q4_K_M}},
	{Spec{ID: "starcoder2-15b", Source: "bigcode/starcoder2-15b config.json", Arch: "starcoder2",
		Layers: 40, Embd: 6144, FF: 24576, Heads: 48, HeadsKV: 4, Vocab: 49152, CtxTrain: 16384},
		[]FileType{Q4_K_M, Q2_K}},

	// minicpm, exaone, smollm3: llama-shaped with their own architecture names.
	{Spec{ID: "minicpm-2b", Source: "openbmb/MiniCPM-2B-sft-bf16 config.json (odd vocabulary 122753)", Arch: "minicpm",
		Layers: 40, Embd: 2304, FF: 5760, Heads: 36, HeadsKV: 36, Vocab: 122753, CtxTrain: 4096, Tied: true},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "minicpm-1b", Source: "openbmb/MiniCPM-1B-sft-bf16 config.json", Arch: "minicpm",
		Layers: 52, Embd: 1536, FF: 3840, Heads: 24, HeadsKV: 8, Vocab: 73440, CtxTrain: 4096, Tied: true},
		[]FileType{Q4_K_M}},
	{Spec{ID: "exaone-3.5-2.4b", Source: "LGAI-EXAONE/EXAONE-3.5-2.4B-Instruct config.json (tied)", Arch: "exaone",
		Layers: 30, Embd: 2560, FF: 7168, Heads: 32, HeadsKV: 8, Vocab: 102400, CtxTrain: 32768, Tied: true},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "exaone-3.5-7.8b", Source: "LGAI-EXAONE/EXAONE-3.5-7.8B-Instruct config.json", Arch: "exaone",
		Layers: 32, Embd: 4096, FF: 14336, Heads: 32, HeadsKV: 8, Vocab: 102400, CtxTrain: 32768},
		[]FileType{Q4_K_M, IQ4_XS}},
	{Spec{ID: "exaone-3.5-32b", Source: "LGAI-EXAONE/EXAONE-3.5-32B-Instruct config.json", Arch: "exaone",
		Layers: 64, Embd: 5120, FF: 27392, Heads: 40, HeadsKV: 8, Vocab: 102400, CtxTrain: 32768},
		[]FileType{Q4_K_M}},
	{Spec{ID: "smollm3-3b", Source: "HuggingFaceTB/SmolLM3-3B config.json", Arch: "smollm3",
		Layers: 36, Embd: 2048, FF: 11008, Heads: 16, HeadsKV: 4, Vocab: 128256, CtxTrain: 65536, Tied: true},
		[]FileType{Q4_K_M, Q8_0, F16}},
	{Spec{ID: "smollm2-1.7b", Source: "HuggingFaceTB/SmolLM2-1.7B config.json (llama architecture)", Arch: "llama",
		Layers: 24, Embd: 2048, FF: 8192, Heads: 32, HeadsKV: 32, Vocab: 49152, CtxTrain: 8192, Tied: true},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "smollm2-135m", Source: "HuggingFaceTB/SmolLM2-135M config.json (n_embd 576: k-quant rows fall back)", Arch: "llama",
		Layers: 30, Embd: 576, FF: 1536, Heads: 9, HeadsKV: 3, Vocab: 49152, CtxTrain: 8192, Tied: true},
		[]FileType{Q4_K_M, Q8_0, F16}},

	// lfm2: short-convolution layers with attention at fixed positions.
	{Spec{ID: "lfm2-350m", Source: "LiquidAI/LFM2-350M config.json (attention at layers 2, 5, 8, 10, 12, 14)", Arch: "lfm2",
		Layers: 16, Embd: 1024, FF: 4608, Heads: 16, HeadsKV: 8, HeadsKVArr: lfm2KV(8), Vocab: 65536, CtxTrain: 128000, Tied: true},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "lfm2-700m", Source: "LiquidAI/LFM2-700M config.json", Arch: "lfm2",
		Layers: 16, Embd: 1536, FF: 6912, Heads: 24, HeadsKV: 8, HeadsKVArr: lfm2KV(8), Vocab: 65536, CtxTrain: 128000, Tied: true},
		[]FileType{Q4_K_M}},
	{Spec{ID: "lfm2-1.2b", Source: "LiquidAI/LFM2-1.2B config.json", Arch: "lfm2",
		Layers: 16, Embd: 2048, FF: 8192, Heads: 32, HeadsKV: 8, HeadsKVArr: lfm2KV(8), Vocab: 65536, CtxTrain: 128000, Tied: true},
		[]FileType{Q4_K_M, Q8_0, F16}},

	// llama4: chunked attention (8192) on 3 of 4 layers, MoE with a shared expert.
	{Spec{ID: "llama-4-scout", Source: "meta-llama/Llama-4-Scout-17B-16E text config (MoE every layer)", Arch: "llama4",
		Layers: 48, Embd: 5120, FF: 16384, Heads: 40, HeadsKV: 8, HeadDim: 128, Vocab: 202048, CtxTrain: 10485760,
		Experts: 16, ExpertsUsed: 1, ExpertFF: 8192, SWAPattern: 1},
		[]FileType{Q4_K_M, Q2_K}},
	{Spec{ID: "llama-4-maverick", Source: "meta-llama/Llama-4-Maverick-17B-128E text config (MoE every other layer)", Arch: "llama4",
		Layers: 48, Embd: 5120, FF: 16384, Heads: 40, HeadsKV: 8, HeadDim: 128, Vocab: 202048, CtxTrain: 1048576,
		Experts: 128, ExpertsUsed: 1, ExpertFF: 8192, SWAPattern: 2},
		[]FileType{IQ4_XS}},

	// mamba2: recurrent state only, no KV cache.
	{Spec{ID: "mamba-codestral-7b", Source: "mistralai/Mamba-Codestral-7B-v0.1 config.json (8 groups, 128 heads of 64)", Arch: "mamba2",
		Layers: 64, Embd: 4096, Vocab: 32768, CtxTrain: 1 << 20, SSMConv: 4, SSMInner: 8192, SSMState: 128, SSMGroups: 8, SSMHeads: 128},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "mamba2-2.7b", Source: "state-spaces/mamba2-2.7b config.json (tied, vocabulary padded to 50288)", Arch: "mamba2",
		Layers: 64, Embd: 2560, Vocab: 50288, CtxTrain: 1 << 20, Tied: true, SSMConv: 4, SSMInner: 5120, SSMState: 128, SSMGroups: 1, SSMHeads: 80},
		[]FileType{Q8_0, F16}},

	// mistral3: Ministral 3, llama-shaped.
	{Spec{ID: "ministral-3-8b", Source: "variation after Ministral 3 8B (mistral3 architecture, 256k context)", Arch: "mistral3",
		Layers: 34, Embd: 4096, FF: 14336, Heads: 32, HeadsKV: 8, HeadDim: 128, Vocab: 131072, CtxTrain: 262144},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "ministral-3-3b", Source: "variation after Ministral 3 3B (tied embeddings)", Arch: "mistral3",
		Layers: 26, Embd: 3072, FF: 9216, Heads: 32, HeadsKV: 8, HeadDim: 128, Vocab: 131072, CtxTrain: 262144, Tied: true},
		[]FileType{Q4_K_M}},

	// jamba: Mamba-1 / attention hybrid with experts every other layer.
	{Spec{ID: "jamba-mini-1.7", Source: "ai21labs/AI21-Jamba-Mini-1.7 config.json (attention at layers 4, 12, 20, 28; 16 experts top 2 on odd layers)", Arch: "jamba",
		Layers: 32, Embd: 4096, FF: 14336, Heads: 32, HeadsKV: 8, HeadsKVArr: every(32, 8, 4, 8), Vocab: 65536, CtxTrain: 262144,
		Experts: 16, ExpertsUsed: 2, SSMConv: 4, SSMInner: 8192, SSMState: 16, SSMHeads: 256},
		[]FileType{Q4_K_M, Q8_0}},

	// qwen3next / qwen35 / qwen35moe: gated DeltaNet layers with a recurrent
	// state, gated attention every 4th layer, one MTP layer.
	{Spec{ID: "qwen3-next-80b-a3b", Source: "Qwen/Qwen3-Next-80B-A3B-Instruct config.json (512 experts top 10 + shared, MTP layer)", Arch: "qwen3next",
		Layers: 48, NextN: 1, Embd: 2048, FF: 5120, Heads: 16, HeadsKV: 2, HeadDim: 256, RopeDim: 64, Vocab: 151936, CtxTrain: 262144,
		Experts: 512, ExpertsUsed: 10, ExpertFF: 512, SharedFF: 512, SSMConv: 4, SSMInner: 4096, SSMState: 128, SSMGroups: 16, SSMHeads: 32},
		[]FileType{Q4_K_M, Q2_K}},
	{Spec{ID: "qwen3.5-35b-a3b", Source: "variation after Qwen3.5-35B-A3B: Qwen3-Next's linear attention, 40 layers, 256 experts top 8, 248320 vocabulary", Arch: "qwen35moe",
		Layers: 40, NextN: 1, Embd: 2048, FF: 5120, Heads: 16, HeadsKV: 2, HeadDim: 256, RopeDim: 64, Vocab: 248320, CtxTrain: 262144,
		Experts: 256, ExpertsUsed: 8, ExpertFF: 512, SharedFF: 512, SSMConv: 4, SSMInner: 4096, SSMState: 128, SSMGroups: 16, SSMHeads: 32},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "qwen3.5-9b", Source: "variation after Qwen3.5-9B: dense gated-DeltaNet hybrid, 32 layers, GQA 4", Arch: "qwen35",
		Layers: 32, NextN: 1, Embd: 4096, FF: 12288, Heads: 16, HeadsKV: 4, HeadDim: 256, RopeDim: 64, Vocab: 248320, CtxTrain: 262144,
		SSMConv: 4, SSMInner: 4096, SSMState: 128, SSMGroups: 16, SSMHeads: 32},
		[]FileType{Q4_K_M, IQ4_XS}},

	// gemma4: per-layer head sizes and KV heads, KV shared by the last layers.
	{Spec{ID: "gemma-3n-e4b", Source: "google/gemma-3n-E4B text config (35 layers, window 512, 262400 vocabulary)", Arch: "gemma3n",
		Layers: 35, Embd: 2048, FF: 16384, Heads: 8, HeadsKV: 2, HeadDim: 256, Vocab: 262400, CtxTrain: 32768, Tied: true, SWA: 512},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "gemma-3n-e2b", Source: "google/gemma-3n-E2B text config (30 layers)", Arch: "gemma3n",
		Layers: 30, Embd: 2048, FF: 8192, Heads: 8, HeadsKV: 2, HeadDim: 256, Vocab: 262400, CtxTrain: 32768, Tied: true, SWA: 512},
		[]FileType{Q4_K_M}},
	{Spec{ID: "gemma-4-31b", Source: "variation after Gemma 4 31B (dimensions not checked against the release): window 1024 on 5 of 6 layers, heads of 256 (window, 16 KV) and 512 (full, 4 KV)", Arch: "gemma4",
		Layers: 60, Embd: 5376, FF: 21504, Heads: 32, HeadsKV: 16, HeadsKVArr: swaKV(60, 6, 16, 4), HeadDim: 512, HeadDimSWA: 256, Vocab: 262144, CtxTrain: 262144,
		Tied: true, SWA: 1024, SWAPattern: 6},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "gemma-4-e2b", Source: "variation after Gemma 4 E2B (dimensions not checked against the release): per-layer embeddings of 256, the last 15 layers reuse the caches of layers 18 (window) and 19 (full) and have doubled MLPs", Arch: "gemma4",
		Layers: 35, Embd: 1536, FFArr: doubleLast(35, 15, 6144), Heads: 8, HeadsKV: 1, HeadDim: 512, HeadDimSWA: 256, Vocab: 262144, CtxTrain: 131072,
		Tied: true, SWA: 512, SWAPattern: 5, SharedKV: 15, EmbdPerLayer: 256},
		[]FileType{Q4_K_M, Q8_0}},
}

// swaKV gives sliding-window layers (il%period < period-1) swa KV heads and
// the others full.
func swaKV(n, period, swa, full int) []int {
	out := make([]int, n)
	for il := range out {
		out[il] = full
		if il%period < period-1 {
			out[il] = swa
		}
	}
	return out
}

// doubleLast is a per-layer feed-forward width, doubled on the last k layers.
func doubleLast(n, k, ff int) []int {
	out := make([]int, n)
	for il := range out {
		out[il] = ff
		if il >= n-k {
			out[il] = 2 * ff
		}
	}
	return out
}

// every returns a per-layer head_count_kv: kv on layers il%period == at,
// 0 (a recurrent layer) elsewhere.
func every(n, period, at, kv int) []int {
	out := make([]int, n)
	for il := range out {
		if il%period == at {
			out[il] = kv
		}
	}
	return out
}

// nemotronKV and nemotronFF lay out Nemotron-H's layers: odd layers MLP,
// every 8th even layer (il%8 == 6) attention, the other even layers Mamba-2.
func nemotronKV(n, kv int) []int {
	out := make([]int, n)
	for il := range out {
		if il%2 == 0 && il%8 == 6 {
			out[il] = kv
		}
	}
	return out
}

func nemotronFF(n, ff int) []int {
	out := make([]int, n)
	for il := range out {
		if il%2 == 1 {
			out[il] = ff
		}
	}
	return out
}

// lfm2KV is LFM2's layer pattern: attention at layers 2, 5, 8, 10, 12, 14.
func lfm2KV(kv int) []int {
	out := make([]int, 16)
	for _, il := range []int{2, 5, 8, 10, 12, 14} {
		out[il] = kv
	}
	return out
}
