package layouts

import (
	"errors"
	"strings"
)

// norm adds a layer's norm tensor.
func (b *builder) norm(il int, name string) { b.l(il, name+".weight", b.s.Embd) }

// sharedExperts adds shared-expert tensors of width ff.
func (b *builder) sharedExperts(il, ff int) {
	b.l(il, "ffn_gate_shexp.weight", b.s.Embd, ff)
	b.l(il, "ffn_down_shexp.weight", ff, b.s.Embd)
	b.l(il, "ffn_up_shexp.weight", b.s.Embd, ff)
}

// qkNorm adds per-head Q and K norms (Qwen3, Gemma 3, OLMo-style archs).
func (b *builder) qkNorm(il int) {
	b.l(il, "attn_k_norm.weight", b.s.headDim())
	b.l(il, "attn_q_norm.weight", b.s.headDim())
}

// qwen3 is Qwen3 and Qwen3-MoE (src/models/qwen3.cpp, qwen3moe.cpp):
// per-head Q/K norms, no biases; MoE experts of expert_feed_forward_length.
func qwen3(b *builder) error {
	s := b.s
	b.rmsEps()
	if s.Experts > 0 {
		b.akv("expert_feed_forward_length", uint32(s.ExpertFF))
	}
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.qkv(il, false)
		b.qkNorm(il)
		b.norm(il, "ffn_norm")
		if s.Experts > 0 {
			b.experts(il, s.ExpertFF)
		} else {
			b.mlp(il, s.FF)
		}
	}
	b.output()
	return nil
}

// qwen2moe is Qwen1.5/Qwen2-MoE (src/models/qwen2moe.cpp): Q/K/V biases,
// routed experts and a gated shared expert; output.weight is required.
func qwen2moe(b *builder) error {
	s := b.s
	b.rmsEps()
	b.akv("expert_feed_forward_length", uint32(s.ExpertFF))
	b.akv("expert_shared_feed_forward_length", uint32(s.SharedFF))
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.qkv(il, true)
		b.norm(il, "ffn_norm")
		b.experts(il, s.ExpertFF)
		b.l(il, "ffn_gate_inp_shexp.weight", s.Embd)
		b.sharedExperts(il, s.SharedFF)
	}
	b.output()
	return nil
}

// gemma covers Gemma 2 and Gemma 3 (src/models/gemma2.cpp, gemma3.cpp):
// the output is always the token embedding (Gemma 2 creates it as a
// duplicate unconditionally), post-attention and post-FFN norms, Q/K norms
// in Gemma 3. Gemma 2 has a 4096-token window on every other layer even
// without the key; Gemma 3 uses the window only when the file has one, on
// five of every six layers.
func gemma(b *builder) error {
	s := b.s
	if !s.Tied {
		return errors.New("gemma layouts tie the output to the token embedding")
	}
	b.rmsEps()
	if s.SWA > 0 {
		b.akv("attention.sliding_window", uint32(s.SWA))
	}
	if s.Arch == "gemma2" {
		b.akv("attn_logit_softcapping", float32(50))
		b.akv("final_logit_softcapping", float32(30))
	}
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.qkv(il, false)
		if s.Arch == "gemma3" {
			b.qkNorm(il)
		}
		b.norm(il, "post_attention_norm")
		b.norm(il, "ffn_norm")
		b.mlp(il, s.FF)
		b.norm(il, "post_ffw_norm")
	}
	b.output()
	return nil
}

// phi3 is Phi-3/3.5/4 (src/models/phi3.cpp): fused QKV and gate+up
// projections; LongRoPE models carry rope_factors_long/short, loaded once
// and duplicated into every layer. The converter writes the config's
// sliding_window (0 for Phi-4), which llama.cpp reads and then disables
// (PR 13676): every layer caches the whole context.
func phi3(b *builder) error {
	s := b.s
	b.rmsEps()
	b.akv("attention.sliding_window", uint32(s.SWA))
	if s.RopeFreqs {
		b.t("rope_factors_long.weight", s.headDim()/2)
		b.t("rope_factors_short.weight", s.headDim()/2)
		b.akv("rope.scaling.original_context_length", uint32(4096))
	}
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.l(il, "attn_qkv.weight", s.Embd, s.Embd+2*s.headsKV(il)*s.headDim())
		b.l(il, "attn_output.weight", s.Embd, s.Embd)
		b.norm(il, "ffn_norm")
		b.l(il, "ffn_down.weight", s.FF, s.Embd)
		b.l(il, "ffn_up.weight", s.Embd, 2*s.FF)
	}
	b.output()
	return nil
}

