package planner

import "github.com/modelfit/modelfit/gguf"

// The recurrent layers' graphs: Mamba-2 (src/models/mamba-base.cpp,
// build_mamba2_layer), the recurrent-state input and loads of
// src/llama-graph.cpp (build_rs_inp, build_rs) and the cache of
// src/llama-memory-recurrent.cpp as a reserve sees it (init_full: every
// cell, head 0, the zeroed cell 0).

// ssmParams are the recurrent layers' hyperparameters
// (llama_hparams::ssm_*, n_embd_r, n_embd_s).
type ssmParams struct {
	dConv, dInner, dState, nGroup, dtRank int64
	// lCache is LFM2's shortconv.l_cache.
	lCache int64
	// embdR and embdS are a cell's conv and SSM state sizes in floats.
	embdR, embdS int64
	// ropeOff: granitehybrid's rope.scaling.finetuned = false disables
	// rope (granite-hybrid.cpp, hparams.rope_pattern).
	ropeOff bool
	// dtBCRMS is Falcon-Mamba's ssm.dt_b_c_rms: RMS norms of dt, B and C.
	dtBCRMS bool
}

func newSSMParams(m *model) ssmParams {
	h := &m.h
	p := ssmParams{
		dConv: int64(h.SSMConvKernel), dInner: int64(h.SSMInnerSize), dState: int64(h.SSMStateSize),
		nGroup: int64(h.SSMGroupCount), lCache: int64(h.ShortConvLCache),
	}
	md := &m.f.Metadata
	pfx := h.Architecture + "."
	if v, ok := md.Uint(pfx + "ssm.time_step_rank"); ok {
		p.dtRank = int64(min(v, 1<<30))
	}
	if v, ok := md.Get(pfx + "ssm.dt_b_c_rms"); ok {
		p.dtBCRMS, _ = v.Bool()
	}
	if v, ok := md.Get(pfx + "rope.scaling.finetuned"); ok {
		if on, isBool := v.Bool(); isBool && !on {
			p.ropeOff = true
		}
	}
	// llama_hparams::n_embd_r and n_embd_s (src/llama-hparams.cpp).
	if p.lCache > 0 {
		p.embdR = int64(h.EmbeddingLength) * (p.lCache - 1)
	} else if p.dConv > 0 {
		p.embdR = (p.dConv - 1) * (p.dInner + 2*p.nGroup*p.dState)
	}
	p.embdS = p.dState * p.dInner
	return p
}

// rsInput mirrors llm_graph_input_rs for a reserve: s_copy holds one
// source cell per cell of the cache (n_rs = the cache's size), the first
// n_seqs of them for the sequences of the batch, the rest copied as they
// are.
type rsInput struct {
	main, extra *tensor
	nRS, nSeqs  int64
}

// inpRS mirrors build_rs_inp_impl. The recurrent cache has max(1,
// n_seq_max) cells (llama_model::create_memory), all of them used in the
// reserve graph (llama_memory_recurrent_context::get_n_rs when is_full).
func (b *builder) inpRS() *rsInput {
	n := b.ub.nSeqs
	sCopy := b.input(gguf.TypeI32, "inp_s_copy", n, 1, 1, 1)
	return &rsInput{
		main:  b.view1d(sCopy, n, 0),
		extra: b.view1d(sCopy, 0, uint64(n)*sCopy.nb[0]),
		nRS:   n,
		nSeqs: n,
	}
}

// rsState is layer il's conv (r) or SSM (s) state, [size, cells] f32
// (llama_memory_recurrent's r_l and s_l, on the layer's device).
func (b *builder) rsState(il int, size int64) *tensor {
	t := external(gguf.TypeF32, size, b.ub.nStream)
	t.layer = int32(il)
	return t
}

// buildRS mirrors llm_graph_context::build_rs with rs_head = rs_z = 0:
// zero the first cell in place, gather the batch's states (getRows, or
// get_state_rows for the SSM scan), copy the others.
func (b *builder) buildRS(inp *rsInput, s *tensor, size int64, getRows func(states, ids *tensor) *tensor) *tensor {
	states := b.reshape(s, size, s.ne[1])
	zero := b.view1d(states, size, 0)
	b.expand(b.inplace(opScale, zero))
	var out *tensor
	if getRows != nil {
		out = getRows(states, inp.main)
	} else {
		out = b.getRows(states, inp.main)
	}
	b.expand(out)
	extra := b.getRows(states, inp.extra)
	b.expand(b.cpy(extra, b.view2d(s, size, inp.nRS-inp.nSeqs, s.nb[1], uint64(inp.nSeqs)*s.nb[1])))
	return out
}

