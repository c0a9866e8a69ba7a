package layouts

import "errors"

// Older and less common architectures: the tensors each load_arch_tensors
// in upstream llama.cpp (src/models/<arch>.cpp at build 10587) creates, as
// the converter (conversion/<family>.py) names them.

func init() {
	families["gemma"] = gemma1
	families["phi2"] = phi2
	families["falcon"] = falcon
	families["stablelm"] = stablelm
	families["internlm2"] = llamaQKV
	families["baichuan"] = llamaQKV
	families["qwen"] = qwen1
	families["olmo"] = olmo
	families["mpt"] = mpt
	families["gptneox"] = gptneox
	families["gpt2"] = gpt2
	families["starcoder"] = gpt2
	families["bloom"] = bloom
}

// lnEps writes the layer-norm epsilon LLM_NORM loaders require.
func (b *builder) lnEps() { b.akv("attention.layer_norm_epsilon", float32(1e-5)) }

// normB adds a norm's weight and, with bias, its bias.
func (b *builder) normB(il int, name string, bias bool) {
	b.l(il, name+".weight", b.s.Embd)
	if bias {
		b.l(il, name+".bias", b.s.Embd)
	}
}

// qkvFused adds the fused Q/K/V projection ({n_embd, n_embd + 2·n_embd_gqa})
// with an optional bias, and the output projection with an optional bias.
func (b *builder) qkvFused(il int, bias, woBias bool) {
	s := b.s
	n := s.Heads*s.headDim() + 2*s.headsKV(il)*s.headDim()
	b.l(il, "attn_qkv.weight", s.Embd, n)
	if bias {
		b.l(il, "attn_qkv.bias", n)
	}
	b.l(il, "attn_output.weight", s.Heads*s.headDim(), s.Embd)
	if woBias {
		b.l(il, "attn_output.bias", s.Embd)
	}
}

// upDown adds an ungated feed-forward block (ffn_up, ffn_down) of width
// ff with optional biases.
func (b *builder) upDown(il, ff int, bias bool) {
	s := b.s
	b.l(il, "ffn_down.weight", ff, s.Embd)
	if bias {
		b.l(il, "ffn_down.bias", s.Embd)
	}
	b.l(il, "ffn_up.weight", s.Embd, ff)
	if bias {
		b.l(il, "ffn_up.bias", ff)
	}
}

// outputLN adds output_norm with its bias and, unless tied, output.weight.
func (b *builder) outputLN() {
	b.t("output_norm.weight", b.s.Embd)
	b.t("output_norm.bias", b.s.Embd)
	if !b.s.Tied {
		b.t("output.weight", b.s.Embd, b.s.Vocab)
	}
}

// gemma1 is Gemma (src/models/gemma.cpp): the output is the token
// embedding (TENSOR_DUPLICATED, no output.weight ever), head size 256.
func gemma1(b *builder) error {
	s := b.s
	if !s.Tied {
		return errors.New("gemma layouts tie the output to the token embedding")
	}
	b.rmsEps()
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.qkv(il, false)
		b.norm(il, "ffn_norm")
		b.mlp(il, s.FF)
	}
	b.output()
	return nil
}

// phi2 is Phi-2 (src/models/phi2.cpp) as the widely distributed files lay
// it out: the fused Wqkv of the original checkpoint with its bias, layer
// norms with biases, an ungated GELU MLP with biases, and an output
// projection with a bias. Partial rotary (rope.dimension_count =
// partial_rotary_factor × head size).
func phi2(b *builder) error {
	s := b.s
	b.lnEps()
	b.embed()
	for il := range s.Layers {
		b.normB(il, "attn_norm", true)
		b.qkvFused(il, true, true)
		b.upDown(il, s.FF, true)
	}
	b.outputLN()
	b.t("output.bias", s.Vocab)
	return nil
}

// falcon is Falcon-7B/40B/180B (src/models/falcon.cpp): fused QKV without
// bias, layer norms with biases, a second input norm (attn_norm_2) on the
// "new decoder architecture" (40B, 180B), an ungated GELU MLP, attention
// and MLP in parallel.
func falcon(b *builder) error {
	s := b.s
	b.lnEps()
	b.embed()
	for il := range s.Layers {
		b.normB(il, "attn_norm", true)
		if s.HeadsKV > 1 {
			b.normB(il, "attn_norm_2", true)
		}
		b.qkvFused(il, false, false)
		b.upDown(il, s.FF, false)
	}
	b.outputLN()
	return nil
}