// deepseek2 is DeepSeek-V2/V2-Lite/V3 (and Moonlight) with the MLA-aware
// conversion of convert_hf_to_gguf.py (conversion/deepseek.py): one KV head
// of kv_lora_rank + rope dims, key/value_length_mla, attn_kv_b split into
// attn_k_b and attn_v_b; the next-token-prediction layer is not converted.
func deepseek2(b *builder) error {
	s := b.s
	b.akv("attention.layer_norm_rms_epsilon", float32(1e-6))
	b.akv("leading_dense_block_count", uint32(s.LeadingDense))
	if s.QLora > 0 {
		b.akv("attention.q_lora_rank", uint32(s.QLora))
	}
	b.akv("attention.kv_lora_rank", uint32(s.KVLora))
	if s.LegacyMLA {
		b.akv("attention.head_count_kv", uint32(s.Heads))
		b.akv("attention.key_length", uint32(s.QKNope+s.QKRope))
		b.akv("attention.value_length", uint32(s.VHead))
	} else {
		b.akv("attention.key_length", uint32(s.KVLora+s.QKRope))
		b.akv("attention.value_length", uint32(s.KVLora))
		b.akv("attention.key_length_mla", uint32(s.QKNope+s.QKRope))
		b.akv("attention.value_length_mla", uint32(s.VHead))
	}
	b.akv("rope.dimension_count", uint32(s.QKRope))
	b.akv("expert_feed_forward_length", uint32(s.ExpertFF))
	b.akv("expert_shared_count", uint32(s.SharedExperts))
	b.akv("expert_weights_scale", float32(1))
	if s.ExpertGroups > 0 {
		b.akv("expert_group_count", uint32(s.ExpertGroups))
		b.akv("expert_group_used_count", uint32(s.GroupsUsed))
	}
	sigmoid := strings.Contains(s.Source, "sigmoid")
	if sigmoid {
		b.akv("expert_gating_func", uint32(2))
		b.akv("expert_weights_norm", true)
	} else {
		b.akv("expert_gating_func", uint32(1))
	}
	kvA := s.KVLora + s.QKRope
	if s.NextN > 0 {
		// GLM-4.7-Flash-style conversion (conversion/glm.py,
		// Glm4MoeLiteModel) keeps the MTP layer.
		b.akv("block_count", uint32(s.Layers+s.NextN))
		b.akv("nextn_predict_layers", uint32(s.NextN))
	}
	b.embed()
	for il := range s.Layers + s.NextN {
		b.norm(il, "attn_norm")
		if s.QLora > 0 {
			b.l(il, "attn_q_a_norm.weight", s.QLora)
		}
		b.l(il, "attn_kv_a_norm.weight", s.KVLora)
		if s.QLora > 0 {
			b.l(il, "attn_q_a.weight", s.Embd, s.QLora)
			b.l(il, "attn_q_b.weight", s.QLora, s.Heads*(s.QKNope+s.QKRope))
		} else {
			b.l(il, "attn_q.weight", s.Embd, s.Heads*(s.QKNope+s.QKRope))
		}
		b.l(il, "attn_kv_a_mqa.weight", s.Embd, kvA)
		if s.LegacyMLA {
			b.l(il, "attn_kv_b.weight", s.KVLora, s.Heads*(s.QKNope+s.VHead))
		} else {
			b.l(il, "attn_k_b.weight", s.QKNope, s.KVLora, s.Heads)
			b.l(il, "attn_v_b.weight", s.KVLora, s.VHead, s.Heads)
		}
		b.l(il, "attn_output.weight", s.Heads*s.VHead, s.Embd)
		b.norm(il, "ffn_norm")
		if il < s.LeadingDense {
			b.mlp(il, s.FF)
			continue
		}
		b.l(il, "ffn_gate_inp.weight", s.Embd, s.Experts)
		if sigmoid {
			b.l(il, "exp_probs_b.bias", s.Experts)
		}
		b.l(il, "ffn_down_exps.weight", s.ExpertFF, s.Embd, s.Experts)
		b.l(il, "ffn_gate_exps.weight", s.Embd, s.ExpertFF, s.Experts)
		b.l(il, "ffn_up_exps.weight", s.Embd, s.ExpertFF, s.Experts)
		b.sharedExperts(il, s.ExpertFF*s.SharedExperts)
		if il >= s.Layers {
			b.l(il, "nextn.eh_proj.weight", 2*s.Embd, s.Embd)
			b.norm(il, "nextn.enorm")
			b.norm(il, "nextn.hnorm")
			b.norm(il, "nextn.shared_head_norm")
		}
	}
	b.output()
	return nil
}