// mamba2Layer mirrors llm_build_mamba_base::build_mamba2_layer (n_rs_seq
// = 0: one state snapshot).
func (b *builder) mamba2Layer(inp *rsInput, cur *tensor, il int) *tensor {
	gm, p := b.gm, &b.gm.ssm
	w := func(name string) *tensor { return gm.w(il, name) }
	nHead := p.dtRank
	if nHead <= 0 || p.dInner%nHead != 0 || p.nGroup <= 0 {
		panic(errMissingTensor{})
	}
	headDim := p.dInner / nHead
	nSeqs := inp.nSeqs
	nTok := b.ub.nTokens / nSeqs
	convDim := p.dInner + 2*p.nGroup*p.dState
	const f32 = 4

	r, s := b.rsState(il, p.embdR), b.rsState(il, p.embdS)
	conv := b.buildRS(inp, r, p.embdR, nil)
	conv = b.reshape(conv, p.dConv-1, convDim, nSeqs)
	cur = b.reshape(cur, cur.ne[0], nTok, nSeqs)
	zx := b.mm(w("ssm_in.weight"), cur, w("ssm_in.scale"))
	z := b.view4d(zx, headDim, nHead, nTok, nSeqs, uint64(headDim)*zx.nb[0], zx.nb[1], zx.nb[2], 0)
	xBC := b.view3d(zx, convDim, nTok, nSeqs, zx.nb[1], zx.nb[2], uint64(p.dInner)*f32)
	dt := b.view3d(zx, nHead, nTok, nSeqs, zx.nb[1], zx.nb[2], uint64(2*p.dInner+2*p.nGroup*p.dState)*f32)

	convX := b.concat(conv, b.transpose(xBC), 0)
	last := b.view3d(convX, p.dConv-1, convDim, nSeqs, convX.nb[1], convX.nb[2], uint64(nTok)*convX.nb[0])
	b.expand(b.cpy(last, b.view2d(r, (p.dConv-1)*convDim, nSeqs, r.nb[1], 0)))
	xBC = b.ssmConv(convX, w("ssm_conv1d.weight"))
	xBC = b.add(xBC, w("ssm_conv1d.bias"))
	xBC = b.unary(xBC)

	x := b.view4d(xBC, headDim, nHead, nTok, nSeqs, uint64(headDim)*xBC.nb[0], xBC.nb[1], xBC.nb[2], 0)
	bm := b.view4d(xBC, p.dState, p.nGroup, nTok, nSeqs, uint64(p.dState)*xBC.nb[0], xBC.nb[1], xBC.nb[2], uint64(p.dInner)*f32)
	cm := b.view4d(xBC, p.dState, p.nGroup, nTok, nSeqs, uint64(p.dState)*xBC.nb[0], xBC.nb[1], xBC.nb[2], uint64(p.dInner+p.nGroup*p.dState)*f32)
	dt = b.add(b.cont(dt), w("ssm_dt.bias"))
	a := w("ssm_a")
	y := b.buildRS(inp, s, p.embdS, func(states, ids *tensor) *tensor {
		ssm := b.reshape(states, p.dState, headDim, nHead, states.ne[1])
		return b.ssmScan(ssm, x, dt, a, bm, cm, ids)
	})
	d := p.dState * p.dInner
	b.expand(b.cpy(
		b.view3d(y, d, nSeqs, 1, uint64(d)*f32, uint64(d*nSeqs)*f32, uint64(x.nelements())*f32),
		b.view3d(s, d, nSeqs, 1, s.nb[1], uint64(s.ne[1])*s.nb[1], 0)))
	yv := b.view4d(y, headDim, nHead, nTok, nSeqs, x.nb[1], uint64(nHead)*x.nb[1], uint64(nTok*nHead)*x.nb[1], 0)
	yv = b.add(yv, b.mul(x, w("ssm_d")))
	yv = b.glu(b.cont(z), yv)
	if norm := w("ssm_norm.weight"); norm != nil {
		yv = b.reshape(yv, p.dInner/p.nGroup, p.nGroup, nTok, nSeqs)
		yv = b.normRMS(yv, norm, nil)
	}
	yv = b.reshape(yv, p.dInner, nTok, nSeqs)
	cur = b.mm(w("ssm_out.weight"), yv, w("ssm_out.scale"))
	return b.reshape(cur, cur.ne[0], nTok*nSeqs)
}

