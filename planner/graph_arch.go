package planner

import "github.com/modelfit/modelfit/gguf"

// Per-architecture graphs: each mirrors the constructor of its
// src/models/<arch>.cpp graph, composed from the builder's helpers.

// archGraph builds one architecture's graph into b.
type archGraph func(b *builder)

// archGraphs maps general.architecture to its graph; architectures absent
// here get genericGraph and a wider range (see computeModel).
var archGraphs = map[string]archGraph{
	// src/models/llama.cpp, qwen2.cpp, qwen2moe.cpp, qwen3.cpp, qwen3moe.cpp,
	// smollm3.cpp, phi3.cpp, starcoder2.cpp, olmo2.cpp, gemma2.cpp,
	// gemma3.cpp, command-r.cpp, cohere2.cpp, granite.cpp, minicpm.cpp,
	// exaone.cpp: pre-norm decoders told apart by decoderSpec.
	"llama":    decoder(decoderSpec{moeNormW: true}),
	"mistral3": decoder(decoderSpec{moeNormW: true, attnTemp: true}), // mistral3.cpp
	"qwen2":    decoder(decoderSpec{}),
	"qwen2moe": decoder(decoderSpec{sharedGate: true}),
	"qwen3":    decoder(decoderSpec{qkNorm: true}),
	"qwen3moe": decoder(decoderSpec{qkNorm: true, moeNormW: true}),
	// qwen3vl.cpp, qwen3vlmoe.cpp: Qwen3 with imrope and deepstack inputs.
	"qwen3vl":    decoder(decoderSpec{qkNorm: true, mrope: true}),
	"qwen3vlmoe": decoder(decoderSpec{qkNorm: true, moeNormW: true, mrope: true}),
	"smollm3":    decoder(decoderSpec{noRope: smollm3NoRope}),
	"phi3":       decoder(decoderSpec{qScale: true, act: ffnSwiGLUFused, residualFirst: true, moeNormW: true}), // SWA disabled (phi3.cpp load_arch_hparams)
	"starcoder2": decoder(decoderSpec{layerNorm: true, act: ffnGELUSeq}),
	"olmo2":      decoder(decoderSpec{iswa: true, olmo2: true}),
	"gemma2":     decoder(decoderSpec{iswa: true, embdScale: true, qScale: true, postNorms: true, act: ffnGELU, finalScale: true}),
	"gemma3":     decoder(decoderSpec{iswa: true, embdScale: true, qkNorm: true, qScale: true, postNorms: true, act: ffnGELU, finalScale: true}),
	"command-r":  decoder(decoderSpec{layerNorm: true, parallel: true, qkNorm: true, finalScale: true}),
	"cohere2":    decoder(decoderSpec{iswa: true, layerNorm: true, parallel: true, ropeSWAOnly: true, finalScale: true}),
	"deepseek2":  deepseek2Graph,
	"glm4moe":    glm4moeGraph,
	// granite.cpp, granite-moe.cpp, minicpm.cpp and exaone.cpp differ from the generic decoder only by ops the allocator runs in
	// place (embedding, residual, attention and logit scales) and by the
	// post-norms it applies when the file has them: the generic graph is
	// theirs (checked against llama.cpp on the zoo layouts of each).
	"granite":       genericGraph,
	"granitemoe":    genericGraph,
	"minicpm":       genericGraph,
	"exaone":        genericGraph,
	"glm4":          glm4Graph,
	"gpt-oss":       gptOSSGraph,
	"mamba":         mambaGraph,
	"mamba2":        mambaGraph,
	"jamba":         jambaGraph,
	"nemotron_h":    nemotronHGraph,
	"granitehybrid": graniteHybridGraph,
	"lfm2":          lfm2Graph,
	"qwen3next":     deltaNetGraph(deltaNetSpec{next: true}),
	"qwen35":        deltaNetGraph(deltaNetSpec{mrope: true}),
	"qwen35moe":     deltaNetGraph(deltaNetSpec{mrope: true}),
	"llama4":        llama4Graph,
	"gemma4":        gemma4Graph,
	"gemma3n":       gemma3nGraph,
}

// output mirrors the tail every decoder shares: the final norm (an output
// tensor, res->t_embd) and the output projection (res->t_logits).
func (b *builder) output(cur *tensor, norm func(cur, w, bias *tensor) *tensor) *tensor {
	gm := b.gm
	cur = norm(cur, gm.global["output_norm.weight"], gm.global["output_norm.bias"])
	cur.output = true
	cur = b.mm(gm.output(), cur, gm.global["output.scale"])
	cur.output = true
	return cur
}