// stablelm is StableLM-3B-4E1T / StableLM-2 (src/models/stablelm.cpp):
// layer norms with biases, Q/K/V biases on StableLM-2-1.6B, partial rotary.
func stablelm(b *builder) error {
	s := b.s
	b.lnEps()
	b.embed()
	for il := range s.Layers {
		b.normB(il, "attn_norm", true)
		b.qkv(il, s.QKVBias)
		b.normB(il, "ffn_norm", true)
		b.mlp(il, s.FF)
	}
	b.outputLN()
	return nil
}

// llamaQKV is a Llama-shaped decoder whose converter splits a fused
// checkpoint QKV into attn_q/k/v: InternLM2 (src/models/internlm2.cpp,
// wqkv split by InternLM2Model) and Baichuan (src/models/baichuan.cpp,
// W_pack split by BaichuanModel).
func llamaQKV(b *builder) error {
	s := b.s
	b.rmsEps()
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.qkv(il, false)
		b.norm(il, "ffn_norm")
		b.mlp(il, s.FF)
	}
	b.output()
	return nil
}

// qwen1 is Qwen (v1, src/models/qwen.cpp): fused c_attn with bias, and
// feed_forward_length twice the gated MLP's width (the loader halves it).
func qwen1(b *builder) error {
	s := b.s
	b.rmsEps()
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.qkvFused(il, true, false)
		b.norm(il, "ffn_norm")
		b.mlp(il, s.FF/2)
	}
	b.output()
	return nil
}

// olmo is OLMo (v1, src/models/olmo.cpp): non-parametric layer norms, so
// no norm tensors at all, not even output_norm.
func olmo(b *builder) error {
	s := b.s
	b.lnEps()
	b.embed()
	for il := range s.Layers {
		b.qkv(il, false)
		b.mlp(il, s.FF)
	}
	if !s.Tied {
		b.t("output.weight", s.Embd, s.Vocab)
	}
	return nil
}

// mpt is MPT (src/models/mpt.cpp): ALiBi instead of positions, fused QKV,
// weight-only layer norms (no_bias), an ungated GELU MLP, tied output.
func mpt(b *builder) error {
	s := b.s
	b.lnEps()
	b.akv("attention.max_alibi_bias", float32(8))
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.qkvFused(il, false, false)
		b.norm(il, "ffn_norm")
		b.upDown(il, s.FF, false)
	}
	b.output()
	return nil
}

// gptneox is GPT-NeoX / Pythia (src/models/gptneox.cpp): every projection
// and norm with a bias, partial rotary, parallel residual.
func gptneox(b *builder) error {
	s := b.s
	b.lnEps()
	b.akv("use_parallel_residual", true)
	b.embed()
	for il := range s.Layers {
		b.normB(il, "attn_norm", true)
		b.qkvFused(il, true, true)
		b.normB(il, "ffn_norm", true)
		b.upDown(il, s.FF, true)
	}
	b.outputLN()
	return nil
}

// gpt2 is GPT-2 (src/models/gpt2.cpp) and StarCoder (starcoder.cpp, with
// multi-query attention): learned position embeddings of the training
// context, biases everywhere, tied output.
func gpt2(b *builder) error {
	s := b.s
	b.lnEps()
	b.embed()
	b.t("position_embd.weight", s.Embd, s.CtxTrain)
	for il := range s.Layers {
		b.normB(il, "attn_norm", true)
		b.qkvFused(il, true, true)
		b.normB(il, "ffn_norm", true)
		b.upDown(il, s.FF, true)
	}
	b.outputLN()
	return nil
}

// bloom is BLOOM (src/models/bloom.cpp): ALiBi, a layer norm on the token
// embedding, biases everywhere, tied output.
func bloom(b *builder) error {
	s := b.s
	b.lnEps()
	b.embed()
	b.t("token_embd_norm.weight", s.Embd)
	b.t("token_embd_norm.bias", s.Embd)
	for il := range s.Layers {
		b.normB(il, "attn_norm", true)
		b.qkvFused(il, true, true)
		b.normB(il, "ffn_norm", true)
		b.upDown(il, s.FF, true)
	}
	b.outputLN()
	return nil
}