// inpMemHybrid mirrors build_inp_mem_hybrid: the recurrent-state input and
// the attention cache's inputs.
func (b *builder) inpMemHybrid() *rsInput {
	rs := b.inpRS()
	b.inpAttnKV(false)
	return rs
}

// nemotronHGraph mirrors src/models/nemotron-h.cpp: Mamba-2, attention
// (no rope) and squared-ReLU FFN layers, each its own residual block,
// ending in hNextnOutput.
func nemotronHGraph(b *builder) {
	gm := b.gm
	inpL := b.inpEmbd()
	b.expand(inpL)
	rs := b.inpMemHybrid()
	outIDs := b.inpOutIDs()
	for _, il := range b.layers {
		inpSA := inpL
		cur := b.normRMS(inpL, gm.w(il, "attn_norm.weight"), nil)
		switch {
		case gm.recr[il]:
			cur = b.mamba2Layer(rs, cur, il)
		case gm.w(il, "attn_q.weight") != nil || gm.w(il, "attn_qkv.weight") != nil:
			q, k, v := b.qkv(il, cur, gm.headK, gm.nHead[il], gm.nHeadKV[il])
			cur = b.attnKV(il, false, gm.w(il, "attn_output.weight"), gm.w(il, "attn_output.bias"), q, k, v, attnOpts{})
		case gm.w(il, "ffn_gate_inp.weight") != nil:
			cur = b.nemotronHMoE(il, cur)
		default:
			cur = b.ffn(il, cur, "", ffnReLUSqr)
		}
		if il == gm.nLayer-1 && !b.ub.rules.hNextn {
			cur = b.getRows(cur, outIDs)
			inpSA = b.getRows(inpSA, outIDs)
		}
		inpL = b.add(cur, inpSA)
	}
	b.hNextnOutput(inpL, outIDs)
}

// hNextnOutput is the tail of the graphs with a next-token-prediction
// head: the final norm, a graph output (res->t_h_nextn), then the output
// rows and the logits (graphRules.hNextn); older builds selected the rows
// in the last layer and end like every decoder.
func (b *builder) hNextnOutput(cur, outIDs *tensor) {
	if !b.ub.rules.hNextn {
		b.expand(b.output(cur, b.normRMS))
		return
	}
	cur = b.normRMS(cur, b.gm.global["output_norm.weight"], nil)
	cur.output = true
	b.expand(b.output(b.getRows(cur, outIDs), func(cur, _, _ *tensor) *tensor { return cur }))
}

// nemotronHMoE mirrors nemotron-h.cpp's MoE branch: router logits first,
// sigmoid routing over up-only squared-ReLU experts (optionally in a
// latent space) and a shared expert.
func (b *builder) nemotronHMoE(il int, cur *tensor) *tensor {
	gm := b.gm
	latent := cur
	if w := gm.w(il, "ffn_latent_down.weight"); w != nil {
		latent = b.mulMat(w, cur)
	}
	logits := b.mulMat(gm.w(il, "ffn_gate_inp.weight"), cur)
	moe := b.moeFFN(il, latent, b.moeDefaults(il, moeOpts{
		act: ffnReLUSqr, normW: gm.ds.normW, wScale: gm.ds.wScale, gating: gateSigmoid,
		expProbsB: gm.w(il, "exp_probs_b.bias"), logits: logits,
	}))
	if w := gm.w(il, "ffn_latent_up.weight"); w != nil {
		moe = b.mulMat(w, moe)
	}
	return b.add(moe, b.ffn(il, cur, "_shexp", ffnReLUSqr))
}

