package layouts

func init() { models = append(models, moreModels...) }

// moreModels are the older and less common architectures (families3.go
// and after): real released dimensions, from each model's config.json.
var moreModels = []model{
	// gemma (v1).
	{Spec{ID: "gemma-2b", Source: "google/gemma-2b config.json (multi-query, head dim 256)", Arch: "gemma",
		Layers: 18, Embd: 2048, FF: 16384, Heads: 8, HeadsKV: 1, HeadDim: 256, Vocab: 256000, CtxTrain: 8192, Tied: true},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "gemma-7b", Source: "google/gemma-7b config.json (16 × 256 heads on a 3072 model)", Arch: "gemma",
		Layers: 28, Embd: 3072, FF: 24576, Heads: 16, HeadsKV: 16, HeadDim: 256, Vocab: 256000, CtxTrain: 8192, Tied: true},
		[]FileType{Q4_K_M, F16}},
	// phi2.
	{Spec{ID: "phi-2", Source: "microsoft/phi-2 config.json (partial_rotary_factor 0.4)", Arch: "phi2",
		Layers: 32, Embd: 2560, FF: 10240, Heads: 32, HeadsKV: 32, RopeDim: 32, Vocab: 51200, CtxTrain: 2048},
		[]FileType{Q4_K_M, Q8_0, F16}},
	// falcon.
	{Spec{ID: "falcon-7b", Source: "tiiuae/falcon-7b config.json (71 heads, multi-query, n_embd 4544)", Arch: "falcon",
		Layers: 32, Embd: 4544, FF: 18176, Heads: 71, HeadsKV: 1, Vocab: 65024, CtxTrain: 2048},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "falcon-40b", Source: "tiiuae/falcon-40b config.json (new_decoder_architecture: 8 KV groups, attn_norm_2)", Arch: "falcon",
		Layers: 60, Embd: 8192, FF: 32768, Heads: 128, HeadsKV: 8, Vocab: 65024, CtxTrain: 2048},
		[]FileType{Q4_K_M, Q2_K}},
	// stablelm.
	{Spec{ID: "stablelm-2-1.6b", Source: "stabilityai/stablelm-2-1_6b config.json (use_qkv_bias, partial_rotary_factor 0.25)", Arch: "stablelm",
		Layers: 24, Embd: 2048, FF: 5632, Heads: 32, HeadsKV: 32, RopeDim: 16, Vocab: 100352, CtxTrain: 4096, QKVBias: true},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "stablelm-3b-4e1t", Source: "stabilityai/stablelm-3b-4e1t config.json (partial_rotary_factor 0.25)", Arch: "stablelm",
		Layers: 32, Embd: 2560, FF: 6912, Heads: 32, HeadsKV: 32, RopeDim: 20, Vocab: 50304, CtxTrain: 4096},
		[]FileType{Q4_K_M, F16}},
	// internlm2.
	{Spec{ID: "internlm2-7b", Source: "internlm/internlm2-chat-7b config.json", Arch: "internlm2",
		Layers: 32, Embd: 4096, FF: 14336, Heads: 32, HeadsKV: 8, Vocab: 92544, CtxTrain: 32768},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "internlm2.5-20b", Source: "internlm/internlm2_5-20b-chat config.json", Arch: "internlm2",
		Layers: 48, Embd: 6144, FF: 16384, Heads: 48, HeadsKV: 8, Vocab: 92544, CtxTrain: 32768},
		[]FileType{Q4_K_M, IQ4_XS}},
	// baichuan: 7B with rope, 13B with ALiBi (LLM_TYPE_13B, 40 layers).
	{Spec{ID: "baichuan2-7b", Source: "baichuan-inc/Baichuan2-7B-Chat config.json", Arch: "baichuan",
		Layers: 32, Embd: 4096, FF: 11008, Heads: 32, HeadsKV: 32, Vocab: 125696, CtxTrain: 4096},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "baichuan2-13b", Source: "baichuan-inc/Baichuan2-13B-Chat config.json (ALiBi)", Arch: "baichuan",
		Layers: 40, Embd: 5120, FF: 13696, Heads: 40, HeadsKV: 40, Vocab: 125696, CtxTrain: 4096},
		[]FileType{Q4_K_M, Q2_K}},
	// qwen (v1).
	{Spec{ID: "qwen-1.8b", Source: "Qwen/Qwen-1_8B config.json (intermediate_size 11008 = 2 × the MLP width)", Arch: "qwen",
		Layers: 24, Embd: 2048, FF: 11008, Heads: 16, HeadsKV: 16, Vocab: 151936, CtxTrain: 8192},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "qwen-7b", Source: "Qwen/Qwen-7B config.json", Arch: "qwen",
		Layers: 32, Embd: 4096, FF: 22016, Heads: 32, HeadsKV: 32, Vocab: 151936, CtxTrain: 8192},
		[]FileType{Q4_K_M, F16}},
	// olmo (v1).
	{Spec{ID: "olmo-1b", Source: "allenai/OLMo-1B-hf config.json (tied)", Arch: "olmo",
		Layers: 16, Embd: 2048, FF: 8192, Heads: 16, HeadsKV: 16, Vocab: 50304, CtxTrain: 2048, Tied: true},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "olmo-7b", Source: "allenai/OLMo-7B-hf config.json", Arch: "olmo",
		Layers: 32, Embd: 4096, FF: 11008, Heads: 32, HeadsKV: 32, Vocab: 50304, CtxTrain: 2048},
		[]FileType{Q4_K_M, Q2_K}},
	// mpt.
	{Spec{ID: "mpt-7b", Source: "mosaicml/mpt-7b config.json (ALiBi, no_bias, tied)", Arch: "mpt",
		Layers: 32, Embd: 4096, FF: 16384, Heads: 32, HeadsKV: 32, Vocab: 50432, CtxTrain: 2048, Tied: true},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "mpt-30b", Source: "mosaicml/mpt-30b config.json", Arch: "mpt",
		Layers: 48, Embd: 7168, FF: 28672, Heads: 64, HeadsKV: 64, Vocab: 50432, CtxTrain: 8192, Tied: true},
		[]FileType{Q4_K_M}},
	// gptneox.
	{Spec{ID: "pythia-1.4b", Source: "EleutherAI/pythia-1.4b config.json (rotary_pct 0.25)", Arch: "gptneox",
		Layers: 24, Embd: 2048, FF: 8192, Heads: 16, HeadsKV: 16, RopeDim: 32, Vocab: 50304, CtxTrain: 2048},
		[]FileType{Q4_K_M, F16}},
	{Spec{ID: "pythia-12b", Source: "EleutherAI/pythia-12b config.json (rotary_pct 0.25)", Arch: "gptneox",
		Layers: 36, Embd: 5120, FF: 20480, Heads: 40, HeadsKV: 40, RopeDim: 32, Vocab: 50688, CtxTrain: 2048},
		[]FileType{Q4_K_M, Q8_0}},
	// gpt2.
	{Spec{ID: "gpt2", Source: "openai-community/gpt2 config.json", Arch: "gpt2",
		Layers: 12, Embd: 768, FF: 3072, Heads: 12, HeadsKV: 12, Vocab: 50257, CtxTrain: 1024, Tied: true},
		[]FileType{Q8_0, F16}},
	{Spec{ID: "gpt2-xl", Source: "openai-community/gpt2-xl config.json (25 heads of 64)", Arch: "gpt2",
		Layers: 48, Embd: 1600, FF: 6400, Heads: 25, HeadsKV: 25, Vocab: 50257, CtxTrain: 1024, Tied: true},
		[]FileType{Q4_K_M, Q8_0}},
	// starcoder (v1, GPTBigCode: multi-query).
	{Spec{ID: "starcoderbase-1b", Source: "bigcode/starcoderbase-1b config.json (multi_query)", Arch: "starcoder",
		Layers: 24, Embd: 2048, FF: 8192, Heads: 16, HeadsKV: 1, Vocab: 49152, CtxTrain: 8192, Tied: true},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "starcoder-15b", Source: "bigcode/starcoder config.json (multi_query)", Arch: "starcoder",
		Layers: 40, Embd: 6144, FF: 24576, Heads: 48, HeadsKV: 1, Vocab: 49152, CtxTrain: 8192, Tied: true},
		[]FileType{Q4_K_M}},
	// bloom.
	{Spec{ID: "bloom-560m", Source: "bigscience/bloom-560m config.json (ALiBi, tied)", Arch: "bloom",
		Layers: 24, Embd: 1024, FF: 4096, Heads: 16, HeadsKV: 16, Vocab: 250880, CtxTrain: 2048, Tied: true},
		[]FileType{Q8_0, F16}},
	{Spec{ID: "bloomz-7b1", Source: "bigscience/bloomz-7b1 config.json", Arch: "bloom",
		Layers: 30, Embd: 4096, FF: 16384, Heads: 32, HeadsKV: 32, Vocab: 250880, CtxTrain: 2048, Tied: true},
		[]FileType{Q4_K_M}},
}
