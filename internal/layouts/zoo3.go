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
	// qwen2vl (Qwen2-VL, Qwen2.5-VL): the language models of the
	// vision-language releases (M-RoPE); qwen3vl is in families_recurrent.go.
	{Spec{ID: "qwen2-vl-7b", Source: "Qwen/Qwen2-VL-7B-Instruct config.json (mrope_section 16,24,24)", Arch: "qwen2vl",
		Layers: 28, Embd: 3584, FF: 18944, Heads: 28, HeadsKV: 4, Vocab: 152064, CtxTrain: 32768},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "qwen2.5-vl-3b", Source: "Qwen/Qwen2.5-VL-3B-Instruct config.json (tied)", Arch: "qwen2vl",
		Layers: 36, Embd: 2048, FF: 11008, Heads: 16, HeadsKV: 2, Vocab: 151936, CtxTrain: 128000, Tied: true},
		[]FileType{Q4_K_M, F16}},
	// exaone4.
	{Spec{ID: "exaone-4.0-1.2b", Source: "LGAI-EXAONE/EXAONE-4.0-1.2B config.json (tied, no window)", Arch: "exaone4",
		Layers: 30, Embd: 2048, FF: 4096, Heads: 32, HeadsKV: 8, HeadDim: 64, Vocab: 102400, CtxTrain: 65536, Tied: true},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "exaone-4.0-32b", Source: "LGAI-EXAONE/EXAONE-4.0-32B config.json; sliding_window without the pattern key " +
		"(the current converter's bool array makes build 10587 refuse the file: exaone4 reads the pattern as a scalar)", Arch: "exaone4",
		Layers: 64, Embd: 5120, FF: 27392, Heads: 40, HeadsKV: 8, HeadDim: 128, Vocab: 102400, CtxTrain: 131072, SWA: 4096},
		[]FileType{Q4_K_M}},
	// ernie4_5, ernie4_5-moe.
	{Spec{ID: "ernie-4.5-0.3b", Source: "baidu/ERNIE-4.5-0.3B-PT config.json (tied)", Arch: "ernie4_5",
		Layers: 18, Embd: 1024, FF: 3072, Heads: 16, HeadsKV: 2, Vocab: 103424, CtxTrain: 131072, Tied: true},
		[]FileType{Q8_0, F16}},
	{Spec{ID: "ernie-4.5-21b-a3b", Source: "baidu/ERNIE-4.5-21B-A3B-PT config.json (moe_layer_start_index 1, 2 shared experts, tied)", Arch: "ernie4_5-moe",
		Layers: 28, Embd: 2560, FF: 12288, Heads: 20, HeadsKV: 4, HeadDim: 128, Vocab: 103424, CtxTrain: 131072, Tied: true,
		Experts: 64, ExpertsUsed: 6, ExpertFF: 1536, SharedFF: 3072, LeadingDense: 1},
		[]FileType{Q4_K_M, Q2_K}},
	// hunyuan-dense.
	{Spec{ID: "hunyuan-7b", Source: "tencent/Hunyuan-7B-Instruct config.json (tied)", Arch: "hunyuan-dense",
		Layers: 32, Embd: 4096, FF: 14336, Heads: 32, HeadsKV: 8, HeadDim: 128, Vocab: 128167, CtxTrain: 32768, Tied: true},
		[]FileType{Q4_K_M, Q8_0}},
	// hunyuan-moe.
	{Spec{ID: "hunyuan-a13b", Source: "tencent/Hunyuan-A13B-Instruct config.json (tied; 64 experts of 3072, top 8, one shared of 3072; 256K as the converter writes for its NTK-alpha rope)", Arch: "hunyuan-moe",
		Layers: 32, Embd: 4096, FF: 3072, Heads: 32, HeadsKV: 8, HeadDim: 128, Vocab: 128167, CtxTrain: 262144, Tied: true,
		Experts: 64, ExpertsUsed: 8, ExpertFF: 3072, SharedFF: 3072},
		[]FileType{Q4_K_M, Q8_0}},
	// seed_oss.
	{Spec{ID: "seed-oss-36b", Source: "ByteDance-Seed/Seed-OSS-36B-Instruct config.json (attention_bias)", Arch: "seed_oss",
		Layers: 64, Embd: 5120, FF: 27648, Heads: 80, HeadsKV: 8, HeadDim: 128, Vocab: 155136, CtxTrain: 524288},
		[]FileType{Q4_K_M, IQ4_XS}},
	// arcee.
	{Spec{ID: "afm-4.5b", Source: "arcee-ai/AFM-4.5B config.json (ReLU² MLP)", Arch: "arcee",
		Layers: 36, Embd: 2560, FF: 18432, Heads: 20, HeadsKV: 4, HeadDim: 128, Vocab: 128004, CtxTrain: 65536},
		[]FileType{Q4_K_M, Q8_0}},
	// apertus.
	{Spec{ID: "apertus-8b", Source: "swiss-ai/Apertus-8B-Instruct-2509 config.json (xIELU MLP)", Arch: "apertus",
		Layers: 32, Embd: 4096, FF: 21504, Heads: 32, HeadsKV: 8, Vocab: 131072, CtxTrain: 65536},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "apertus-70b", Source: "swiss-ai/Apertus-70B-Instruct-2509 config.json", Arch: "apertus",
		Layers: 80, Embd: 8192, FF: 43008, Heads: 64, HeadsKV: 8, Vocab: 131072, CtxTrain: 65536},
		[]FileType{Q4_K_M}},
	// nemotron.
	{Spec{ID: "nemotron-mini-4b", Source: "nvidia/Nemotron-Mini-4B-Instruct config.json (partial_rotary_factor 0.5)", Arch: "nemotron",
		Layers: 32, Embd: 3072, FF: 9216, Heads: 24, HeadsKV: 8, HeadDim: 128, RopeDim: 64, Vocab: 256000, CtxTrain: 4096},
		[]FileType{Q4_K_M, Q8_0}},
	// Mixtures of experts.
	{Spec{ID: "phi-3.5-moe", Source: "microsoft/Phi-3.5-MoE-instruct config.json (attention_bias, LongRoPE)", Arch: "phimoe",
		Layers: 32, Embd: 4096, FF: 6400, Heads: 32, HeadsKV: 8, Vocab: 32064, CtxTrain: 131072, Experts: 16, ExpertsUsed: 2},
		[]FileType{Q4_K_M, IQ4_XS}},
	{Spec{ID: "olmoe-1b-7b", Source: "allenai/OLMoE-1B-7B-0924 config.json", Arch: "olmoe",
		Layers: 16, Embd: 2048, FF: 1024, Heads: 16, HeadsKV: 16, Vocab: 50304, CtxTrain: 4096, Experts: 64, ExpertsUsed: 8},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "dbrx", Source: "databricks/dbrx-instruct config.json (clip_qkv 8)", Arch: "dbrx",
		Layers: 40, Embd: 6144, FF: 10752, Heads: 48, HeadsKV: 8, Vocab: 100352, CtxTrain: 32768, Experts: 16, ExpertsUsed: 4},
		[]FileType{Q4_K_M, Q2_K}},
	{Spec{ID: "arctic", Source: "Snowflake/snowflake-arctic-instruct config.json (dense residual MLP + 128 experts)", Arch: "arctic",
		Layers: 35, Embd: 7168, FF: 4864, Heads: 56, HeadsKV: 8, Vocab: 32000, CtxTrain: 4096, Experts: 128, ExpertsUsed: 2},
		[]FileType{Q2_K}},
	{Spec{ID: "deepseek-moe-16b", Source: "deepseek-ai/deepseek-moe-16b-base config.json", Arch: "deepseek",
		Layers: 28, Embd: 2048, FF: 10944, Heads: 16, HeadsKV: 16, Vocab: 102400, CtxTrain: 4096,
		Experts: 64, ExpertsUsed: 6, ExpertFF: 1408, SharedExperts: 2, LeadingDense: 1},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "ling-lite", Source: "inclusionAI/Ling-lite config.json", Arch: "bailingmoe",
		Layers: 28, Embd: 2048, FF: 5632, Heads: 16, HeadsKV: 4, Vocab: 126464, CtxTrain: 16384,
		Experts: 64, ExpertsUsed: 6, ExpertFF: 1408, SharedExperts: 2},
		[]FileType{Q4_K_M}},
	{Spec{ID: "dots.llm1", Source: "rednote-hilab/dots.llm1.inst config.json (noaux_tc routing, routed_scaling_factor 2.5)", Arch: "dots1",
		Layers: 62, Embd: 4096, FF: 10944, Heads: 32, HeadsKV: 32, HeadDim: 128, Vocab: 152064, CtxTrain: 32768,
		Experts: 128, ExpertsUsed: 6, ExpertFF: 1408, SharedExperts: 2, LeadingDense: 1},
		[]FileType{Q4_K_M}},
	{Spec{ID: "minimax-m2", Source: "MiniMaxAI/MiniMax-M2 config.json", Arch: "minimax-m2",
		Layers: 62, Embd: 3072, FF: 1536, Heads: 48, HeadsKV: 8, HeadDim: 128, Vocab: 200064, CtxTrain: 196608,
		Experts: 256, ExpertsUsed: 8},
		[]FileType{Q4_K_M, Q2_K}},
	// minicpm3 (low-rank attention, per-head cache).
	{Spec{ID: "minicpm3-4b", Source: "openbmb/MiniCPM3-4B config.json (v_head_dim = hidden/heads)", Arch: "minicpm3",
		Layers: 62, Embd: 2560, FF: 6400, Heads: 40, HeadsKV: 40, Vocab: 73448, CtxTrain: 32768,
		QLora: 768, KVLora: 256, QKNope: 64, QKRope: 32, VHead: 64},
		[]FileType{Q4_K_M, Q8_0}},
	// chatglm.
	{Spec{ID: "chatglm3-6b", Source: "THUDM/chatglm3-6b config.json (multi_query_group_num 2)", Arch: "chatglm",
		Layers: 28, Embd: 4096, FF: 13696, Heads: 32, HeadsKV: 2, Vocab: 65024, CtxTrain: 8192},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "glm-4-9b-chatglm", Source: "THUDM/glm-4-9b-chat config.json, converted as chatglm", Arch: "chatglm",
		Layers: 40, Embd: 4096, FF: 13696, Heads: 32, HeadsKV: 2, Vocab: 151552, CtxTrain: 131072},
		[]FileType{Q4_K_M}},
	// Recurrent and hybrid.
	{Spec{ID: "mamba-130m", Source: "state-spaces/mamba-130m-hf config.json (tied; context_length 2^20 as the converter writes)", Arch: "mamba",
		Layers: 24, Embd: 768, Vocab: 50280, CtxTrain: 1 << 20, Tied: true,
		SSMConv: 4, SSMInner: 1536, SSMState: 16, SSMHeads: 48},
		[]FileType{F16, BF16}}, // dt_rank 48: llama-quantize has no fallback for Q8_0 rows of 48
	{Spec{ID: "falcon-h1-0.5b", Source: "after tiiuae/Falcon-H1-0.5B-Instruct config.json (mamba_d_ssm 1536, 24 SSM heads of 64, one group)", Arch: "falcon-h1",
		Layers: 36, Embd: 1024, FF: 2048, Heads: 8, HeadsKV: 2, HeadDim: 64, Vocab: 32784, CtxTrain: 16384,
		SSMConv: 4, SSMInner: 1536, SSMState: 128, SSMGroups: 1, SSMHeads: 24},
		[]FileType{Q8_0, F16}},
	{Spec{ID: "nemotron-3-nano-30b-a3b", Source: "variation of nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B: its sizes (n_embd 2688, 128 experts of 1856, top 6, " +
		"shared 3712, Mamba-2 64 heads × 64, 8 groups), 52 layers laid out as nemotron-h-8b's (MoE on odd layers, attention every 8th)", Arch: "nemotron_h_moe",
		Layers: 52, Embd: 2688, FFArr: nemotronFF(52, 1856), Heads: 32, HeadsKV: 2, HeadDim: 128, HeadsKVArr: nemotronKV(52, 2),
		Vocab: 131072, CtxTrain: 262144, Experts: 128, ExpertsUsed: 6, ExpertFF: 1856, SharedFF: 3712,
		SSMConv: 4, SSMInner: 4096, SSMState: 128, SSMGroups: 8, SSMHeads: 64},
		[]FileType{Q4_K_M, Q8_0}},
	{Spec{ID: "lfm2-8b-a1b", Source: "variation of LiquidAI/LFM2-8B-A1B: its sizes (24 layers, 32 experts of 1792, top 4, 2 dense leading layers), " +
		"attention at layers 2, 6, 10, 14, 18, 21", Arch: "lfm2moe",
		Layers: 24, Embd: 2048, FF: 7168, Heads: 32, HeadsKV: 8, HeadsKVArr: at(24, 8, 2, 6, 10, 14, 18, 21), Vocab: 65536, CtxTrain: 128000, Tied: true,
		Experts: 32, ExpertsUsed: 4, ExpertFF: 1792, LeadingDense: 2},
		[]FileType{Q4_K_M, Q8_0}},
	// Encoders (embedding models): no KV cache.
	{Spec{ID: "all-minilm-l6-v2", Source: "sentence-transformers/all-MiniLM-L6-v2 config.json", Arch: "bert",
		Layers: 6, Embd: 384, FF: 1536, Heads: 12, HeadsKV: 12, Vocab: 30522, CtxTrain: 512},
		[]FileType{F16, Q8_0}},
	{Spec{ID: "bge-large-en-v1.5", Source: "BAAI/bge-large-en-v1.5 config.json", Arch: "bert",
		Layers: 24, Embd: 1024, FF: 4096, Heads: 16, HeadsKV: 16, Vocab: 30522, CtxTrain: 512},
		[]FileType{F16, Q8_0}},
	{Spec{ID: "nomic-embed-text-v1.5", Source: "nomic-ai/nomic-embed-text-v1.5 config.json", Arch: "nomic-bert",
		Layers: 12, Embd: 768, FF: 3072, Heads: 12, HeadsKV: 12, Vocab: 30528, CtxTrain: 2048},
		[]FileType{F16, Q8_0}},
}

// at returns a per-layer head_count_kv: kv on the given layers, 0 (a
// recurrent layer) elsewhere.
func at(n, kv int, layers ...int) []int {
	out := make([]int, n)
	for _, il := range layers {
		out[il] = kv
	}
	return out
}