// graniteHybridGraph mirrors src/models/granite-hybrid.cpp: Mamba-2 and
// attention layers (rope unless rope.scaling.finetuned is false), each
// followed by a dense or MoE FFN with residual and logit scales.
func graniteHybridGraph(b *builder) {
	gm := b.gm
	inpL := b.inpEmbd()
	rs := b.inpMemHybrid()
	outIDs := b.inpOutIDs()
	var pos *tensor
	if !gm.ssm.ropeOff {
		pos = b.inpPos(1)
	}
	last := gm.nLayer - 1
	for _, il := range b.layers {
		inpSA := inpL
		cur := b.normRMS(inpL, gm.w(il, "attn_norm.weight"), nil)
		if gm.recr[il] {
			cur = b.mamba2Layer(rs, cur, il)
		} else {
			q, k, v := b.qkv(il, cur, gm.headK, gm.nHead[il], gm.nHeadKV[il])
			if pos != nil {
				q = b.rope(q, pos, nil)
				k = b.rope(k, pos, nil)
			}
			cur = b.attnKV(il, false, gm.w(il, "attn_output.weight"), gm.w(il, "attn_output.bias"), q, k, v, attnOpts{})
		}
		if il == last {
			cur = b.getRows(cur, outIDs)
			inpSA = b.getRows(inpSA, outIDs)
		}
		if gm.residualScale {
			cur = b.scale(cur)
		}
		ffnInp := b.add(cur, inpSA)
		cur = b.normRMS(ffnInp, gm.w(il, "ffn_norm.weight"), nil)
		if gm.w(il, "ffn_gate_inp.weight") == nil {
			cur = b.ffn(il, cur, "", ffnSiLU)
		} else {
			moe := b.moeFFN(il, cur, b.moeDefaults(il, moeOpts{normW: true, wScale: gm.ds.wScale}))
			if gm.w(il, "ffn_up_shexp.weight") != nil {
				moe = b.add(moe, b.ffn(il, cur, "_shexp", ffnSiLU))
			}
			cur = moe
		}
		if gm.residualScale {
			cur = b.scale(cur)
		}
		inpL = b.add(cur, ffnInp)
	}
	out := b.output(inpL, b.normRMS)
	if gm.logitScale {
		out.output = false
		out = b.scale(out)
		out.output = true
	}
	b.expand(out)
}

// inpMemHybridISWA mirrors build_inp_mem_hybrid_iswa: the recurrent-state
// input and the full and sliding-window caches' inputs, without the
// quantized caches' Hadamard rotations (it builds none).
func (b *builder) inpMemHybridISWA() *rsInput {
	rs := b.inpRS()
	a := b.inpAttnKV(true)
	a.kRot, a.vRot, a.kRotSWA, a.vRotSWA = nil, nil, nil, nil
	return rs
}

// lfm2Graph mirrors src/models/lfm2.cpp: gated short-convolution and
// attention (Q/K norms, rope) layers, each followed by a SwiGLU FFN or
// experts (lfm2moe), the output norm under token_embd_norm.
func lfm2Graph(b *builder) {
	gm := b.gm
	cur := b.inpEmbd()
	b.expand(cur)
	iswa := gm.anySWA && b.ub.nKVSWA > 0
	var rs *rsInput
	if iswa {
		rs = b.inpMemHybridISWA()
	} else {
		rs = b.inpMemHybrid()
	}
	pos := b.inpPos(1)
	outIDs := b.inpOutIDs()
	last := gm.nLayer - 1
	for _, il := range b.layers {
		prev := cur
		cur = b.normRMS(cur, gm.w(il, "attn_norm.weight"), nil)
		if gm.recr[il] {
			cur = b.shortConv(rs, cur, il)
		} else {
			q, k, v := b.qkv(il, cur, gm.headK, gm.nHead[il], gm.nHeadKV[il])
			q = b.normRMS(q, gm.w(il, "attn_q_norm.weight"), nil)
			k = b.normRMS(k, gm.w(il, "attn_k_norm.weight"), nil)
			q = b.rope(q, pos, nil)
			k = b.rope(k, pos, nil)
			cur = b.attnKV(il, iswa && gm.swa[il], gm.w(il, "attn_output.weight"), nil, q, k, v, attnOpts{})
		}
		if il == last {
			cur = b.getRows(cur, outIDs)
			prev = b.getRows(prev, outIDs)
		}
		cur = b.add(prev, cur)
		ffnIn := b.normRMS(cur, gm.w(il, "ffn_norm.weight"), nil)
		var ffnOut *tensor
		if gm.w(il, "ffn_gate_inp.weight") != nil {
			ffnOut = b.moeFFN(il, ffnIn, b.moeDefaults(il, moeOpts{
				normW: true, wScale: gm.ds.wScale, gating: gm.ds.gating, expProbsB: gm.w(il, "exp_probs_b.bias"),
			}))
		} else {
			ffnOut = b.ffn(il, ffnIn, "", ffnSiLU)
		}
		cur = b.add(cur, ffnOut)
	}
	norm := gm.global["token_embd_norm.weight"]
	if norm == nil {
		norm = gm.global["output_norm.weight"]
	}
	cur = b.normRMS(cur, norm, nil)
	cur.output = true
	cur = b.mm(gm.output(), cur, gm.global["output.scale"])
	cur.output = true
	b.expand(cur)
}

