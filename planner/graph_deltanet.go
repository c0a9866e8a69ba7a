package planner

// Gated DeltaNet hybrids: src/models/qwen3next.cpp, qwen35.cpp and
// qwen35moe.cpp over src/models/delta-net-base.cpp. Their linear-attention
// layers convolve the QKV projection over the cached columns and run the
// fused gated delta rule (ggml_gated_delta_net: the CPU backend supports
// it, so resolve_fused_ops enables both the autoregressive and the chunked
// variant); every full_attention_interval-th layer attends with a sigmoid
// output gate.

// deltaNetSpec tells Qwen3-Next from Qwen3.5.
type deltaNetSpec struct {
	// next: Qwen3-Next's fused beta/alpha projection (ssm_ba) and its
	// Q/K head repeat, kept even with the fused op (qwen3next.cpp,
	// TAG_GGML_GDN_BCAST); Qwen3.5 projects beta and alpha apart and
	// broadcasts in the fused op.
	next bool
	// mrope: Qwen3.5's multi-section rope (LLAMA_ROPE_TYPE_IMROPE, four
	// positions per token).
	mrope bool
}

func deltaNetGraph(d deltaNetSpec) archGraph {
	return func(b *builder) { b.deltaNet(d) }
}

func (b *builder) deltaNet(d deltaNetSpec) {
	gm := b.gm
	inpL := b.inpEmbd()
	rs := b.inpMemHybrid()
	perEmbd := int64(1)
	if d.mrope {
		perEmbd = 4
	}
	pos := b.inpPos(perEmbd)
	outIDs := b.inpOutIDs()
	for _, il := range b.layers {
		inpSA := inpL
		cur := b.normRMS(inpL, gm.w(il, "attn_norm.weight"), nil)
		b.expand(cur)
		if gm.recr[il] {
			cur = b.deltaNetLayer(d, rs, cur, il)
		} else {
			cur = b.gatedAttention(cur, pos, il)
		}
		if il == gm.nLayer-1 && !b.ub.rules.hNextn {
			cur = b.getRows(cur, outIDs)
			inpSA = b.getRows(inpSA, outIDs)
		}
		cur = b.add(cur, inpSA)
		residual := cur
		cur = b.normRMS(cur, gm.w(il, "post_attention_norm.weight"), nil)
		if gm.w(il, "ffn_gate_inp.weight") != nil {
			moe := b.moeFFN(il, cur, b.moeDefaults(il, moeOpts{normW: true, wScale: gm.ds.wScale}))
			if gm.w(il, "ffn_up_shexp.weight") != nil {
				shared := b.ffn(il, cur, "_shexp", ffnSiLU)
				gate := b.unary(b.mulMat(gm.w(il, "ffn_gate_inp_shexp.weight"), cur))
				moe = b.add(moe, b.mul(shared, gate))
			}
			cur = moe
		} else {
			cur = b.ffn(il, cur, "", ffnSiLU)
		}
		inpL = b.add(cur, residual)
	}
	b.hNextnOutput(inpL, outIDs)
}

// gatedAttention mirrors build_layer_attn of qwen3next.cpp / qwen35.cpp:
// one projection for the query and its gate, Q/K norms, rope, attention
// without an output projection, then the sigmoid gate and the output.
func (b *builder) gatedAttention(cur, pos *tensor, il int) *tensor {
	gm := b.gm
	head, nHead, nTok := gm.headK, gm.nHead[il], b.ub.nTokens
	full := b.mulMat(gm.w(il, "attn_q.weight"), cur)
	q := b.view3d(full, head, nHead, nTok, rowSize(full.typ, 2*head), rowSize(full.typ, 2*head*nHead), 0)
	gate := b.view3d(full, head, nHead, nTok, rowSize(full.typ, 2*head), rowSize(full.typ, 2*head*nHead), rowSize(full.typ, head))
	k := b.reshape(b.mulMat(gm.w(il, "attn_k.weight"), cur), head, gm.nHeadKV[il], nTok)
	v := b.reshape(b.mulMat(gm.w(il, "attn_v.weight"), cur), head, gm.nHeadKV[il], nTok)
	q = b.normRMS(q, gm.w(il, "attn_q_norm.weight"), nil)
	k = b.normRMS(k, gm.w(il, "attn_k_norm.weight"), nil)
	q = b.rope(q, pos, nil)
	k = b.rope(k, pos, nil)
	cur = b.attnKV(il, false, nil, nil, q, k, v, attnOpts{})
	gate = b.unary(b.contNd(gate, head*nHead, nTok))
	cur = b.mul(cur, gate)
	return b.mulMat(gm.w(il, "attn_output.weight"), cur)
}