func init() {
	families["qwen2vl"] = qwen2vl
	families["exaone4"] = exaone4
	families["ernie4_5"] = ernie45
	families["ernie4_5-moe"] = ernie45
	families["hunyuan-dense"] = hunyuanDense
	families["hunyuan-moe"] = hunyuanMoE
	families["seed_oss"] = seedOSS
	families["arcee"] = arcee
	families["apertus"] = apertus
	families["nemotron"] = nemotron
}

// ropeSections writes rope.dimension_sections (M-RoPE: temporal, height,
// width and a fourth section) for the Qwen-VL families.
func (b *builder) ropeSections(s ...int) {
	b.akv("rope.dimension_sections", u32s(append(s, 0, 0, 0, 0)[:4]))
}

// qwen2vl is Qwen2-VL / Qwen2.5-VL's language model (src/models/qwen2vl.cpp):
// Qwen2 with M-RoPE (four positions per token).
func qwen2vl(b *builder) error {
	s := b.s
	b.rmsEps()
	b.ropeSections(16, 24, 24)
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.qkv(il, true)
		b.norm(il, "ffn_norm")
		b.mlp(il, s.FF)
	}
	b.output()
	return nil
}

// exaone4 is EXAONE 4.0 (src/models/exaone4.cpp): post-norms only (after
// attention and after the MLP), per-head Q/K norms. The 32B (64 layers)
// always slides a window on three of every four layers (4096 unless the
// file says otherwise) and ropes only those; the other sizes never slide.
func exaone4(b *builder) error {
	s := b.s
	b.rmsEps()
	if s.SWA > 0 {
		b.akv("attention.sliding_window", uint32(s.SWA))
	}
	b.embed()
	for il := range s.Layers {
		b.qkv(il, false)
		b.qkNorm(il)
		b.norm(il, "post_attention_norm")
		b.mlp(il, s.FF)
		b.norm(il, "post_ffw_norm")
	}
	b.output()
	return nil
}

// ernie45 is ERNIE 4.5 and ERNIE 4.5 MoE (src/models/ernie4-5.cpp,
// ernie4-5-moe.cpp): Llama-shaped; the MoE has dense leading layers, then
// routed experts with a selection bias and shared experts.
func ernie45(b *builder) error {
	s := b.s
	b.rmsEps()
	if s.Experts > 0 {
		b.akv("expert_feed_forward_length", uint32(s.ExpertFF))
		b.akv("expert_shared_feed_forward_length", uint32(s.SharedFF))
		b.akv("interleave_moe_layer_step", uint32(1))
		b.akv("leading_dense_block_count", uint32(s.LeadingDense))
	}
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.qkv(il, false)
		b.norm(il, "ffn_norm")
		if s.Experts > 0 && il >= s.LeadingDense {
			b.l(il, "ffn_gate_inp.weight", s.Embd, s.Experts)
			b.l(il, "exp_probs_b.bias", s.Experts)
			b.l(il, "ffn_gate_exps.weight", s.Embd, s.ExpertFF, s.Experts)
			b.l(il, "ffn_down_exps.weight", s.ExpertFF, s.Embd, s.Experts)
			b.l(il, "ffn_up_exps.weight", s.Embd, s.ExpertFF, s.Experts)
			b.sharedExperts(il, s.SharedFF)
		} else {
			b.mlp(il, s.FF)
		}
	}
	b.output()
	return nil
}

// hunyuanDense is Hunyuan dense (src/models/hunyuan-vl.cpp, which
// hunyuan-dense inherits): per-head Q/K norms applied after rope.
func hunyuanDense(b *builder) error {
	s := b.s
	b.rmsEps()
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.qkv(il, false)
		b.qkNorm(il)
		b.norm(il, "ffn_norm")
		b.mlp(il, s.FF)
	}
	b.output()
	return nil
}