// gptOSS is gpt-oss (src/models/openai-moe.cpp): attention sinks, biases
// everywhere, a 128-token window on every other layer (pattern period 2).
func gptOSS(b *builder) error {
	s := b.s
	b.rmsEps()
	b.akv("expert_feed_forward_length", uint32(s.ExpertFF))
	b.akv("attention.sliding_window", uint32(s.SWA))
	b.embed()
	hd := s.headDim()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.norm(il, "post_attention_norm")
		b.l(il, "attn_q.weight", s.Embd, s.Heads*hd)
		b.l(il, "attn_k.weight", s.Embd, s.HeadsKV*hd)
		b.l(il, "attn_v.weight", s.Embd, s.HeadsKV*hd)
		b.l(il, "attn_q.bias", s.Heads*hd)
		b.l(il, "attn_k.bias", s.HeadsKV*hd)
		b.l(il, "attn_v.bias", s.HeadsKV*hd)
		b.l(il, "attn_output.weight", s.Heads*hd, s.Embd)
		b.l(il, "attn_output.bias", s.Embd)
		b.l(il, "attn_sinks.weight", s.Heads)
		b.experts(il, s.ExpertFF)
		b.l(il, "ffn_gate_inp.bias", s.Experts)
		b.l(il, "ffn_gate_exps.bias", s.ExpertFF, s.Experts)
		b.l(il, "ffn_down_exps.bias", s.Embd, s.Experts)
		b.l(il, "ffn_up_exps.bias", s.ExpertFF, s.Experts)
	}
	b.output()
	return nil
}

// granite covers Granite 3 dense and MoE and Granite 4 hybrid
// (src/models/granite.cpp, granite-moe.cpp, granite-hybrid.cpp): scaling
// keys (logit_scale is required), MoE with an optional shared expert, and
// in the hybrid Mamba-2 layers wherever head_count_kv is 0.
func granite(b *builder) error {
	s := b.s
	b.rmsEps()
	b.akv("logit_scale", float32(8))
	b.akv("residual_scale", float32(0.22))
	b.akv("embedding_scale", float32(12))
	b.akv("attention.scale", float32(0.0078125))
	if s.SharedFF > 0 {
		b.akv("expert_shared_feed_forward_length", uint32(s.SharedFF))
	}
	if s.Arch == "granitehybrid" {
		b.ssmKeys()
	}
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		if s.Arch == "granitehybrid" && s.headsKV(il) == 0 {
			b.mamba2(il)
		} else {
			b.qkv(il, false)
		}
		b.norm(il, "ffn_norm")
		if s.Experts > 0 {
			b.experts(il, s.FF)
			if s.SharedFF > 0 {
				b.l(il, "ffn_gate_shexp.weight", s.Embd, s.SharedFF)
				b.l(il, "ffn_up_shexp.weight", s.Embd, s.SharedFF)
				b.l(il, "ffn_down_shexp.weight", s.SharedFF, s.Embd)
			}
		} else {
			b.mlp(il, s.FF)
		}
	}
	b.output()
	return nil
}

// ssmKeys writes the Mamba-2 dimensions.
func (b *builder) ssmKeys() {
	s := b.s
	b.akv("ssm.conv_kernel", uint32(s.SSMConv))
	b.akv("ssm.inner_size", uint32(s.SSMInner))
	b.akv("ssm.state_size", uint32(s.SSMState))
	b.akv("ssm.time_step_rank", uint32(s.SSMHeads))
	b.akv("ssm.group_count", uint32(s.SSMGroups))
}

