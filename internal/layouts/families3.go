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