// decoderSpec tells the pre-norm decoders of src/models apart: which norms
// they apply where, how the FFN is gated and whether the residual adds are
// ordered differently (which decides which source an add reuses in place).
type decoderSpec struct {
	layerNorm     bool // LLM_NORM with biases (starcoder2, command-r) instead of RMS
	iswa          bool // build_attn_inp_kv_iswa when the file has a sliding window
	embdScale     bool // gemma: ggml_scale(inpL, sqrt(n_embd))
	qkNorm        bool // attn_q_norm / attn_k_norm before rope (qwen3, gemma3, command-r+)
	qScale        bool // ggml_scale(Qcur) after rope (gemma, phi3)
	postNorms     bool // post_attention_norm and post_ffw_norm around both blocks (gemma2/3)
	olmo2         bool // olmo2: no pre-norms, Q/K norms on the projections, post-norms
	parallel      bool // command-r/cohere2: FFN on the attention's input, two adds
	residualFirst bool // phi3: ggml_add(residual, cur) after the FFN
	noRope        func(il int) bool
	ropeSWAOnly   bool // cohere2: rope on the sliding-window layers only
	act           ffnAct
	finalScale    bool // output logit scale or softcapping: in-place scales of the logits
	moeNormW      bool // build_moe_ffn's norm_w
	sharedGate    bool // qwen2moe: sigmoid-gated shared expert
	mrope         bool // multi-section rope (LLAMA_ROPE_TYPE_MROPE / IMROPE): four positions per token
	attnTemp      bool // mistral3: Q scaled by the attn_scale input when the file sets attention.temperature_scale
}

// ffnGELUSeq is build_ffn with up, no gate, GELU (starcoder2).
const ffnGELUSeq = ffnGELU

// smollm3NoRope: every n_no_rope_layer_step-th layer (4) skips rope
// (src/models/smollm3.cpp, hparams.n_no_rope_layer_step).
func smollm3NoRope(il int) bool { return (il+1)%4 == 0 }

func decoder(d decoderSpec) archGraph {
	return func(b *builder) { b.decoder(d) }
}

