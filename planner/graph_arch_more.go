package planner

import "github.com/modelfit/modelfit/gguf"

// Graphs of the older decoder families: GPT-2-style blocks with layer
// norms and biases, learned or ALiBi positions instead of rope, and the
// parallel attention + FFN blocks of Falcon, Phi-2 and GPT-NeoX. Each
// mirrors its src/models/<arch>.cpp graph constructor (build 10587) in the
// order it creates tensors: the allocator's reuse depends on it.

func init() {
	for arch, g := range map[string]archGraph{
		// src/models/gemma.cpp, internlm2.cpp, qwen.cpp: Llama's graph
		// (gemma's embedding and Q scales run in place).
		"gemma":     decoder(decoderSpec{embdScale: true, qScale: true, act: ffnGELU}),
		"internlm2": decoder(decoderSpec{}),
		"qwen":      decoder(decoderSpec{}),
		"falcon":    classic(classicSpec{parallel: parFalcon}),
		"phi2":      classic(classicSpec{parallel: parPhi2, qScale: true}),
		"gptneox":   classic(classicSpec{parallel: parNeoX}),
		"stablelm":  classic(classicSpec{}),
		"olmo":      classic(classicSpec{}),
		"baichuan":  classic(classicSpec{rms: true, noRope: baichuanNoRope}),
		"mpt":       classic(classicSpec{inputs: inpMPT, noRope: always}),
		"bloom":     classic(classicSpec{inputs: inpMPT, noRope: always, tokNorm: true}),
		"gpt2":      classic(classicSpec{inputs: inpPosEmbd, noRope: always}),
		"starcoder": classic(classicSpec{inputs: inpPosEmbd, noRope: always}),
	} {
		archGraphs[arch] = g
	}
}

// classicSpec tells apart the decoders classic() builds.
type classicSpec struct {
	rms      bool // LLM_NORM_RMS (baichuan) instead of LLM_NORM
	inputs   classicInputs
	noRope   func(gm *graphModel) bool
	tokNorm  bool   // bloom: a layer norm on the token embeddings
	act      ffnAct // the ungated MLP's activation (ffnReLUSqr: nemotron)
	qScale   bool   // phi2: ggml_scale(Qcur) after rope
	parallel parMode
}

// classicInputs is the order a graph creates its inputs in (the allocator
// places inputs first, in graph order).
type classicInputs uint8

const (
	inpRope    classicInputs = iota // embd, pos, attn, out_ids
	inpMPT                          // mpt, bloom: embd, attn, [pos: mpt's learned positions], out_ids
	inpPosEmbd                      // gpt2, starcoder: embd, pos, attn, then + pos_embd rows
)

// parMode is how attention and FFN are combined.
type parMode uint8

const (
	parNone   parMode = iota
	parFalcon         // FFN on the attention's norm; add(ffn, attn), add(cur, inpL)
	parPhi2           // FFN on the attention's norm; add(attn, ffn), add(cur, inpL)
	parNeoX           // use_parallel_residual: FFN on ffn_norm(inpL); add(ffn, inpL), add(cur, attn)
)

func always(*graphModel) bool { return true }

// baichuanNoRope: only LLM_TYPE_7B (32 layers) ropes; 13B uses ALiBi
// (src/models/baichuan.cpp, build_inp_pos only for LLM_TYPE_7B).
func baichuanNoRope(gm *graphModel) bool { return gm.nLayer != 32 }

func classic(c classicSpec) archGraph {
	return func(b *builder) { b.classic(c) }
}