// hunyuanMoE is Hunyuan-A13B (src/models/hunyuan-moe.cpp): hunyuan-dense's
// attention, every layer a shared expert of intermediate_size beside
// routed experts (conversion/hunyuan.py, HunYuanMoEModel; llama.cpp loads
// the experts n_ff wide, which the released config keeps equal to
// moe_intermediate_size).
func hunyuanMoE(b *builder) error {
	s := b.s
	b.rmsEps()
	b.akv("expert_feed_forward_length", uint32(s.ExpertFF))
	b.akv("expert_shared_feed_forward_length", uint32(s.SharedFF))
	b.akv("expert_shared_count", uint32(1))
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.qkv(il, false)
		b.qkNorm(il)
		b.norm(il, "ffn_norm")
		b.experts(il, s.ExpertFF)
		b.sharedExperts(il, s.SharedFF)
	}
	b.output()
	return nil
}

// seedOSS is Seed-OSS (src/models/seed-oss.cpp): Q/K/V biases and the
// FFN's norm named post_attention_norm.
func seedOSS(b *builder) error {
	s := b.s
	b.rmsEps()
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.qkv(il, true)
		b.norm(il, "post_attention_norm")
		b.mlp(il, s.FF)
	}
	b.output()
	return nil
}

// arcee is Arcee AFM (src/models/arcee.cpp): an ungated ReLU² MLP.
func arcee(b *builder) error {
	s := b.s
	b.rmsEps()
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.qkv(il, false)
		b.norm(il, "ffn_norm")
		b.upDown(il, s.FF, false)
	}
	b.output()
	return nil
}

// apertus is Apertus (src/models/apertus.cpp): per-head Q/K norms and an
// ungated xIELU MLP whose per-layer parameters the loader requires.
func apertus(b *builder) error {
	s := b.s
	b.rmsEps()
	per := func(v float32) []float32 {
		out := make([]float32, s.Layers)
		for i := range out {
			out[i] = v
		}
		return out
	}
	b.kv("xielu.alpha_n", per(0.8))
	b.kv("xielu.alpha_p", per(0.8))
	b.kv("xielu.beta", per(0.5))
	b.kv("xielu.eps", per(-1e-6))
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.qkv(il, false)
		b.norm(il, "ffn_norm")
		b.upDown(il, s.FF, false)
		b.qkNorm(il)
	}
	b.output()
	return nil
}

// nemotron is Nemotron(-Mini, -4) (src/models/nemotron.cpp): layer norms
// with biases (LayerNorm1p), partial rotary, an ungated ReLU² MLP.
func nemotron(b *builder) error {
	s := b.s
	b.lnEps()
	b.embed()
	for il := range s.Layers {
		b.normB(il, "attn_norm", true)
		b.qkv(il, false)
		b.normB(il, "ffn_norm", true)
		b.upDown(il, s.FF, false)
	}
	b.outputLN()
	return nil
}

func init() {
	families["phimoe"] = phimoe
	families["olmoe"] = olmoe
	families["dbrx"] = dbrx
	families["arctic"] = arctic
	families["deepseek"] = deepseek1
	families["bailingmoe"] = deepseek1
	families["dots1"] = deepseek1
	families["minimax-m2"] = minimaxM2
	families["minicpm3"] = minicpm3
	families["chatglm"] = chatglm
}

// longRoPE adds the LongRoPE factor tensors (rope_factors_long/short of
// half the rotary width) that loaders create for layer 0 and duplicate.
func (b *builder) longRoPE(rot int) {
	b.t("rope_factors_long.weight", rot/2)
	b.t("rope_factors_short.weight", rot/2)
	b.akv("rope.scaling.original_context_length", uint32(4096))
}

// phimoe is Phi-3.5-MoE (src/models/phimoe.cpp): layer norms with biases,
// Q/K/V and output biases, 16 experts of feed_forward_length, LongRoPE.
func phimoe(b *builder) error {
	s := b.s
	b.rmsEps()
	b.longRoPE(s.headDim())
	b.embed()
	for il := range s.Layers {
		b.normB(il, "attn_norm", true)
		b.qkv(il, true)
		b.l(il, "attn_output.bias", s.Embd)
		b.normB(il, "ffn_norm", true)
		b.experts(il, s.FF)
	}
	b.outputLN()
	b.t("output.bias", s.Vocab)
	return nil
}

// olmoe is OLMoE (src/models/olmoe.cpp): full-width Q/K norms, experts of
// feed_forward_length.
func olmoe(b *builder) error {
	s := b.s
	b.rmsEps()
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.qkv(il, false)
		b.l(il, "attn_q_norm.weight", s.Embd)
		b.l(il, "attn_k_norm.weight", s.Embd)
		b.norm(il, "ffn_norm")
		b.experts(il, s.FF)
	}
	b.output()
	return nil
}