// deltaNetLayer mirrors build_layer_attn_linear (n_rs_seq = 0).
func (b *builder) deltaNetLayer(d deltaNetSpec, inp *rsInput, cur *tensor, il int) *tensor {
	gm, p := b.gm, &b.gm.ssm
	w := func(name string) *tensor { return gm.w(il, name) }
	headK, nK, nV := p.dState, p.nGroup, p.dtRank
	if nK <= 0 || nV <= 0 || nV%nK != 0 || p.dInner%nV != 0 {
		panic(errMissingTensor{})
	}
	headV := p.dInner / nV
	nSeqs := inp.nSeqs
	nTok := b.ub.nTokens / nSeqs

	qkv, z := b.qkvz(d, il, cur, nTok, nSeqs)

	var beta, gate *tensor
	if d.next {
		ba := b.mulMat(w("ssm_ba.weight"), cur)
		ba = b.reshape(ba, 2*nV/nK, nK, nTok, nSeqs)
		bv := b.view4d(ba, nV/nK, nK, nTok, nSeqs, ba.nb[1], ba.nb[2], ba.nb[3], 0)
		av := b.view4d(ba, nV/nK, nK, nTok, nSeqs, ba.nb[1], ba.nb[2], ba.nb[3], uint64(nV/nK)*ba.nb[0])
		beta = b.unary(b.cont(bv))
		alpha := b.contNd(av, nV, nTok, nSeqs)
		gate = b.mul(b.unary(b.add(alpha, w("ssm_dt.bias"))), w("ssm_a"))
		beta = b.reshape(beta, 1, nV, nTok, nSeqs)
	} else {
		beta = b.mulMat(w("ssm_beta.weight"), cur)
		beta = b.unary(b.reshape(beta, 1, nV, nTok, nSeqs))
		alpha := b.mulMat(w("ssm_alpha.weight"), cur)
		alpha = b.reshape(alpha, nV, nTok, nSeqs)
		gate = b.mul(b.unary(b.add(alpha, w("ssm_dt.bias"))), w("ssm_a"))
	}
	gate = b.reshape(gate, 1, nV, nTok, nSeqs)

	kernel := w("ssm_conv1d.weight")
	if kernel == nil {
		panic(errMissingTensor{})
	}
	channels := p.dInner + 2*nK*headK
	r, s := b.rsState(il, p.embdR), b.rsState(il, p.embdS)
	// build_conv_state
	states := b.buildRS(inp, r, p.embdR, nil)
	states = b.reshape(states, kernel.ne[0]-1, channels, nSeqs)
	convIn := b.concat(states, b.transpose(qkv), 0)
	last := b.view3d(convIn, kernel.ne[0]-1, channels, nSeqs, convIn.nb[1], convIn.nb[2], rowSize(convIn.typ, convIn.ne[0]-states.ne[0]))
	b.expand(b.cpy(last, b.view2d(r, (kernel.ne[0]-1)*channels, nSeqs, r.nb[1], 0)))

	state := b.buildRS(inp, s, p.embdS, nil)
	state = b.reshape(state, headV, headV, nV, nSeqs)
	conv := b.unary(b.ssmConv(convIn, kernel))
	qkvDim := headK*nK*2 + headV*nV
	nb1 := rowSize(conv.typ, qkvDim)
	q := b.view4d(conv, headK, nK, nTok, nSeqs, rowSize(conv.typ, headK), nb1, nb1*uint64(nTok), 0)
	k := b.view4d(conv, headK, nK, nTok, nSeqs, rowSize(conv.typ, headK), nb1, nb1*uint64(nTok), rowSize(conv.typ, headK*nK))
	v := b.view4d(conv, headV, nV, nTok, nSeqs, rowSize(conv.typ, headV), nb1, nb1*uint64(nTok), rowSize(conv.typ, 2*headK*nK))
	q = b.l2Norm(q)
	k = b.l2Norm(k)
	if d.next && nK != nV {
		rep := nV / nK
		q = b.repeat4d(b.reshape(q, headK, 1, nK, nTok*nSeqs), headK, rep, nK, nTok*nSeqs)
		k = b.repeat4d(b.reshape(k, headK, 1, nK, nTok*nSeqs), headK, rep, nK, nTok*nSeqs)
		q = b.reshape(q, headK, nK*rep, nTok, nSeqs)
		k = b.reshape(k, headK, nK*rep, nTok, nSeqs)
	}

	// build_recurrent_attn with build_delta_net_fused.
	res := b.gatedDeltaNet(q, k, v, gate, beta, state)
	out := b.view4d(res, headV, nV, nTok, nSeqs, rowSize(res.typ, headV), rowSize(res.typ, headV*nV), rowSize(res.typ, headV*nV*nTok), 0)
	newState := b.view4d(res, headV, headV, nV, nSeqs, rowSize(res.typ, headV), rowSize(res.typ, headV*headV),
		rowSize(res.typ, headV*headV*nV), rowSize(res.typ, headV*nV*nTok*nSeqs))
	b.expand(b.cpy(newState, b.view2d(s, p.embdS, nSeqs, s.nb[1], 0)))

	// build_norm_gated
	z = b.reshape(z, headV, nV, nTok, nSeqs)
	normed := b.mul(b.normRMS(out, w("ssm_norm.weight"), nil), b.unary(z))
	normed = b.reshape(normed, headV*nV, nTok, nSeqs)
	cur = b.mulMat(w("ssm_out.weight"), normed)
	return b.reshape(cur, gm.nEmbd, nTok*nSeqs)
}