// mamba2 adds a Mamba-2 mixer (granite-hybrid.cpp, nemotron-h.cpp).
func (b *builder) mamba2(il int) {
	s := b.s
	conv := s.SSMInner + 2*s.SSMGroups*s.SSMState
	b.l(il, "ssm_in.weight", s.Embd, 2*s.SSMInner+2*s.SSMGroups*s.SSMState+s.SSMHeads)
	b.l(il, "ssm_conv1d.weight", s.SSMConv, conv)
	b.l(il, "ssm_conv1d.bias", conv)
	b.l(il, "ssm_dt.bias", s.SSMHeads)
	b.l(il, "ssm_a", 1, s.SSMHeads)
	b.l(il, "ssm_d", 1, s.SSMHeads)
	b.l(il, "ssm_norm.weight", s.SSMInner/s.SSMGroups, s.SSMGroups)
	b.l(il, "ssm_out.weight", s.SSMInner, s.Embd)
}

// commandR is Command-R and Command R7B/A (src/models/command-r.cpp,
// cohere2.cpp): layer norms, output tied to the embedding; Command-R with
// 64 or more layers has Q/K norms; cohere2 has a window on three of every
// four layers (the window key is required).
func commandR(b *builder) error {
	s := b.s
	if !s.Tied {
		return errors.New("command-r layouts tie the output")
	}
	b.akv("attention.layer_norm_epsilon", float32(1e-5))
	b.akv("logit_scale", float32(0.0625))
	if s.Arch == "cohere2" {
		b.akv("attention.sliding_window", uint32(s.SWA))
	}
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		if s.Arch == "command-r" && s.Layers >= 64 {
			b.l(il, "attn_q_norm.weight", s.headDim(), s.Heads)
			b.l(il, "attn_k_norm.weight", s.headDim(), s.headsKV(il))
		}
		b.qkv(il, false)
		b.mlp(il, s.FF)
	}
	b.output()
	return nil
}

// olmo2 is OLMo 2 (src/models/olmo2.cpp): post-norms only, Q/K norms over
// the whole projection.
func olmo2(b *builder) error {
	s := b.s
	b.rmsEps()
	b.embed()
	for il := range s.Layers {
		b.qkv(il, false)
		b.l(il, "attn_q_norm.weight", s.Embd)
		b.l(il, "attn_k_norm.weight", s.headsKV(il)*s.headDim())
		b.norm(il, "post_attention_norm")
		b.mlp(il, s.FF)
		b.norm(il, "post_ffw_norm")
	}
	b.output()
	return nil
}

// glm4 covers GLM-4-0414 and GLM-4.5 (src/models/glm4.cpp, glm4-moe.cpp):
// partial rotary dims, Q/K/V biases; GLM-4.5 converts its
// next-token-prediction layer (block_count includes it,
// nextn_predict_layers says how many), which llama.cpp skips (TENSOR_SKIP)
// unless asked for MTP.
func glm4(b *builder) error {
	s := b.s
	b.rmsEps()
	nextn := s.NextN
	if nextn > 0 {
		b.akv("block_count", uint32(s.Layers+nextn))
	}
	if s.Arch == "glm4moe" {
		b.akv("nextn_predict_layers", uint32(nextn))
		b.akv("expert_feed_forward_length", uint32(s.ExpertFF))
		b.akv("expert_shared_count", uint32(s.SharedExperts))
		b.akv("leading_dense_block_count", uint32(s.LeadingDense))
		b.akv("expert_weights_scale", float32(1))
		b.akv("expert_weights_norm", true)
		b.akv("expert_gating_func", uint32(2))
	}
	b.embed()
	for il := range s.Layers + nextn {
		b.norm(il, "attn_norm")
		b.qkv(il, true)
		if s.Arch == "glm4moe" && strings.Contains(s.Source, "qk_norm") {
			b.qkNorm(il)
		}
		b.norm(il, "post_attention_norm")
		if s.Arch == "glm4" {
			b.norm(il, "ffn_norm")
			b.l(il, "ffn_down.weight", s.FF, s.Embd)
			b.l(il, "ffn_up.weight", s.Embd, 2*s.FF)
			b.norm(il, "post_ffw_norm")
			continue
		}
		if il < s.LeadingDense {
			b.mlp(il, s.FF)
		} else {
			b.experts(il, s.ExpertFF)
			b.l(il, "exp_probs_b.bias", s.Experts)
			b.sharedExperts(il, s.ExpertFF*s.SharedExperts)
		}
		if il >= s.Layers {
			b.l(il, "nextn.eh_proj.weight", 2*s.Embd, s.Embd)
			b.norm(il, "nextn.enorm")
			b.norm(il, "nextn.hnorm")
			b.norm(il, "nextn.shared_head_norm")
		}
	}
	b.output()
	return nil
}