func (b *builder) decoder(d decoderSpec) {
	gm := b.gm
	norm := b.normRMS
	if d.layerNorm {
		norm = b.normLN
	}
	inpL := b.inpEmbd()
	if d.embdScale {
		inpL = b.scale(inpL)
	}
	perEmbd := int64(1)
	if d.mrope {
		perEmbd = 4
	}
	pos := b.inpPos(perEmbd)
	var attnScale *tensor
	if d.attnTemp && gm.attnTemp {
		attnScale = b.input(gguf.TypeF32, "attn_scale", 1, 1, b.ub.nTokens, 1)
	}
	iswa := d.iswa && b.ub.nKVSWA > 0 && gm.anySWA
	b.inpAttnKV(iswa)
	outIDs := b.inpOutIDs()
	last := gm.nLayer - 1
	for _, il := range b.layers {
		inpSA := inpL
		swa := iswa && gm.swa[il]
		cur := inpL
		if !d.olmo2 {
			cur = norm(inpL, gm.w(il, "attn_norm.weight"), gm.w(il, "attn_norm.bias"))
		}
		ffnInpPar := cur
		var q, k, v *tensor
		head := gm.headK
		if d.olmo2 {
			q = b.mm(gm.w(il, "attn_q.weight"), cur, nil)
			k = b.mm(gm.w(il, "attn_k.weight"), cur, nil)
			v = b.mm(gm.w(il, "attn_v.weight"), cur, nil)
			q = b.normRMS(q, gm.w(il, "attn_q_norm.weight"), nil)
			k = b.normRMS(k, gm.w(il, "attn_k_norm.weight"), nil)
			q = b.reshape(q, head, gm.nHead[il], b.ub.nTokens)
			k = b.reshape(k, head, gm.nHeadKV[il], b.ub.nTokens)
			v = b.reshape(v, head, gm.nHeadKV[il], b.ub.nTokens)
		} else {
			q, k, v = b.qkv(il, cur, head, gm.nHead[il], gm.nHeadKV[il])
		}
		qNorm, kNorm := gm.w(il, "attn_q_norm.weight"), gm.w(il, "attn_k_norm.weight")
		rope := (d.noRope == nil || !d.noRope(il)) && (!d.ropeSWAOnly || swa)
		if d.qkNorm && qNorm != nil {
			q = norm(q, qNorm, nil)
		}
		if rope {
			q = b.rope(q, pos, nil)
		}
		if d.qkNorm && kNorm != nil {
			k = norm(k, kNorm, nil)
		}
		if rope {
			k = b.rope(k, pos, nil)
		}
		if d.qScale {
			q = b.scale(q)
		}
		if attnScale != nil {
			q = b.mul(q, attnScale)
		}
		cur = b.attnKV(il, swa, gm.w(il, "attn_output.weight"), gm.w(il, "attn_output.bias"), q, k, v, attnOpts{softcap: gm.attnSoftcap})
		if il == last {
			cur = b.getRows(cur, outIDs)
			inpSA = b.getRows(inpSA, outIDs)
			if d.parallel {
				ffnInpPar = b.getRows(ffnInpPar, outIDs)
			}
		}
		if d.parallel {
			attnOut := cur
			cur = b.ffn(il, ffnInpPar, "", ffnSiLU)
			cur = b.add(cur, inpSA)
			inpL = b.add(cur, attnOut)
			continue
		}
		if d.postNorms || d.olmo2 {
			cur = b.normRMS(cur, gm.w(il, "post_attention_norm.weight"), nil)
		}
		ffnInp := b.add(cur, inpSA)
		cur = ffnInp
		if !d.olmo2 {
			cur = norm(ffnInp, gm.w(il, "ffn_norm.weight"), gm.w(il, "ffn_norm.bias"))
		}
		switch {
		case gm.w(il, "ffn_gate_inp.weight") == nil:
			cur = b.ffn(il, cur, "", d.act)
		case d.sharedGate:
			moe := b.moeFFN(il, cur, b.moeDefaults(il, moeOpts{}))
			gateInp := b.mm(gm.w(il, "ffn_gate_inp_shexp.weight"), cur, nil)
			gate := b.div(b.unary(gateInp), gateInp)
			shared := b.ffn(il, cur, "_shexp", ffnSiLU)
			cur = b.add(moe, b.mul(shared, gate))
		default:
			cur = b.moeFFN(il, cur, b.moeDefaults(il, moeOpts{normW: d.moeNormW}))
		}
		if d.postNorms || d.olmo2 {
			cur = b.normRMS(cur, gm.w(il, "post_ffw_norm.weight"), nil)
		}
		if d.residualFirst {
			inpL = b.add(ffnInp, cur)
		} else {
			inpL = b.add(cur, ffnInp)
		}
		inpL = b.deepstack(il, inpL)
	}
	out := b.outputNorm(inpL, norm)
	if d.finalScale && (gm.logitScale || gm.finalSoftcap) {
		out.output = false
		if gm.finalSoftcap {
			out = b.scale(b.unary(b.scale(out)))
		} else {
			out = b.scale(out)
		}
		out.output = true
	}
	b.expand(out)
}

// outputNorm is output, with the output bias some files carry.
func (b *builder) outputNorm(cur *tensor, norm func(cur, w, bias *tensor) *tensor) *tensor {
	cur = b.output(cur, norm)
	if bias := b.gm.global["output.bias"]; bias != nil {
		cur.output = false
		cur = b.add(cur, bias)
		cur.output = true
	}
	return cur
}

