package planner

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
	tokNorm  bool // bloom: a layer norm on the token embeddings
	qScale   bool // phi2: ggml_scale(Qcur) after rope
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
			cur = b.ffn(il, cur, "", ffnSiLU)
			inpL = b.add(cur, ffnInp)
		}
	}
	b.expand(b.outputNorm(inpL, norm))
}