// nemotronH is Nemotron-H (src/models/nemotron-h.cpp): every layer is one
// of Mamba-2 (head_count_kv and feed_forward_length 0), attention
// (head_count_kv > 0) or a squared-ReLU MLP (feed_forward_length > 0).
func nemotronH(b *builder) error {
	s := b.s
	b.rmsEps()
	b.akv("attention.layer_norm_epsilon", float32(1e-5))
	b.ssmKeys()
	if s.Experts > 0 {
		b.akv("expert_feed_forward_length", uint32(s.ExpertFF))
		b.akv("expert_shared_feed_forward_length", uint32(s.SharedFF))
		b.akv("expert_shared_count", uint32(1))
		b.akv("expert_weights_norm", true)
		b.akv("expert_weights_scale", float32(2.5))
		b.akv("expert_gating_func", uint32(2))
	}
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		switch {
		case s.headsKV(il) > 0:
			b.qkv(il, false)
		case s.ff(il) > 0 && s.Experts > 0:
			// Nemotron 3 (nemotron_h_moe): sigmoid-routed ungated experts
			// with a selection bias and an ungated shared expert.
			b.l(il, "ffn_gate_inp.weight", s.Embd, s.Experts)
			b.l(il, "exp_probs_b.bias", s.Experts)
			b.l(il, "ffn_down_exps.weight", s.ExpertFF, s.Embd, s.Experts)
			b.l(il, "ffn_up_exps.weight", s.Embd, s.ExpertFF, s.Experts)
			b.l(il, "ffn_down_shexp.weight", s.SharedFF, s.Embd)
			b.l(il, "ffn_up_shexp.weight", s.Embd, s.SharedFF)
		case s.ff(il) > 0:
			b.l(il, "ffn_down.weight", s.ff(il), s.Embd)
			b.l(il, "ffn_up.weight", s.Embd, s.ff(il))
		default:
			b.mamba2(il)
		}
	}
	b.output()
	return nil
}

// starcoder2 is StarCoder2 (src/models/starcoder2.cpp): layer norms with
// biases, biases on every projection, a plain (ungated) MLP.
func starcoder2(b *builder) error {
	s := b.s
	b.akv("attention.layer_norm_epsilon", float32(1e-5))
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.l(il, "attn_norm.bias", s.Embd)
		b.qkv(il, true)
		b.l(il, "attn_output.bias", s.Embd)
		b.norm(il, "ffn_norm")
		b.l(il, "ffn_norm.bias", s.Embd)
		b.l(il, "ffn_down.weight", s.FF, s.Embd)
		b.l(il, "ffn_up.weight", s.Embd, s.FF)
		b.l(il, "ffn_down.bias", s.Embd)
		b.l(il, "ffn_up.bias", s.FF)
	}
	b.t("output_norm.weight", s.Embd)
	b.t("output_norm.bias", s.Embd)
	if !s.Tied {
		b.t("output.weight", s.Embd, s.Vocab)
	}
	return nil
}