// deepseek2Graph mirrors src/models/deepseek2.cpp with MLA (the absorbed
// query against a K-only latent cache whose V is a view of K), dense
// leading layers and grouped sigmoid routing with a shared expert.
func deepseek2Graph(b *builder) {
	gm := b.gm
	h := &gm.ds
	inpL := b.inpEmbd()
	var attnScale *tensor
	if gm.attnTemp {
		attnScale = b.input(gguf.TypeF32, "attn_scale", 1, 1, b.ub.nTokens, 1)
	}
	pos := b.inpPos(1)
	if h.mla {
		b.inpAttnK()
	} else {
		b.inpAttnKV(false)
	}
	outIDs := b.inpOutIDs()
	last := gm.nLayer - 1
	n := b.ub.nTokens
	for _, il := range b.layers {
		inpSA := inpL
		nHead := gm.nHead[il]
		cur := b.normRMS(inpL, gm.w(il, "attn_norm.weight"), nil)
		var q *tensor
		if wq := gm.w(il, "attn_q.weight"); wq != nil {
			q = b.mulMat(wq, cur)
		} else {
			q = b.mulMat(gm.w(il, "attn_q_a.weight"), cur)
			q = b.normRMS(q, gm.w(il, "attn_q_a_norm.weight"), nil)
			q = b.mulMat(gm.w(il, "attn_q_b.weight"), q)
		}
		q = b.reshape(q, h.headK, nHead, n)
		kvPE := b.mulMat(gm.w(il, "attn_kv_a_mqa.weight"), cur)
		rs := rowSize(kvPE.typ, h.kvLora+h.rope)
		kvCmpr := b.view2d(kvPE, h.kvLora, n, rs, 0)
		kPE := b.view3d(kvPE, h.rope, 1, n, rs, rs, rowSize(kvPE.typ, h.kvLora))
		kPE = b.rope(kPE, pos, nil)
		kvCmpr = b.normRMS(kvCmpr, gm.w(il, "attn_kv_a_norm.weight"), nil)
		if !h.mla {
			cur = b.deepseek2MHA(il, q, kvCmpr, kPE, pos, attnScale)
		} else {
			cur = b.deepseek2MLA(il, q, kvCmpr, kPE, pos, attnScale)
		}
		if il == last {
			cur = b.getRows(cur, outIDs)
			inpSA = b.getRows(inpSA, outIDs)
		}
		ffnInp := b.add(cur, inpSA)
		cur = b.normRMS(ffnInp, gm.w(il, "ffn_norm.weight"), nil)
		if il < h.denseLead || gm.w(il, "ffn_gate_inp.weight") == nil {
			cur = b.ffn(il, cur, "", ffnSiLU)
		} else {
			moe := b.moeFFN(il, cur, b.moeDefaults(il, moeOpts{
				normW: h.normW, wScale: h.wScale, gating: h.gating,
				expProbsB: gm.w(il, "exp_probs_b.bias"), nGroups: h.groups, nGroupUsed: h.groupsUsed,
			}))
			shared := b.ffn(il, cur, "_shexp", ffnSiLU)
			cur = b.add(moe, shared)
		}
		inpL = b.add(cur, ffnInp)
	}
	b.expand(b.output(inpL, b.normRMS))
}

// deepseek2MLA is deepseek2.cpp's absorbed attention (hparams.is_mla):
// the query's no-rope part multiplied into the latent space, attending a
// K-only cache of latent plus rope part, V a view of it, and the output
// mapped back through attn_v_b.
func (b *builder) deepseek2MLA(il int, q, kvCmpr, kPE, pos, attnScale *tensor) *tensor {
	gm, h, n := b.gm, &b.gm.ds, b.ub.nTokens
	nHead := gm.nHead[il]
	nope := h.headK - h.rope
	qNope := b.view3d(q, nope, nHead, n, q.nb[1], q.nb[2], 0)
	qPE := b.view3d(q, h.rope, nHead, n, q.nb[1], q.nb[2], rowSize(q.typ, nope))
	qPE = b.rope(qPE, pos, nil)
	qNope = b.permute(qNope, 0, 2, 1, 3)
	absorbed := b.mulMat(gm.w(il, "attn_k_b.weight"), qNope)
	absorbed = b.permute(absorbed, 0, 2, 1, 3)
	qCur := b.concat(absorbed, qPE, 0)
	kvCmpr = b.reshape(kvCmpr, h.kvLora, 1, n)
	kCur := b.concat(kvCmpr, kPE, 0)
	if attnScale != nil {
		qCur = b.mul(qCur, attnScale)
	}
	return b.attnK(il, gm.w(il, "attn_output.weight"), qCur, kCur, kvCmpr, attnOpts{vMLA: gm.w(il, "attn_v_b.weight")})
}

// deepseek2MHA is deepseek2.cpp's attention for files converted before
// MLA-aware conversion (no attn_k_b / attn_v_b, is_mla false): the latent
// decompressed by attn_kv_b into per-head K and V, the rope part repeated
// over the heads, a plain K/V cache of n_head heads ("MLA without the
// absorption optimization converts into MHA").
func (b *builder) deepseek2MHA(il int, q, kvCmpr, kPE, pos, attnScale *tensor) *tensor {
	gm, h, n := b.gm, &b.gm.ds, b.ub.nTokens
	nHead := gm.nHead[il]
	nope, hv := h.headK-h.rope, gm.headV
	kv := b.mulMat(gm.w(il, "attn_kv_b.weight"), kvCmpr)
	row := rowSize(kv.typ, nope+hv)
	kNope := b.view3d(kv, nope, nHead, n, row, row*uint64(nHead), 0)
	v := b.cont(b.view3d(kv, hv, nHead, n, row, row*uint64(nHead), rowSize(kv.typ, nope)))
	qCur := b.rope(q, pos, nil)
	kCur := b.concat(kNope, b.repeat4d(kPE, h.rope, nHead, n, 1), 0)
	if attnScale != nil {
		qCur = b.mul(qCur, attnScale)
	}
	return b.attnKV(il, false, gm.w(il, "attn_output.weight"), nil, qCur, kCur, v, attnOpts{})
}

