package layouts

// The tensors of each architecture, as its load_arch_tensors in upstream
// llama.cpp (src/models/<arch>.cpp at build 10587) creates them: every
// tensor in a file must be created by the loader, or loading fails with
// "wrong number of tensors", so a layout the ground-truth harness loads has
// exactly the loader's tensor set.

func init() {
	families["llama"] = llama
	families["qwen2"] = qwen2
	families["qwen3"] = qwen3
	families["qwen3moe"] = qwen3
	families["qwen2moe"] = qwen2moe
	families["gemma2"] = gemma
	families["gemma3"] = gemma
	families["phi3"] = phi3
	families["deepseek2"] = deepseek2
	families["gpt-oss"] = gptOSS
	families["granite"] = granite
	families["granitemoe"] = granite
	families["granitehybrid"] = granite
	families["command-r"] = commandR
	families["cohere2"] = commandR
	families["olmo2"] = olmo2
	families["glm4"] = glm4
	families["glm4moe"] = glm4
	families["nemotron_h"] = nemotronH
	families["starcoder2"] = starcoder2
	families["minicpm"] = llamaLike
	families["exaone"] = llamaLike
	families["smollm3"] = llamaLike
	families["lfm2"] = lfm2
	families["llama4"] = llama4
	families["mamba2"] = mamba2Model
	families["qwen3next"] = qwen35
	families["qwen35"] = qwen35
	families["qwen35moe"] = qwen35
	families["gemma4"] = gemma4
	families["mistral3"] = llamaLike
	families["gemma3n"] = gemma3n
	families["jamba"] = jamba
}

// rmsEps writes the RMS-norm epsilon most loaders require.
func (b *builder) rmsEps() { b.akv("attention.layer_norm_rms_epsilon", float32(1e-5)) }

// embed adds the token embedding and, unless tied, the output projection;
// the output norm is added by outNorm so that families keep the converter's
// order (token_embd first, output_norm and output last).
func (b *builder) embed() { b.t("token_embd.weight", b.s.Embd, b.s.Vocab) }

func (b *builder) output() {
	b.t("output_norm.weight", b.s.Embd)
	if !b.s.Tied {
		b.t("output.weight", b.s.Embd, b.s.Vocab)
	}
}

// qkv adds the separate Q, K and V projections (create_tensor_qkv) and the
// output projection; bias adds Q/K/V biases (Qwen2).
func (b *builder) qkv(il int, bias bool) {
	s := b.s
	q, k, v := s.Heads*s.headDim(), s.headsKV(il)*s.headDim(), s.headsKV(il)*s.headDimV()
	b.l(il, "attn_q.weight", s.Embd, q)
	b.l(il, "attn_k.weight", s.Embd, k)
	b.l(il, "attn_v.weight", s.Embd, v)
	if bias {
		b.l(il, "attn_q.bias", q)
		b.l(il, "attn_k.bias", k)
		b.l(il, "attn_v.bias", v)
	}
	b.l(il, "attn_output.weight", s.Heads*s.headDimV(), s.Embd)
}

// mlp adds a gated feed-forward block of width ff.
func (b *builder) mlp(il, ff int) {
	b.l(il, "ffn_gate.weight", b.s.Embd, ff)
	b.l(il, "ffn_down.weight", ff, b.s.Embd)
	b.l(il, "ffn_up.weight", b.s.Embd, ff)
}

// experts adds the router and the stacked expert tensors of width ff.
func (b *builder) experts(il, ff int) {
	s := b.s
	b.l(il, "ffn_gate_inp.weight", s.Embd, s.Experts)
	b.l(il, "ffn_gate_exps.weight", s.Embd, ff, s.Experts)
	b.l(il, "ffn_down_exps.weight", ff, s.Embd, s.Experts)
	b.l(il, "ffn_up_exps.weight", s.Embd, ff, s.Experts)
}

// llama covers Llama 1/2/3/3.1/3.2, Mistral and Mixtral (src/models/llama.cpp):
// rope_freqs (Llama-3.1's rope scaling) is one tensor llama.cpp loads for
// layer 0 and duplicates into every other layer (TENSOR_DUPLICATED).
func llama(b *builder) error {
	s := b.s
	b.rmsEps()
	if s.RopeFreqs {
		b.t("rope_freqs.weight", s.headDim()/2)
	}
	b.embed()
	for il := range s.Layers {
		b.l(il, "attn_norm.weight", s.Embd)
		b.qkv(il, false)
		b.l(il, "ffn_norm.weight", s.Embd)
		if s.Experts > 0 {
			b.experts(il, s.FF)
		} else {
			b.mlp(il, s.FF)
		}
	}
	b.output()
	return nil
}

// qwen2 is Qwen2/2.5 (src/models/qwen2.cpp): Q/K/V biases.
func qwen2(b *builder) error {
	s := b.s
	b.rmsEps()
	b.embed()
	for il := range s.Layers {
		b.l(il, "attn_norm.weight", s.Embd)
		b.qkv(il, true)
		b.l(il, "ffn_norm.weight", s.Embd)
		b.mlp(il, s.FF)
	}
	b.output()
	return nil
}