func (b *builder) classic(c classicSpec) {
	gm := b.gm
	norm := b.normLN
	if c.rms {
		norm = b.normRMS
	}
	rope := c.noRope == nil || !c.noRope(gm)
	if c.parallel == parNeoX && !gm.parRes {
		c.parallel = parNone
	}
	inpL := b.inpEmbd()
	var pos *tensor
	switch c.inputs {
	case inpRope:
		if rope {
			pos = b.inpPos(1)
		}
		b.inpAttnKV(false)
	case inpMPT:
		b.inpAttnKV(false)
		if pe := gm.global["position_embd.weight"]; pe != nil {
			inpL = b.add(inpL, b.getRows(pe, b.inpPos(1)))
		}
	case inpPosEmbd:
		pos = b.inpPos(1)
		b.inpAttnKV(false)
		inpL = b.add(inpL, b.getRows(gm.global["position_embd.weight"], pos))
	}
	if c.tokNorm {
		inpL = norm(inpL, gm.global["token_embd_norm.weight"], gm.global["token_embd_norm.bias"])
	}
	outIDs := b.inpOutIDs()
	last := gm.nLayer - 1
	for _, il := range b.layers {
		attnNorm := norm(inpL, gm.w(il, "attn_norm.weight"), gm.w(il, "attn_norm.bias"))
		cur := attnNorm
		if w := gm.w(il, "attn_norm_2.weight"); w != nil {
			cur = norm(inpL, w, gm.w(il, "attn_norm_2.bias")) // Falcon-40B
		}
		q, k, v := b.qkv(il, cur, gm.headK, gm.nHead[il], gm.nHeadKV[il])
		if w := gm.w(il, "attn_q_norm.weight"); w != nil {
			q = norm(q, w, gm.w(il, "attn_q_norm.bias"))
		}
		if w := gm.w(il, "attn_k_norm.weight"); w != nil {
			k = norm(k, w, gm.w(il, "attn_k_norm.bias"))
		}
		if rope && pos != nil {
			q = b.rope(q, pos, nil)
			k = b.rope(k, pos, nil)
		}
		if c.qScale {
			q = b.scale(q)
		}
		cur = b.attnKV(il, false, gm.w(il, "attn_output.weight"), gm.w(il, "attn_output.bias"), q, k, v, attnOpts{})
		if il == last {
			cur = b.getRows(cur, outIDs)
			inpL = b.getRows(inpL, outIDs)
			if c.parallel == parFalcon || c.parallel == parPhi2 {
				attnNorm = b.getRows(attnNorm, outIDs)
			}
		}
		switch c.parallel {
		case parFalcon:
			ffn := b.ffn(il, attnNorm, "", ffnGELU)
			inpL = b.add(b.add(ffn, cur), inpL)
		case parPhi2:
			ffn := b.ffn(il, attnNorm, "", ffnGELU)
			inpL = b.add(b.add(cur, ffn), inpL)
		case parNeoX:
			attnOut := cur
			cur = norm(inpL, gm.w(il, "ffn_norm.weight"), gm.w(il, "ffn_norm.bias"))
			cur = b.ffn(il, cur, "", ffnGELU)
			inpL = b.add(b.add(cur, inpL), attnOut)
		default:
			ffnInp := b.add(cur, inpL)
			cur = norm(ffnInp, gm.w(il, "ffn_norm.weight"), gm.w(il, "ffn_norm.bias"))
			cur = b.ffn(il, cur, "", c.act)
			inpL = b.add(cur, ffnInp)
		}
	}
	b.expand(b.outputNorm(inpL, norm))
}