// shortConv mirrors lfm2.cpp's build_shortconv_block (causal, n_rs_seq =
// 0): the input projection split in three, B·x convolved over the cached
// columns, gated by C.
func (b *builder) shortConv(inp *rsInput, cur *tensor, il int) *tensor {
	gm, p := b.gm, &b.gm.ssm
	if p.lCache < 2 {
		panic(errMissingTensor{})
	}
	dConv := p.lCache - 1
	nSeqs := inp.nSeqs
	nTok := b.ub.nTokens / nSeqs
	cur = b.reshape(cur, cur.ne[0], nTok, nSeqs)
	bcx := b.mulMat(gm.w(il, "shortconv.in_proj.weight"), cur)
	chunk := bcx.ne[0] / 3
	bm := b.view3d(bcx, chunk, bcx.ne[1], bcx.ne[2], bcx.nb[1], bcx.nb[2], 0)
	cm := b.view3d(bcx, chunk, bcx.ne[1], bcx.ne[2], bcx.nb[1], bcx.nb[2], uint64(chunk)*bcx.nb[0])
	x := b.view3d(bcx, chunk, bcx.ne[1], bcx.ne[2], bcx.nb[1], bcx.nb[2], uint64(2*chunk)*bcx.nb[0])
	bx := b.transpose(b.mul(bm, x))
	r := b.rsState(il, p.embdR)
	conv := b.buildRS(inp, r, p.embdR, nil)
	conv = b.reshape(conv, dConv, gm.nEmbd, nSeqs)
	bx = b.concat(conv, bx, 0)
	snap := b.view3d(bx, dConv, bx.ne[1], bx.ne[2], bx.nb[1], bx.nb[2], uint64(bx.ne[0]-dConv)*bx.nb[0])
	b.expand(b.cpy(snap, b.view2d(r, dConv*gm.nEmbd, nSeqs, r.nb[1], 0)))
	y := b.mul(cm, b.ssmConv(bx, gm.w(il, "shortconv.conv.weight")))
	y = b.mulMat(gm.w(il, "shortconv.out_proj.weight"), y)
	return b.reshape(y, y.ne[0], nTok*nSeqs)
}

// mamba1Layer mirrors llm_build_mamba_base::build_mamba_layer: one
// single-channel head per inner channel, B, C and dt from the x
// projection (RMS-normed for Falcon-Mamba and Jamba).
func (b *builder) mamba1Layer(inp *rsInput, cur *tensor, il int) *tensor {
	gm, p := b.gm, &b.gm.ssm
	w := func(name string) *tensor { return gm.w(il, name) }
	dtRank := p.dtRank
	if dtRank <= 0 || p.dConv < 1 {
		panic(errMissingTensor{})
	}
	nSeqs := inp.nSeqs
	nTok := b.ub.nTokens / nSeqs
	const f32 = 4

	r, s := b.rsState(il, p.embdR), b.rsState(il, p.embdS)
	conv := b.buildRS(inp, r, p.embdR, nil)
	conv = b.reshape(conv, p.dConv-1, p.dInner, nSeqs)
	cur = b.reshape(cur, cur.ne[0], nTok, nSeqs)
	xz := b.mm(w("ssm_in.weight"), cur, w("ssm_in.scale"))
	x := b.view3d(xz, p.dInner, xz.ne[1], xz.ne[2], xz.nb[1], xz.nb[2], 0)
	z := b.view3d(xz, p.dInner, xz.ne[1], xz.ne[2], xz.nb[1], xz.nb[2], uint64(p.dInner)*f32)

	convX := b.concat(conv, b.transpose(x), 0)
	last := b.view3d(convX, p.dConv-1, p.dInner, nSeqs, convX.nb[1], convX.nb[2], uint64(nTok)*convX.nb[0])
	b.expand(b.cpy(last, b.view1d(r, (p.dConv-1)*p.dInner*nSeqs, 0)))
	x = b.ssmConv(convX, w("ssm_conv1d.weight"))
	x = b.add(x, w("ssm_conv1d.bias"))
	x = b.unary(x)

	xdb := b.mulMat(w("ssm_x.weight"), x)
	dt := b.view3d(xdb, dtRank, nTok, nSeqs, xdb.nb[1], xdb.nb[2], 0)
	bm := b.view4d(xdb, p.dState, 1, nTok, nSeqs, uint64(p.dState)*xdb.nb[0], xdb.nb[1], xdb.nb[2], uint64(dtRank)*f32)
	cm := b.view4d(xdb, p.dState, 1, nTok, nSeqs, uint64(p.dState)*xdb.nb[0], xdb.nb[1], xdb.nb[2], uint64(dtRank+p.dState)*f32)
	dtNorm, bNorm, cNorm := w("ssm_dt_norm.weight"), w("ssm_b_norm.weight"), w("ssm_c_norm.weight")
	if p.dtBCRMS || dtNorm != nil && bNorm != nil && cNorm != nil {
		dt = b.normRMS(dt, dtNorm, nil)
		bm = b.normRMS(bm, bNorm, nil)
		cm = b.normRMS(cm, cNorm, nil)
	}
	dt = b.mulMat(w("ssm_dt.weight"), dt)
	dt = b.add(dt, w("ssm_dt.bias"))
	xs := b.reshape(x, 1, p.dInner, nTok, nSeqs)
	a := w("ssm_a")
	y := b.buildRS(inp, s, p.embdS, func(states, ids *tensor) *tensor {
		ssm := b.reshape(states, p.dState, 1, p.dInner, states.ne[1])
		return b.ssmScan(ssm, xs, dt, a, bm, cm, ids)
	})
	b.expand(b.cpy(
		b.view1d(y, p.dState*p.dInner*nSeqs, xs.nb[3]*uint64(xs.ne[3])),
		b.view1d(s, p.dState*p.dInner*nSeqs, 0)))
	yv := b.view3d(y, p.dInner, nTok, nSeqs, xs.nb[2], xs.nb[3], 0)
	yv = b.add(yv, b.mul(x, w("ssm_d")))
	yv = b.glu(b.cont(z), yv)
	cur = b.mm(w("ssm_out.weight"), yv, w("ssm_out.scale"))
	return b.reshape(cur, cur.ne[0], nTok*nSeqs)
}