// llamaLike covers the Llama-shaped architectures with their own names:
// MiniCPM (src/models/minicpm.cpp: embedding, residual and logit scales),
// EXAONE (exaone.cpp) and SmolLM3 (smollm3.cpp: no RoPE on every fourth
// layer, which changes no tensor).
func llamaLike(b *builder) error {
	s := b.s
	b.rmsEps()
	if s.Arch == "minicpm" {
		b.akv("embedding_scale", float32(12))
		b.akv("residual_scale", float32(1.4))
		b.akv("logit_scale", float32(256))
	}
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

// lfm2 is LFM2 (src/models/lfm2.cpp): short-convolution layers where
// head_count_kv is 0, attention with Q/K norms elsewhere; the final norm is
// named token_embd_norm.
func lfm2(b *builder) error {
	s := b.s
	b.rmsEps()
	b.akv("shortconv.l_cache", uint32(3))
	if s.Experts > 0 {
		b.akv("leading_dense_block_count", uint32(s.LeadingDense))
		b.akv("expert_feed_forward_length", uint32(s.ExpertFF))
		b.akv("expert_gating_func", uint32(2))
	}
	b.embed()
	for il := range s.Layers {
		b.norm(il, "ffn_norm")
		if s.Experts > 0 && il >= s.LeadingDense {
			// LFM2-MoE (src/models/lfm2moe.cpp): sigmoid-routed experts
			// with a selection bias after the dense leading layers.
			b.experts(il, s.ExpertFF)
			b.l(il, "exp_probs_b.bias", s.Experts)
		} else {
			b.mlp(il, s.FF)
		}
		b.norm(il, "attn_norm")
		if s.headsKV(il) > 0 {
			b.qkNorm(il)
			b.qkv(il, false)
		} else {
			b.l(il, "shortconv.conv.weight", 3, s.Embd)
			b.l(il, "shortconv.in_proj.weight", s.Embd, 3*s.Embd)
			b.l(il, "shortconv.out_proj.weight", s.Embd, s.Embd)
		}
	}
	b.t("token_embd_norm.weight", s.Embd)
	if !s.Tied {
		b.t("output.weight", s.Embd, s.Vocab)
	}
	return nil
}

// llama4 is Llama 4 (src/models/llama4.cpp): MoE every
// interleave_moe_layer_step layers with a shared expert, dense layers
// between; without a sliding_window key, chunked attention of 8192 tokens
// on three of every four layers.
func llama4(b *builder) error {
	s := b.s
	step := 1
	if s.SWAPattern > 0 {
		step = s.SWAPattern // reused: the MoE interleave step
	}
	b.rmsEps()
	b.akv("expert_feed_forward_length", uint32(s.ExpertFF))
	b.akv("interleave_moe_layer_step", uint32(step))
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.qkv(il, false)
		b.norm(il, "ffn_norm")
		if (il+1)%step == 0 {
			b.experts(il, s.ExpertFF)
			b.sharedExperts(il, s.ExpertFF)
		} else {
			b.mlp(il, s.FF)
		}
	}
	b.output()
	return nil
}

// mamba2Model is a pure Mamba-2 model (src/models/mamba2.cpp): every layer
// a Mamba-2 mixer; the converter writes head_count and feed_forward_length
// 0 (conversion/mamba.py).
func mamba2Model(b *builder) error {
	s := b.s
	b.rmsEps()
	b.ssmKeys()
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.mamba2(il)
	}
	b.output()
	return nil
}

// qwen35 covers the gated-DeltaNet hybrids Qwen3-Next, Qwen3.5 and
// Qwen3.5-MoE (src/models/qwen3next.cpp, qwen35.cpp, qwen35moe.cpp): every
// full_attention_interval-th layer is gated attention (Q carries its gate:
// 2 × n_head × head_dim), the others linear attention with a recurrent
// state; ssm.* keys describe it (state_size = head dim, group_count = K
// heads, time_step_rank = V heads, inner_size = V heads × head dim). The
// converter appends the MTP block (conversion/qwen.py, _QwenMtpMixin).
func qwen35(b *builder) error {
	s := b.s
	b.rmsEps()
	b.ssmKeys()
	b.akv("full_attention_interval", uint32(4))
	b.akv("block_count", uint32(s.Layers+s.NextN))
	if s.NextN > 0 {
		b.akv("nextn_predict_layers", uint32(s.NextN))
	}
	if s.Arch != "qwen3next" {
		b.akv("rope.dimension_sections", []int32{11, 11, 10, 0})
	}
	if s.Experts > 0 {
		b.akv("expert_feed_forward_length", uint32(s.ExpertFF))
		b.akv("expert_shared_feed_forward_length", uint32(s.SharedFF))
	}
	keyDim, valueDim := s.SSMState*s.SSMGroups, s.SSMState*s.SSMHeads
	b.embed()
	for il := range s.Layers + s.NextN {
		b.norm(il, "attn_norm")
		b.norm(il, "post_attention_norm")
		if il >= s.Layers || (il+1)%4 == 0 {
			hd := s.headDim()
			b.l(il, "attn_q.weight", s.Embd, 2*s.Heads*hd)
			b.l(il, "attn_k.weight", s.Embd, s.HeadsKV*hd)
			b.l(il, "attn_v.weight", s.Embd, s.HeadsKV*hd)
			b.l(il, "attn_output.weight", s.Heads*hd, s.Embd)
			b.qkNorm(il)
		} else {
			b.l(il, "attn_qkv.weight", s.Embd, 2*keyDim+valueDim)
			b.l(il, "attn_gate.weight", s.Embd, valueDim)
			b.l(il, "ssm_conv1d.weight", s.SSMConv, 2*keyDim+valueDim)
			b.l(il, "ssm_dt.bias", s.SSMHeads)
			b.l(il, "ssm_a", s.SSMHeads)
			if s.Arch == "qwen3next" {
				b.l(il, "ssm_ba.weight", s.Embd, 2*s.SSMHeads)
			} else {
				b.l(il, "ssm_beta.weight", s.Embd, s.SSMHeads)
				b.l(il, "ssm_alpha.weight", s.Embd, s.SSMHeads)
			}
			b.l(il, "ssm_norm.weight", s.SSMState)
			b.l(il, "ssm_out.weight", valueDim, s.Embd)
		}
		if s.Experts > 0 {
			b.experts(il, s.ExpertFF)
			b.l(il, "ffn_gate_inp_shexp.weight", s.Embd)
			b.sharedExperts(il, s.SharedFF)
		} else {
			b.mlp(il, s.FF)
		}
		if il >= s.Layers {
			b.l(il, "nextn.eh_proj.weight", 2*s.Embd, s.Embd)
			b.norm(il, "nextn.enorm")
			b.norm(il, "nextn.hnorm")
			b.norm(il, "nextn.shared_head_norm")
		}
	}
	b.output()
	return nil
}