func init() {
	for arch, g := range map[string]archGraph{
		// src/models/qwen2vl.cpp, ernie4-5.cpp, seed-oss.cpp, arcee.cpp,
		// apertus.cpp, hunyuan-vl.cpp (hunyuan-dense).
		"qwen2vl":       modern(modernSpec{}),
		"ernie4_5":      modern(modernSpec{}),
		"ernie4_5-moe":  modern(modernSpec{moe: moeShared, normW: 1}),
		"seed_oss":      modern(modernSpec{ffnNorm: "post_attention_norm.weight"}),
		"arcee":         modern(modernSpec{act: ffnReLUSqr}),
		"apertus":       modern(modernSpec{qkNorm: qkNormBeforeRope}),
		"hunyuan-dense": modern(modernSpec{qkNorm: qkNormAfterRope}),
		// src/models/hunyuan-moe.cpp: hunyuan-dense's attention, a shared
		// expert (ffn_mlp) and then softmax-routed experts, norm_topk_prob.
		"hunyuan-moe": modern(modernSpec{qkNorm: qkNormAfterRope, moe: moeSharedFirst, normW: 1}),
		// src/models/olmoe.cpp, dbrx.cpp, deepseek.cpp, bailingmoe.cpp,
		// dots1.cpp, minimax-m2.cpp, chatglm.cpp; phimoe runs phi3's graph.
		"olmoe":      modern(modernSpec{qkNorm: qkNormBeforeRope, moe: moePlain, normW: -1}),
		"dbrx":       modern(modernSpec{layerNorm: true, ffnNorm: "attn_output_norm.weight", moe: moePlain, normW: 1}),
		"deepseek":   modern(modernSpec{moe: moeShared, normW: -1}),
		"bailingmoe": modern(modernSpec{moe: moeShared}),
		"dots1":      modern(modernSpec{qkNorm: qkNormEach, moe: moeShared}),
		"minimax-m2": modern(modernSpec{qkNorm: qkNormBeforeRope, moe: moePlain, normW: 1}),
		"chatglm":    modern(modernSpec{act: ffnSwiGLUFused}),
		"phimoe":     archGraphs["phi3"],
		"arctic":     arcticGraph,
		"minicpm3":   minicpm3Graph,
		// src/models/exaone4.cpp: OLMo-2's post-norm block; with a window
		// (the 32B) only the sliding-window layers rope.
		"exaone4": func(b *builder) {
			b.decoder(decoderSpec{iswa: true, olmo2: true, ropeSWAOnly: b.gm.anySWA})
		},
		// src/models/nemotron.cpp: layer norms with biases, ReLU² MLP.
		"nemotron": classic(classicSpec{act: ffnReLUSqr}),
		// nemotron_h_moe loads and builds as nemotron_h (src/models/
		// nemotron-h.cpp), lfm2moe as lfm2 (lfm2.cpp): their graphs take
		// the experts where a layer has ffn_gate_inp.
		"nemotron_h_moe": nemotronHGraph,
		"lfm2moe":        lfm2Graph,
	} {
		archGraphs[arch] = g
	}
}

// posPerEmbd is hparams.n_pos_per_embd(): four positions per token for
// the M-RoPE rope types (llama_model_rope_type: MROPE for qwen2vl and
// paddleocr, IMROPE for qwen3vl, qwen3vlmoe, qwen35, qwen35moe).
func (gm *graphModel) posPerEmbd() int64 {
	switch gm.arch {
	case "qwen2vl", "paddleocr", "qwen3vl", "qwen3vlmoe", "qwen35", "qwen35moe", "qwen3tts":
		return 4
	}
	return 1
}

// qkNormMode is where a modern decoder applies its per-head Q/K norms.
type qkNormMode uint8

const (
	qkNormNone       qkNormMode = iota
	qkNormEach                  // norm Q, rope Q, norm K, rope K (dots1)
	qkNormBeforeRope            // norm Q, norm K, rope Q, rope K (apertus)
	qkNormAfterRope             // rope Q, rope K, norm K, norm Q (hunyuan)
)

// moeMode is the FFN of a modern decoder's expert layers.
type moeMode uint8

const (
	moeNone        moeMode = iota
	moePlain               // build_moe_ffn, softmax, norm_w (olmoe, minimax-m2)
	moeShared              // build_moe_ffn plus an ungated-by-router shared expert (ernie4_5-moe)
	moeSharedFirst         // the shared expert built before build_moe_ffn (hunyuan-moe)
)

// modernSpec tells apart the Llama-shaped decoders modern() builds.
type modernSpec struct {
	layerNorm bool   // LLM_NORM (dbrx) instead of LLM_NORM_RMS
	ffnNorm   string // the FFN's norm weight: "ffn_norm.weight" unless set
	act       ffnAct
	qkNorm    qkNormMode
	moe       moeMode
	// normW is build_moe_ffn's norm_w: from the file's
	// expert_weights_norm (0), always (1) or never (-1).
	normW int8
}

func modern(m modernSpec) archGraph {
	return func(b *builder) { b.modern(m) }
}