// glm4moeGraph mirrors src/models/glm4-moe.cpp: optional Q/K norms, the
// post-attention norm as the FFN's norm, dense leading layers, and routed
// experts (sigmoid with a selection bias) plus a shared expert.
func glm4moeGraph(b *builder) {
	gm := b.gm
	h := &gm.ds
	inpL := b.inpEmbd()
	pos := b.inpPos(1)
	b.inpAttnKV(false)
	outIDs := b.inpOutIDs()
	last := gm.nLayer - 1
	for _, il := range b.layers {
		inpSA := inpL
		cur := b.normRMS(inpL, gm.w(il, "attn_norm.weight"), nil)
		q, k, v := b.qkv(il, cur, gm.headK, gm.nHead[il], gm.nHeadKV[il])
		if w := gm.w(il, "attn_q_norm.weight"); w != nil {
			q = b.normRMS(q, w, nil)
		}
		if w := gm.w(il, "attn_k_norm.weight"); w != nil {
			k = b.normRMS(k, w, nil)
		}
		q = b.rope(q, pos, nil)
		k = b.rope(k, pos, nil)
		cur = b.attnKV(il, false, gm.w(il, "attn_output.weight"), nil, q, k, v, attnOpts{})
		if il == last {
			cur = b.getRows(cur, outIDs)
			inpSA = b.getRows(inpSA, outIDs)
		}
		ffnInp := b.add(cur, inpSA)
		cur = b.normRMS(ffnInp, gm.w(il, "post_attention_norm.weight"), nil)
		if il < h.denseLead || gm.w(il, "ffn_gate_inp.weight") == nil {
			cur = b.ffn(il, cur, "", ffnSiLU)
		} else {
			routed := b.moeFFN(il, cur, b.moeDefaults(il, moeOpts{
				normW: h.normW, wScale: h.wScale, gating: h.gating,
				expProbsB: gm.w(il, "exp_probs_b.bias"), nGroups: h.groups, nGroupUsed: h.groupsUsed,
			}))
			shared := b.ffn(il, cur, "_shexp", ffnSiLU)
			cur = b.add(routed, shared)
		}
		inpL = b.add(cur, ffnInp)
	}
	b.expand(b.output(inpL, b.normRMS))
}

// gptOSSGraph mirrors src/models/openai-moe.cpp: alternating sliding-window
// layers with attention sinks, softmax-weighted routing over experts with
// biases, and the output rows selected after the last layer.
func gptOSSGraph(b *builder) {
	gm := b.gm
	inpL := b.inpEmbd()
	pos := b.inpPos(1)
	iswa := b.ub.nKVSWA > 0 && gm.anySWA
	b.inpAttnKV(iswa)
	outIDs := b.inpOutIDs()
	hNextn := b.ub.rules.hNextn
	last := gm.nLayer - 1
	for _, il := range b.layers {
		inpSA := inpL
		cur := b.normRMS(inpL, gm.w(il, "attn_norm.weight"), nil)
		q, k, v := b.qkv(il, cur, gm.headK, gm.nHead[il], gm.nHeadKV[il])
		q = b.rope(q, pos, nil)
		k = b.rope(k, pos, nil)
		cur = b.attnKV(il, iswa && gm.swa[il], gm.w(il, "attn_output.weight"), gm.w(il, "attn_output.bias"), q, k, v,
			attnOpts{sinks: gm.w(il, "attn_sinks.weight")})
		if il == last && !hNextn {
			cur = b.getRows(cur, outIDs)
			inpSA = b.getRows(inpSA, outIDs)
		}
		ffnInp := b.add(cur, inpSA)
		cur = b.normRMS(ffnInp, gm.w(il, "post_attention_norm.weight"), nil)
		cur = b.moeFFN(il, cur, b.moeDefaults(il, moeOpts{oai: true, gating: gateSoftmaxWeight}))
		inpL = b.add(cur, ffnInp)
	}
	// res->t_h_nextn: the last layer's output is a graph output (never
	// freed, llm_graph_result::set_outputs), taken before the rows are
	// selected (graphRules.hNextn).
	if hNextn {
		inpL.output = true
		inpL = b.getRows(inpL, outIDs)
	}
	b.expand(b.output(inpL, b.normRMS))
}