// gemma4 is Gemma 4 (src/models/gemma4.cpp; conversion/gemma.py,
// Gemma4Model): sliding-window layers given by a per-layer bool pattern
// with their own head size (key_length_swa) and KV head count, full layers
// with a larger head and the one rope_freqs tensor (loaded for the first
// full layer, duplicated into the others), optional per-layer input
// embeddings, and shared_kv_layers final layers that reuse earlier caches.
func gemma4(b *builder) error {
	s := b.s
	if !s.Tied {
		return errors.New("gemma4 layouts tie the output")
	}
	b.rmsEps()
	pattern := make([]bool, s.Layers)
	for il := range pattern {
		pattern[il] = il%s.SWAPattern < s.SWAPattern-1
	}
	b.akv("attention.sliding_window", uint32(s.SWA))
	b.akv("attention.sliding_window_pattern", pattern)
	b.akv("attention.key_length_swa", uint32(s.HeadDimSWA))
	b.akv("attention.value_length_swa", uint32(s.HeadDimSWA))
	b.akv("rope.dimension_count_swa", uint32(s.HeadDimSWA))
	b.akv("attention.shared_kv_layers", uint32(s.SharedKV))
	b.akv("embedding_length_per_layer_input", uint32(s.EmbdPerLayer))
	b.akv("final_logit_softcapping", float32(30))
	b.embed()
	if s.EmbdPerLayer > 0 {
		b.t("per_layer_token_embd.weight", s.EmbdPerLayer*s.Layers, s.Vocab)
		b.t("per_layer_model_proj.weight", s.Embd, s.EmbdPerLayer*s.Layers)
		b.t("per_layer_proj_norm.weight", s.EmbdPerLayer)
	}
	b.t("rope_freqs.weight", s.HeadDim/2)
	for il := range s.Layers {
		hd := s.HeadDim
		if pattern[il] {
			hd = s.HeadDimSWA
		}
		kv := s.headsKV(il)
		b.norm(il, "attn_norm")
		b.l(il, "attn_q.weight", s.Embd, s.Heads*hd)
		b.l(il, "attn_k.weight", s.Embd, kv*hd)
		b.l(il, "attn_v.weight", s.Embd, kv*hd)
		b.l(il, "attn_output.weight", s.Heads*hd, s.Embd)
		b.l(il, "attn_q_norm.weight", hd)
		b.l(il, "attn_k_norm.weight", hd)
		b.norm(il, "post_attention_norm")
		b.l(il, "layer_output_scale.weight", 1)
		b.norm(il, "ffn_norm")
		b.l(il, "ffn_gate.weight", s.Embd, s.ff(il))
		b.l(il, "ffn_up.weight", s.Embd, s.ff(il))
		b.l(il, "ffn_down.weight", s.ff(il), s.Embd)
		b.norm(il, "post_ffw_norm")
		if s.EmbdPerLayer > 0 {
			b.l(il, "inp_gate.weight", s.Embd, s.EmbdPerLayer)
			b.l(il, "proj.weight", s.EmbdPerLayer, s.Embd)
			b.norm(il, "post_norm")
		}
	}
	b.t("output_norm.weight", s.Embd)
	return nil
}