func (b *builder) modern(m modernSpec) {
	gm := b.gm
	if m.ffnNorm == "" {
		m.ffnNorm = "ffn_norm.weight"
	}
	norm := b.normRMS
	if m.layerNorm {
		norm = b.normLN
	}
	mo := moeOpts{normW: m.normW > 0 || m.normW == 0 && gm.ds.normW, wScale: gm.ds.wScale, gating: gm.ds.gating}
	inpL := b.inpEmbd()
	pos := b.inpPos(gm.posPerEmbd())
	b.inpAttnKV(false)
	outIDs := b.inpOutIDs()
	last := gm.nLayer - 1
	for _, il := range b.layers {
		inpSA := inpL
		cur := norm(inpL, gm.w(il, "attn_norm.weight"), nil)
		q, k, v := b.qkv(il, cur, gm.headK, gm.nHead[il], gm.nHeadKV[il])
		qn, kn := gm.w(il, "attn_q_norm.weight"), gm.w(il, "attn_k_norm.weight")
		switch m.qkNorm {
		case qkNormEach:
			q = b.rope(b.normRMS(q, qn, nil), pos, nil)
			k = b.rope(b.normRMS(k, kn, nil), pos, nil)
		case qkNormBeforeRope:
			q = b.normRMS(q, qn, nil)
			k = b.normRMS(k, kn, nil)
			q = b.rope(q, pos, nil)
			k = b.rope(k, pos, nil)
		case qkNormAfterRope:
			q = b.rope(q, pos, nil)
			k = b.rope(k, pos, nil)
			k = b.normRMS(k, kn, nil)
			q = b.normRMS(q, qn, nil)
		default:
			q = b.rope(q, pos, nil)
			k = b.rope(k, pos, nil)
		}
		cur = b.attnKV(il, false, gm.w(il, "attn_output.weight"), gm.w(il, "attn_output.bias"), q, k, v, attnOpts{})
		if il == last {
			cur = b.getRows(cur, outIDs)
			inpSA = b.getRows(inpSA, outIDs)
		}
		ffnInp := b.add(cur, inpSA)
		cur = norm(ffnInp, gm.w(il, m.ffnNorm), nil)
		switch {
		case m.moe == moeNone || gm.w(il, "ffn_gate_inp.weight") == nil:
			cur = b.ffn(il, cur, "", m.act)
		default:
			o := mo
			o.expProbsB = gm.w(il, "exp_probs_b.bias")
			var shared *tensor
			if m.moe == moeSharedFirst {
				shared = b.ffn(il, cur, "_shexp", ffnSiLU)
			}
			moe := b.moeFFN(il, cur, b.moeDefaults(il, o))
			if shared != nil {
				moe = b.add(moe, shared)
			}
			if m.moe == moeShared && gm.w(il, "ffn_up_shexp.weight") != nil {
				moe = b.add(moe, b.ffn(il, cur, "_shexp", ffnSiLU))
			}
			cur = moe
		}
		inpL = b.add(cur, ffnInp)
	}
	b.expand(b.output(inpL, norm))
}

// unreducedArchs are the architectures whose graph reducedLayers must not
// shorten: Arctic's allocator state (a dense MLP and the experts in
// parallel, each keeping the layer input alive) does not repeat within the
// kept periods, and the reduced graph misses the peak by up to 22%
// (checked against the full graph on the zoo's arctic layout).
var unreducedArchs = map[string]bool{"arctic": true}

// arcticGraph mirrors src/models/arctic.cpp: a dense MLP on the
// attention's output and, in parallel, experts on the layer's input under
// their own norm, summed with the residual.
func arcticGraph(b *builder) {
	gm := b.gm
	inpL := b.inpEmbd()
	pos := b.inpPos(1)
	b.inpAttnKV(false)
	outIDs := b.inpOutIDs()
	last := gm.nLayer - 1
	for _, il := range b.layers {
		inpSA := inpL
		cur := b.normRMS(inpL, gm.w(il, "attn_norm.weight"), nil)
		q, k, v := b.qkv(il, cur, gm.headK, gm.nHead[il], gm.nHeadKV[il])
		q = b.rope(q, pos, nil)
		k = b.rope(k, pos, nil)
		cur = b.attnKV(il, false, gm.w(il, "attn_output.weight"), nil, q, k, v, attnOpts{})
		if il == last {
			cur = b.getRows(cur, outIDs)
			inpSA = b.getRows(inpSA, outIDs)
		}
		ffnInp := b.add(cur, inpSA)
		cur = b.normRMS(ffnInp, gm.w(il, "ffn_norm.weight"), nil)
		cur = b.ffn(il, cur, "", ffnSiLU)
		ffnOut := b.add(cur, ffnInp)
		cur = b.normRMS(inpSA, gm.w(il, "ffn_norm_exps.weight"), nil)
		cur = b.moeFFN(il, cur, b.moeDefaults(il, moeOpts{normW: true, wScale: gm.ds.wScale}))
		inpL = b.add(cur, ffnOut)
	}
	b.expand(b.output(inpL, b.normRMS))
}