// genericGraph is the graph of an architecture the planner does not know:
// the pre-norm transformer most of llama.cpp's decoders are, with
// whichever optional norms and biases the file's tensors imply, and a
// wider range around it.
func genericGraph(b *builder) {
	b.decoder(decoderSpec{iswa: true, qkNorm: true, postNorms: b.gm.hasPostNorms, moeNormW: true})
}

// glm4Graph mirrors src/models/glm4.cpp: the generic decoder with
// post-norms around both blocks, and an FFN whose one up tensor holds the
// gate and the up halves (build_ffn with LLM_FFN_SWIGLU and no gate:
// ggml_swiglu, a new half-width tensor beside the product). The logits
// hide the difference on one device; a device holding layers without the
// output shows it (TestSplitRPC).
func glm4Graph(b *builder) {
	b.decoder(decoderSpec{iswa: true, qkNorm: true, postNorms: b.gm.hasPostNorms, moeNormW: true, act: ffnSwiGLUFused})
}

// moeDefaults fills the expert counts from the layer's router.
func (b *builder) moeDefaults(il int, o moeOpts) moeOpts {
	if gi := b.gm.w(il, "ffn_gate_inp.weight"); gi != nil && o.nExpert == 0 {
		o.nExpert = gi.ne[1]
	}
	if o.nExpertUsed == 0 {
		o.nExpertUsed = b.gm.nExpertUsed
	}
	return o
}

// llama4Graph mirrors src/models/llama4.cpp: chunked-attention layers
// (the sliding-window cache and its own mask) with rope and, but for
// Maverick's 128 experts, an unweighted RMS norm of Q and K; every
// n_no_rope_layer_step-th layer (4; every layer but the last without a
// chunk) attends the full cache without rope, Q scaled by the
// temperature-tuning input; MoE layers weight the tokens before sigmoid-
// routed experts (build_moe_ffn's weight_before_ffn) and add a shared
// expert.
func llama4Graph(b *builder) {
	gm := b.gm
	inpL := b.inpEmbd()
	pos := b.inpPos(1)
	attnScale := b.input(gguf.TypeF32, "attn_scale", 1, 1, b.ub.nTokens, 1)
	iswa := gm.anySWA && b.ub.nKVSWA > 0
	b.inpAttnKV(iswa)
	outIDs := b.inpOutIDs()
	step := 4
	if !gm.anySWA {
		step = gm.nLayer
	}
	var nExpert int64
	if gi := gm.w(0, "ffn_gate_inp.weight"); gi != nil {
		nExpert = gi.ne[1]
	}
	kqNorm := nExpert != 128 // hparams.use_kq_norm: not LLM_TYPE_17B_128E
	last := gm.nLayer - 1
	for _, il := range b.layers {
		inpSA := inpL
		useRope := step > 0 && (il+1)%step != 0
		cur := b.normRMS(inpL, gm.w(il, "attn_norm.weight"), nil)
		q, k, v := b.qkv(il, cur, gm.headK, gm.nHead[il], gm.nHeadKV[il])
		if useRope {
			q = b.rope(q, pos, nil)
			k = b.rope(k, pos, nil)
		} else {
			q = b.mul(q, attnScale)
		}
		if useRope && kqNorm {
			q = b.rmsNorm(q)
			k = b.rmsNorm(k)
		}
		cur = b.attnKV(il, iswa && gm.swa[il], gm.w(il, "attn_output.weight"), gm.w(il, "attn_output.bias"), q, k, v, attnOpts{})
		if il == last {
			cur = b.getRows(cur, outIDs)
			inpSA = b.getRows(inpSA, outIDs)
		}
		ffnInp := b.add(cur, inpSA)
		cur = b.normRMS(ffnInp, gm.w(il, "ffn_norm.weight"), nil)
		if gm.w(il, "ffn_gate_inp.weight") == nil {
			cur = b.ffn(il, cur, "", ffnSiLU)
		} else {
			moe := b.moeFFN(il, cur, b.moeDefaults(il, moeOpts{gating: gateSigmoid, weightBefore: true, wScale: gm.ds.wScale}))
			cur = b.add(moe, b.ffn(il, cur, "_shexp", ffnSiLU))
		}
		inpL = b.add(cur, ffnInp)
	}
	b.expand(b.output(inpL, b.normRMS))
}