// dbrx is DBRX (src/models/dbrx.cpp): fused QKV clamped to ±clip_qkv,
// weight-only layer norms (attn_norm and attn_output_norm before the
// experts), 16 experts of feed_forward_length.
func dbrx(b *builder) error {
	s := b.s
	b.lnEps()
	b.akv("attention.clamp_kqv", float32(8))
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.qkvFused(il, false, false)
		b.norm(il, "attn_output_norm")
		b.experts(il, s.FF)
	}
	b.output()
	return nil
}

// arctic is Snowflake Arctic (src/models/arctic.cpp): a dense residual MLP
// of n_embd × n_embd in every layer beside 128 experts with their own norm.
func arctic(b *builder) error {
	s := b.s
	b.rmsEps()
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.qkv(il, false)
		b.norm(il, "ffn_norm")
		b.mlp(il, s.Embd)
		b.l(il, "ffn_gate_inp.weight", s.Embd, s.Experts)
		b.norm(il, "ffn_norm_exps")
		b.l(il, "ffn_gate_exps.weight", s.Embd, s.FF, s.Experts)
		b.l(il, "ffn_down_exps.weight", s.FF, s.Embd, s.Experts)
		b.l(il, "ffn_up_exps.weight", s.Embd, s.FF, s.Experts)
	}
	b.output()
	return nil
}

// deepseek1 covers the DeepSeek-MoE layout (src/models/deepseek.cpp) that
// Ling (bailingmoe.cpp) and dots.llm1 (dots1.cpp, with per-head Q/K norms
// and a selection bias) share: dense leading layers, routed experts of
// expert_feed_forward_length and shared experts as one wider MLP.
func deepseek1(b *builder) error {
	s := b.s
	b.rmsEps()
	b.akv("leading_dense_block_count", uint32(s.LeadingDense))
	b.akv("expert_feed_forward_length", uint32(s.ExpertFF))
	b.akv("expert_shared_count", uint32(s.SharedExperts))
	switch s.Arch {
	case "deepseek":
		b.akv("expert_weights_scale", float32(1))
	case "bailingmoe":
		b.akv("expert_weights_scale", float32(1))
		b.akv("expert_weights_norm", true)
	case "dots1":
		b.akv("expert_weights_scale", float32(2.5))
		b.akv("expert_weights_norm", true)
		b.akv("expert_gating_func", uint32(2))
	}
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		if s.Arch == "dots1" {
			b.qkv(il, false)
			b.qkNorm(il)
		} else {
			b.qkv(il, false)
		}
		b.norm(il, "ffn_norm")
		if il < s.LeadingDense {
			b.mlp(il, s.FF)
			continue
		}
		b.l(il, "ffn_gate_inp.weight", s.Embd, s.Experts)
		if s.Arch == "dots1" {
			b.l(il, "exp_probs_b.bias", s.Experts)
		}
		b.l(il, "ffn_gate_exps.weight", s.Embd, s.ExpertFF, s.Experts)
		b.l(il, "ffn_down_exps.weight", s.ExpertFF, s.Embd, s.Experts)
		b.l(il, "ffn_up_exps.weight", s.Embd, s.ExpertFF, s.Experts)
		b.sharedExperts(il, s.ExpertFF*s.SharedExperts)
	}
	b.output()
	return nil
}

// minimaxM2 is MiniMax-M2 (src/models/minimax-m2.cpp): full-width Q/K
// norms, 256 sigmoid-routed experts (feed_forward_length wide) with a
// selection bias, no shared expert.
func minimaxM2(b *builder) error {
	s := b.s
	b.rmsEps()
	b.akv("expert_feed_forward_length", uint32(s.FF))
	b.akv("expert_gating_func", uint32(2))
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.qkv(il, false)
		b.l(il, "attn_q_norm.weight", s.Heads*s.headDim())
		b.l(il, "attn_k_norm.weight", s.headsKV(il)*s.headDim())
		b.norm(il, "ffn_norm")
		b.experts(il, s.FF)
		b.l(il, "exp_probs_b.bias", s.Experts)
	}
	b.output()
	return nil
}