// minicpm3Graph mirrors src/models/minicpm3.cpp: low-rank Q and KV
// projections expanded to per-head K and V (no MLA absorption: the cache
// holds full heads), the rope part of K shared by all heads, and
// MiniCPM's embedding, residual and logit scales.
func minicpm3Graph(b *builder) {
	gm := b.gm
	h := &gm.ds
	inpL := b.scale(b.inpEmbd())
	pos := b.inpPos(1)
	b.inpAttnKV(false)
	outIDs := b.inpOutIDs()
	last := gm.nLayer - 1
	n := b.ub.nTokens
	headV := gm.headV
	nope := gm.headK - h.rope
	for _, il := range b.layers {
		inpSA := inpL
		nHead := gm.nHead[il]
		cur := b.normRMS(inpL, gm.w(il, "attn_norm.weight"), nil)
		q := b.mulMat(gm.w(il, "attn_q_a.weight"), cur)
		q = b.normRMS(q, gm.w(il, "attn_q_a_norm.weight"), nil)
		q = b.mulMat(gm.w(il, "attn_q_b.weight"), q)
		q = b.reshape(q, gm.headK, nHead, n)
		kvPE := b.mulMat(gm.w(il, "attn_kv_a_mqa.weight"), cur)
		kvCmpr := b.view2d(kvPE, h.kvLora, n, kvPE.nb[1], 0)
		kPE := b.view3d(kvPE, h.rope, 1, n, kvPE.nb[1], kvPE.nb[1], rowSize(kvPE.typ, h.kvLora))
		kvCmpr = b.normRMS(kvCmpr, gm.w(il, "attn_kv_a_norm.weight"), nil)
		kv := b.mulMat(gm.w(il, "attn_kv_b.weight"), kvCmpr)
		rs := rowSize(kv.typ, nope+headV)
		kNope := b.view3d(kv, nope, nHead, n, rs, rs*uint64(nHead), 0)
		v := b.cont(b.view3d(kv, headV, nHead, n, rs, rs*uint64(nHead), rowSize(kv.typ, nope)))
		q = b.rope(q, pos, nil)
		kPE = b.rope(kPE, pos, nil)
		k := b.concat(kNope, b.repeat4d(kPE, h.rope, nHead, n, 1), 0)
		cur = b.attnKV(il, false, gm.w(il, "attn_output.weight"), nil, q, k, v, attnOpts{})
		if il == last {
			cur = b.getRows(cur, outIDs)
			inpSA = b.getRows(inpSA, outIDs)
		}
		cur = b.scale(cur)
		ffnInp := b.add(cur, inpSA)
		cur = b.normRMS(ffnInp, gm.w(il, "ffn_norm.weight"), nil)
		cur = b.ffn(il, cur, "", ffnSiLU)
		cur = b.scale(cur)
		inpL = b.add(cur, ffnInp)
	}
	out := b.normRMS(inpL, gm.global["output_norm.weight"], nil)
	out.output = true // res->t_embd, before the logit scale
	out = b.mm(gm.output(), b.scale(out), gm.global["output.scale"])
	out.output = true
	b.expand(out)
}

func init() {
	// src/models/bert.cpp (bert and nomic-bert share its graph).
	archGraphs["bert"] = bertGraph
	archGraphs["nomic-bert"] = bertGraph
}