// mambaGraph mirrors src/models/mamba.cpp (Mamba-1 and Mamba-2).
func mambaGraph(b *builder) {
	gm := b.gm
	inpL := b.inpEmbd()
	rs := b.inpRS()
	outIDs := b.inpOutIDs()
	last := gm.nLayer - 1
	for _, il := range b.layers {
		cur := b.normRMS(inpL, gm.w(il, "attn_norm.weight"), nil)
		if gm.arch == "mamba2" {
			cur = b.mamba2Layer(rs, cur, il)
		} else {
			cur = b.mamba1Layer(rs, cur, il)
		}
		if il == last {
			cur = b.getRows(cur, outIDs)
			inpL = b.getRows(inpL, outIDs)
		}
		inpL = b.add(cur, inpL)
	}
	b.expand(b.output(inpL, b.normRMS))
}

// jambaGraph mirrors src/models/jamba.cpp: Mamba-1 and attention (no rope)
// layers, each followed by a dense or softmax-routed MoE FFN.
func jambaGraph(b *builder) {
	gm := b.gm
	inpL := b.inpEmbd()
	rs := b.inpMemHybrid()
	outIDs := b.inpOutIDs()
	last := gm.nLayer - 1
	for _, il := range b.layers {
		cur := b.normRMS(inpL, gm.w(il, "attn_norm.weight"), nil)
		if gm.nHeadKV[il] == 0 {
			cur = b.mamba1Layer(rs, cur, il)
		} else {
			q, k, v := b.qkv(il, cur, gm.headK, gm.nHead[il], gm.nHeadKV[il])
			cur = b.attnKV(il, false, gm.w(il, "attn_output.weight"), nil, q, k, v, attnOpts{})
		}
		if il == last {
			cur = b.getRows(cur, outIDs)
			inpL = b.getRows(inpL, outIDs)
		}
		ffnInp := b.add(inpL, cur)
		cur = b.normRMS(ffnInp, gm.w(il, "ffn_norm.weight"), nil)
		if gm.w(il, "ffn_gate_inp.weight") == nil {
			cur = b.ffn(il, cur, "", ffnSiLU)
		} else {
			cur = b.moeFFN(il, cur, b.moeDefaults(il, moeOpts{wScale: gm.ds.wScale}))
		}
		inpL = b.add(ffnInp, cur)
	}
	b.expand(b.output(inpL, b.normRMS))
}