// qkvz mirrors build_qkvz: the attn_qkv and attn_gate projections, or, in
// Qwen3-Next files converted before PR 18683 (2026-01-11), the single
// ssm_in projection split per K head into Q, K, V and the gate z, made
// contiguous and concatenated back into the convolution's input.
func (b *builder) qkvz(d deltaNetSpec, il int, cur *tensor, nTok, nSeqs int64) (qkv, z *tensor) {
	gm, p := b.gm, &b.gm.ssm
	if wqkv := gm.w(il, "attn_qkv.weight"); wqkv != nil || !d.next {
		qkv = b.mulMat(wqkv, cur)
		qkv = b.reshape(qkv, qkv.ne[0], nTok, nSeqs)
		return qkv, b.mulMat(gm.w(il, "attn_gate.weight"), cur)
	}
	headK, nK, nV := p.dState, p.nGroup, p.dtRank
	headV := p.dInner / nV
	perK := headV * nV / nK
	mixed := b.mulMat(gm.w(il, "ssm_in.weight"), cur)
	mixed = b.reshape(mixed, 2*headK+2*perK, nK, nTok, nSeqs)
	view := func(ne0, off int64) *tensor {
		return b.view4d(mixed, ne0, nK, nTok, nSeqs, mixed.nb[1], mixed.nb[2], mixed.nb[3], rowSize(mixed.typ, off))
	}
	q, k, v := view(headK, 0), view(headK, headK), view(perK, 2*headK)
	z = b.cont(view(perK, 2*headK+perK))
	q = b.contNd(q, headK*nK, nTok, nSeqs)
	k = b.contNd(k, headK*nK, nTok, nSeqs)
	v = b.contNd(v, headV*nV, nTok, nSeqs)
	return b.concat(b.concat(q, k, 0), v, 0), z
}