// bertGraph mirrors src/models/bert.cpp for BERT and Nomic BERT: the
// token-type row and (BERT) learned positions added to the embeddings,
// a layer norm, then post-norm blocks whose attention runs over the
// ubatch alone (build_attn_inp_no_cache: an n_tokens × n_tokens mask, no
// cache). Pooling is built only for an embeddings context
// (build_pooling), which llama-fit-params does not create.
func bertGraph(b *builder) {
	gm := b.gm
	n := b.ub.nTokens
	pos := b.inpPos(1)
	inpL := b.inpEmbd()
	if te := gm.global["token_types.weight"]; te != nil {
		inpL = b.add(inpL, b.view1d(te, gm.nEmbd, 0))
	}
	if pe := gm.global["position_embd.weight"]; pe != nil {
		inpL = b.add(b.getRows(pe, pos), inpL)
	}
	inpL = b.normLN(inpL, gm.global["token_embd_norm.weight"], gm.global["token_embd_norm.bias"])
	maskType := gguf.TypeF32
	if b.ub.fa {
		maskType = gguf.TypeF16
	}
	mask := b.input(maskType, "attn_inp_kq_mask", n, n, 1, 1)
	outIDs := b.inpOutIDs()
	last := gm.nLayer - 1
	nomic := gm.arch == "nomic-bert"
	for _, il := range b.layers {
		q, k, v := b.qkv(il, inpL, gm.headK, gm.nHead[il], gm.nHeadKV[il])
		if nomic {
			q = b.rope(q, pos, nil)
			k = b.rope(k, pos, nil)
		}
		b.expand(q)
		b.expand(k)
		b.expand(v)
		cur := b.attnMHA(q, k, v, mask, attnOpts{})
		cur = b.mm(gm.w(il, "attn_output.weight"), cur, nil)
		if bias := gm.w(il, "attn_output.bias"); bias != nil {
			cur = b.add(cur, bias)
		}
		if il == last {
			cur = b.getRows(cur, outIDs)
			inpL = b.getRows(inpL, outIDs)
		}
		cur = b.add(cur, inpL)
		cur = b.normLN(cur, gm.w(il, "attn_output_norm.weight"), gm.w(il, "attn_output_norm.bias"))
		ffnInp := cur
		cur = b.ffn(il, cur, "", ffnGELU)
		cur = b.add(cur, ffnInp)
		inpL = b.normLN(cur, gm.w(il, "layer_output_norm.weight"), gm.w(il, "layer_output_norm.bias"))
	}
	inpL.output = true // res->t_embd
	b.expand(inpL)
}

func init() { archGraphs["falcon-h1"] = falconH1Graph }

// falconH1Graph mirrors src/models/falcon-h1.cpp: every layer runs
// attention and a Mamba-2 mixer side by side on two norms of its input
// (build_norm is called twice), adds their outputs and the input, then a
// gated SiLU MLP.
func falconH1Graph(b *builder) {
	gm := b.gm
	inpL := b.inpEmbd()
	pos := b.inpPos(1)
	rs := b.inpMemHybrid()
	outIDs := b.inpOutIDs()
	last := gm.nLayer - 1
	for _, il := range b.layers {
		inpSA := inpL
		cur := b.normRMS(inpL, gm.w(il, "attn_norm.weight"), nil)
		q, k, v := b.qkv(il, cur, gm.headK, gm.nHead[il], gm.nHeadKV[il])
		q = b.rope(q, pos, nil)
		k = b.rope(k, pos, nil)
		attnOut := b.attnKV(il, false, gm.w(il, "attn_output.weight"), nil, q, k, v, attnOpts{})
		cur = b.normRMS(inpL, gm.w(il, "attn_norm.weight"), nil)
		ssmOut := b.mamba2Layer(rs, cur, il)
		cur = b.add(attnOut, ssmOut)
		inpSA = b.add(cur, inpSA)
		if il == last {
			inpSA = b.getRows(inpSA, outIDs)
		}
		cur = b.normRMS(inpSA, gm.w(il, "ffn_norm.weight"), nil)
		cur = b.ffn(il, cur, "", ffnSiLU)
		inpL = b.add(cur, inpSA)
	}
	b.expand(b.output(inpL, b.normRMS))
}