// minicpm3 is MiniCPM3 (src/models/minicpm3.cpp): DeepSeek-V2-style
// low-rank Q and KV projections, but a plain per-head cache (no MLA
// absorption), and LongRoPE factors.
func minicpm3(b *builder) error {
	s := b.s
	b.rmsEps()
	b.akv("attention.q_lora_rank", uint32(s.QLora))
	b.akv("attention.kv_lora_rank", uint32(s.KVLora))
	b.akv("attention.key_length", uint32(s.QKNope+s.QKRope))
	b.akv("attention.value_length", uint32(s.VHead))
	b.akv("rope.dimension_count", uint32(s.QKRope))
	b.longRoPE(s.QKRope)
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.l(il, "attn_q_a_norm.weight", s.QLora)
		b.l(il, "attn_kv_a_norm.weight", s.KVLora)
		b.l(il, "attn_q_a.weight", s.Embd, s.QLora)
		b.l(il, "attn_q_b.weight", s.QLora, s.Heads*(s.QKNope+s.QKRope))
		b.l(il, "attn_kv_a_mqa.weight", s.Embd, s.KVLora+s.QKRope)
		b.l(il, "attn_kv_b.weight", s.KVLora, s.Heads*(s.QKNope+s.VHead))
		b.l(il, "attn_output.weight", s.Heads*s.VHead, s.Embd)
		b.norm(il, "ffn_norm")
		b.mlp(il, s.FF)
	}
	b.output()
	return nil
}

// chatglm is ChatGLM3 / GLM-4 as first converted (src/models/chatglm.cpp):
// fused QKV with bias, and one ffn_up holding gate and up (SwiGLU of two
// halves).
func chatglm(b *builder) error {
	s := b.s
	b.rmsEps()
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.qkvFused(il, true, false)
		b.norm(il, "ffn_norm")
		b.l(il, "ffn_up.weight", s.Embd, 2*s.FF)
		b.l(il, "ffn_down.weight", s.FF, s.Embd)
	}
	b.output()
	return nil
}

func init() {
	families["nemotron_h_moe"] = nemotronH
	families["lfm2moe"] = lfm2
	families["falcon-h1"] = falconH1
}

// falconH1 is Falcon-H1 (src/models/falcon-h1.cpp): every layer runs a
// Mamba-2 mixer and attention side by side, then a gated MLP; so every
// layer keeps both a KV cache and a recurrent state.
func falconH1(b *builder) error {
	s := b.s
	b.rmsEps()
	b.ssmKeys()
	b.embed()
	for il := range s.Layers {
		b.mamba2(il)
		b.qkv(il, false)
		b.norm(il, "attn_norm")
		b.l(il, "ffn_norm", s.Embd)
		b.mlp(il, s.FF)
	}
	b.output()
	return nil
}

func init() {
	families["bert"] = bert
	families["nomic-bert"] = bert
}

// bert is BERT (src/models/bert.cpp: bge, MiniLM, ...) and Nomic BERT
// (nomic-bert.cpp): non-causal encoders with token-type embeddings, a norm
// on the embeddings and post-norms after attention and MLP; BERT learns
// positions and biases every projection, Nomic BERT ropes and gates its
// MLP. No output projection: the model outputs pooled embeddings.
func bert(b *builder) error {
	s := b.s
	nomic := s.Arch == "nomic-bert"
	b.lnEps()
	b.akv("attention.causal", false)
	b.akv("pooling_type", uint32(1)) // mean
	b.kv("tokenizer.ggml.token_type_count", uint32(2))
	b.embed()
	b.t("token_types.weight", s.Embd, 2)
	if !nomic {
		b.t("position_embd.weight", s.Embd, s.CtxTrain)
	}
	b.t("token_embd_norm.weight", s.Embd)
	b.t("token_embd_norm.bias", s.Embd)
	for il := range s.Layers {
		if nomic {
			b.qkvFused(il, false, false)
		} else {
			b.qkv(il, true)
			b.l(il, "attn_output.bias", s.Embd)
		}
		b.normB(il, "attn_output_norm", true)
		if nomic {
			b.mlp(il, s.FF)
		} else {
			b.upDown(il, s.FF, true)
		}
		b.normB(il, "layer_output_norm", true)
	}
	return nil
}