// gemma3n is Gemma 3n (src/models/gemma3n.cpp): AltUp (4 inputs) and
// LAuReL (rank 64) per layer, per-layer input embeddings of 256 (llama.cpp's
// fixed hparams), a window on four of every five layers, and a cache for the
// first 20 layers only (the others reuse them); the tied output is created
// before token_embd.
func gemma3n(b *builder) error {
	s := b.s
	const altup, laurel, perLayer = 4, 64, 256
	b.rmsEps()
	b.akv("attention.sliding_window", uint32(s.SWA))
	b.embed()
	b.t("altup_proj.weight", s.Embd, s.Embd, altup-1)
	b.t("altup_unembd_proj.weight", s.Embd, s.Embd, altup-1)
	b.t("per_layer_token_embd.weight", perLayer*s.Layers, s.Vocab)
	b.t("per_layer_model_proj.weight", s.Embd, perLayer*s.Layers)
	b.t("per_layer_proj_norm.weight", perLayer)
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.qkv(il, false)
		b.qkNorm(il)
		b.norm(il, "post_attention_norm")
		b.norm(il, "ffn_norm")
		b.l(il, "ffn_gate.weight", s.Embd, s.FF)
		b.l(il, "ffn_up.weight", s.Embd, s.FF)
		b.l(il, "ffn_down.weight", s.FF, s.Embd)
		b.norm(il, "post_ffw_norm")
		b.l(il, "inp_gate.weight", s.Embd, perLayer)
		b.l(il, "proj.weight", perLayer, s.Embd)
		b.norm(il, "post_norm")
		b.l(il, "altup_correct_coef.weight", altup, altup)
		b.l(il, "altup_correct_scale.weight", s.Embd)
		b.l(il, "altup_predict_coef.weight", altup, altup*altup)
		b.l(il, "altup_router.weight", s.Embd, altup)
		b.norm(il, "altup_router_norm")
		b.l(il, "laurel_l.weight", s.Embd, laurel)
		b.l(il, "laurel_r.weight", laurel, s.Embd)
		b.norm(il, "laurel_post_norm")
	}
	b.t("output_norm.weight", s.Embd)
	return nil
}

// jamba is Jamba (src/models/jamba.cpp): Mamba-1 mixers where
// head_count_kv is 0, attention elsewhere; experts on odd layers
// (ffn_gate_inp present), dense MLPs on even ones.
func jamba(b *builder) error {
	s := b.s
	b.rmsEps()
	b.akv("ssm.conv_kernel", uint32(s.SSMConv))
	b.akv("ssm.inner_size", uint32(s.SSMInner))
	b.akv("ssm.state_size", uint32(s.SSMState))
	b.akv("ssm.time_step_rank", uint32(s.SSMHeads))
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		if s.headsKV(il) == 0 {
			b.l(il, "ssm_in.weight", s.Embd, 2*s.SSMInner)
			b.l(il, "ssm_conv1d.weight", s.SSMConv, s.SSMInner)
			b.l(il, "ssm_conv1d.bias", s.SSMInner)
			b.l(il, "ssm_x.weight", s.SSMInner, s.SSMHeads+2*s.SSMState)
			b.l(il, "ssm_dt_norm.weight", s.SSMHeads)
			b.l(il, "ssm_dt.weight", s.SSMHeads, s.SSMInner)
			b.l(il, "ssm_dt.bias", s.SSMInner)
			b.l(il, "ssm_b_norm.weight", s.SSMState)
			b.l(il, "ssm_c_norm.weight", s.SSMState)
			b.l(il, "ssm_a", s.SSMState, s.SSMInner)
			b.l(il, "ssm_d", s.SSMInner)
			b.l(il, "ssm_out.weight", s.SSMInner, s.Embd)
		} else {
			b.qkv(il, false)
		}
		b.norm(il, "ffn_norm")
		if il%2 == 1 {
			b.experts(il, s.FF)
		} else {
			b.mlp(il, s.FF)
		}
	}
	b.output()
	return nil
}
