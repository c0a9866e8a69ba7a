package planner

import "github.com/modelfit/modelfit/gguf"

// gemma4Graph mirrors src/models/gemma4.cpp: scaled embeddings, optional
// per-layer token embeddings projected into a [n_embd_per_layer, n_tokens,
// n_layer] input, sliding-window and full layers with their own head
// sizes, Q/K norms and an unweighted V norm, layers past
// n_layer_kv_from_start attending an earlier layer's cache, post-norms
// around attention and FFN, the per-layer input gate, a per-layer output
// scale, and softcapped logits after the final norm (res->t_h_nextn, an
// output, with the rows selected after it).
func gemma4Graph(b *builder) {
	gm := b.gm
	inpL := b.scale(b.inpEmbd())
	pos := b.inpPos(1)
	iswa := gm.anySWA && b.ub.nKVSWA > 0
	b.inpAttnKV(iswa)
	outIDs := b.inpOutIDs()
	var perLayer *tensor
	if w := gm.global["per_layer_token_embd.weight"]; w != nil {
		perLayer = b.gemma4PerLayerInputs(w, inpL)
	}
	n := b.ub.nTokens
	for _, il := range b.layers {
		head, nHead, nKV := gm.headKL[il], gm.nHead[il], gm.nHeadKV[il]
		swa := iswa && gm.swa[il]
		cur := b.normRMS(inpL, gm.w(il, "attn_norm.weight"), nil)
		q := b.reshape(b.mulMat(gm.w(il, "attn_q.weight"), cur), head, nHead, n)
		q = b.normRMS(q, gm.w(il, "attn_q_norm.weight"), nil)
		q = b.rope(q, pos, nil)
		if il < gm.kvFromStart {
			k := b.mulMat(gm.w(il, "attn_k.weight"), cur)
			v := k
			if wv := gm.w(il, "attn_v.weight"); wv != nil {
				v = b.mulMat(wv, cur)
			}
			k = b.reshape(k, head, nKV, n)
			v = b.reshape(v, head, nKV, n)
			k = b.normRMS(k, gm.w(il, "attn_k_norm.weight"), nil)
			v = b.rmsNorm(v)
			k = b.rope(k, pos, nil)
			cur = b.attnKV(il, swa, gm.w(il, "attn_output.weight"), nil, q, k, v, attnOpts{})
		} else {
			cur = b.attnShared(il, swa, gm.w(il, "attn_output.weight"), q, head, nKV)
		}
		cur = b.normRMS(cur, gm.w(il, "post_attention_norm.weight"), nil)
		attnOut := b.add(cur, inpL)
		if gm.w(il, "ffn_gate_inp.weight") != nil {
			mlp := b.ffn(il, b.normRMS(attnOut, gm.w(il, "ffn_norm.weight"), nil), "", ffnGELU)
			mlp = b.normRMS(mlp, gm.w(il, "post_ffw_norm_1.weight"), nil)
			moeIn := b.normRMS(attnOut, gm.w(il, "pre_ffw_norm_2.weight"), nil)
			tmp := b.mul(b.scale(b.rmsNorm(attnOut)), gm.w(il, "ffn_gate_inp.scale"))
			logits := b.mulMat(gm.w(il, "ffn_gate_inp.weight"), tmp)
			moe := b.moeFFN(il, moeIn, b.moeDefaults(il, moeOpts{act: ffnGELU, normW: true, logits: logits}))
			moe = b.normRMS(moe, gm.w(il, "post_ffw_norm_2.weight"), nil)
			cur = b.add(mlp, moe)
		} else {
			cur = b.ffn(il, b.normRMS(attnOut, gm.w(il, "ffn_norm.weight"), nil), "", ffnGELU)
		}
		cur = b.normRMS(cur, gm.w(il, "post_ffw_norm.weight"), nil)
		cur = b.add(cur, attnOut)
		if perLayer != nil {
			peIn := cur
			cur = b.unary(b.mulMat(gm.w(il, "inp_gate.weight"), cur))
			slice := b.view2d(perLayer, perLayer.ne[0], perLayer.ne[1], rowSize(perLayer.typ, perLayer.ne[0]),
				uint64(il)*uint64(perLayer.ne[0]*perLayer.ne[1])*4)
			cur = b.mul(cur, slice)
			cur = b.mulMat(gm.w(il, "proj.weight"), cur)
			cur = b.normRMS(cur, gm.w(il, "post_norm.weight"), nil)
			cur = b.add(peIn, cur)
		}
		if s := gm.w(il, "layer_output_scale.weight"); s != nil {
			cur = b.mul(cur, s)
		}
		inpL = cur
	}
	cur := b.normRMS(inpL, gm.global["output_norm.weight"], nil)
	cur.output = true
	cur = b.getRows(cur, outIDs)
	cur.output = true
	cur = b.mulMat(gm.output(), cur)
	if gm.finalSoftcap {
		cur = b.scale(b.unary(b.scale(cur)))
	}
	cur.output = true
	b.expand(cur)
}

// gemma4PerLayerInputs mirrors gemma4.cpp's build_inp_per_layer and
// project_per_layer_inputs: the per-layer token rows (their own token-id
// input), scaled, plus the normed projection of the embeddings, made
// contiguous as [n_embd_per_layer, n_tokens, n_layer].
func (b *builder) gemma4PerLayerInputs(w, inpL *tensor) *tensor {
	gm, n := b.gm, b.ub.nTokens
	nL := int64(gm.nLayer)
	tokens := b.input(gguf.TypeI32, "inp_tokens", n, 1, 1, 1)
	per := b.getRows(w, tokens)
	perEmbd := per.ne[0] / nL
	per = b.scale(b.reshape(per, perEmbd, nL, n))
	b.expand(per)
	proj := b.mulMat(gm.global["per_layer_model_proj.weight"], inpL)
	proj = b.reshape(b.scale(proj), perEmbd, nL, n)
	proj = b.normRMS(proj, gm.global["per_layer_proj_norm.weight"], nil)
	per = b.scale(b.add(proj, per))
	return b.cont(b.permute(per, 0, 2, 1, 3))
}

// attnShared is build_attn without K and V (gemma4's layers past
// n_layer_kv_from_start): nothing is stored, the query attends the cache
// of an earlier layer of the same kind (llama_kv_cache's layer_reuse).
func (b *builder) attnShared(il int, swa bool, wo, q *tensor, head, nKV int64) *tensor {
	a := b.attn
	kRot, mask := a.kRot, a.mask
	if swa {
		kRot, mask = a.kRotSWA, a.maskSWA
	}
	vRot := a.vRot
	if swa {
		vRot = a.vRotSWA
	}
	if kRot != nil {
		q = b.hadamard(q, kRot)
	}
	b.expand(q)
	kv := b.kvCache(il, swa, head*nKV, head*nKV)
	cur := b.attnMHA(q, b.getK(kv, head, nKV), b.getV(kv, head, nKV), mask, attnOpts{})
	if vRot != nil {
		cur = b.hadamard(cur, vRot)
	}
	if wo != nil {
		cur = b.mm(wo, cur, b.gm.w(il, "attn_output.scale"))
	}
	return cur
}

// gemma3nGraph mirrors src/models/gemma3n.cpp: the embeddings stacked
// into n_altup AltUp streams, each layer predicting the streams from a
// router over the active one, attention (Q/K norms, V norm, layers from 20
// on reusing an earlier cache) and LAuReL on the active stream, a GELU FFN
// with Gaussian top-k sparsity on the first 10 layers, the correction of
// every stream, and the per-layer input gate; the streams are merged back
// before the output rows are selected.
func gemma3nGraph(b *builder) {
	gm := b.gm
	proj := gm.global["altup_proj.weight"]
	if proj == nil {
		panic(errMissingTensor{})
	}
	nAlt := proj.ne[2] + 1
	n, nEmbd := b.ub.nTokens, gm.nEmbd
	inpL := b.scale(b.inpEmbd())
	pos := b.inpPos(1)
	iswa := gm.anySWA && b.ub.nKVSWA > 0
	b.inpAttnKV(iswa)
	perLayer := b.gemma4PerLayerInputs(gm.global["per_layer_token_embd.weight"], inpL)
	target := b.magnitude(inpL)
	added := b.mulMat(proj, b.repeat4d(inpL, nEmbd, n, nAlt-1, 1))
	added = b.div(b.mul(added, target), b.magnitude(added))
	inpL = b.concat(inpL, added, 2)
	for _, il := range b.layers {
		head, nHead, nKV := gm.headKL[il], gm.nHead[il], gm.nHeadKV[il]
		swa := iswa && gm.swa[il]
		pred := b.altupPredict(inpL, il, nAlt)
		active := b.slice2d(pred, 0)
		cur := b.normRMS(active, gm.w(il, "attn_norm.weight"), nil)
		laurel := b.mulMat(gm.w(il, "laurel_r.weight"), b.mulMat(gm.w(il, "laurel_l.weight"), cur))
		laurel = b.add(b.normRMS(laurel, gm.w(il, "laurel_post_norm.weight"), nil), cur)
		if il < gm.kvFromStart {
			q, k, v := b.qkv(il, cur, head, nHead, nKV)
			q = b.normRMS(q, gm.w(il, "attn_q_norm.weight"), nil)
			k = b.normRMS(k, gm.w(il, "attn_k_norm.weight"), nil)
			v = b.rmsNorm(v)
			q = b.rope(q, pos, nil)
			k = b.rope(k, pos, nil)
			cur = b.attnKV(il, swa, gm.w(il, "attn_output.weight"), nil, q, k, v, attnOpts{})
		} else {
			q := b.reshape(b.mulMat(gm.w(il, "attn_q.weight"), cur), head, nHead, n)
			q = b.rope(b.normRMS(q, gm.w(il, "attn_q_norm.weight"), nil), pos, nil)
			cur = b.attnShared(il, swa, gm.w(il, "attn_output.weight"), q, head, nKV)
		}
		cur = b.normRMS(cur, gm.w(il, "post_attention_norm.weight"), nil)
		cur = b.add(cur, active)
		attnLaurel := b.scale(b.add(cur, laurel))
		cur = b.normRMS(attnLaurel, gm.w(il, "ffn_norm.weight"), nil)
		up := b.mulMat(gm.w(il, "ffn_up.weight"), cur)
		gate := b.mulMat(gm.w(il, "ffn_gate.weight"), cur)
		if il < 10 { // n_layer_sparsity
			gate = b.gaussianTopK(gate)
		}
		cur = b.mul(up, b.unary(gate))
		cur = b.mulMat(gm.w(il, "ffn_down.weight"), cur)
		cur = b.normRMS(cur, gm.w(il, "post_ffw_norm.weight"), nil)
		corrected := b.altupCorrect(pred, b.add(cur, attnLaurel), il, nAlt)
		first := b.mul(b.slice2d(corrected, 0), gm.w(il, "altup_correct_scale.weight"))
		first = b.unary(b.mulMat(gm.w(il, "inp_gate.weight"), first))
		first = b.mul(first, b.slice2d(perLayer, int64(il)))
		first = b.mulMat(gm.w(il, "proj.weight"), first)
		first = b.normRMS(first, gm.w(il, "post_norm.weight"), nil)
		rest := b.view3d(corrected, nEmbd, n, nAlt-1, rowSize(corrected.typ, nEmbd), rowSize(corrected.typ, nEmbd*n), uint64(nEmbd*n)*4)
		inpL = b.concat(b.slice2d(corrected, 0), b.add(rest, first), 2)
	}
	target = b.magnitude(b.slice2d(inpL, 0))
	alt := b.view3d(inpL, nEmbd, n, nAlt-1, rowSize(inpL.typ, nEmbd), rowSize(inpL.typ, nEmbd*n), uint64(nEmbd*n)*4)
	un := b.mulMat(gm.global["altup_unembd_proj.weight"], alt)
	un = b.div(b.mul(un, target), b.magnitude(un))
	cur := b.slice2d(inpL, 0)
	for i := range nAlt - 1 {
		cur = b.add(cur, b.slice2d(un, i))
	}
	cur = b.scale(cur)
	cur = b.getRows(cur, b.inpOutIDs())
	cur = b.normRMS(cur, gm.global["output_norm.weight"], nil)
	cur.output = true
	cur = b.mulMat(gm.output(), cur)
	cur = b.scale(b.unary(b.scale(cur)))
	cur.output = true
	b.expand(cur)
}

// slice2d mirrors gemma3n.cpp's ggml_view_2d_slice: plane idx of x.
func (b *builder) slice2d(x *tensor, idx int64) *tensor {
	return b.view2d(x, x.ne[0], x.ne[1], rowSize(x.typ, x.ne[0]), uint64(idx*x.ne[0]*x.ne[1])*4)
}

// magnitude mirrors calc_magnitude: sqrt(sum_rows(x²)).
func (b *builder) magnitude(x *tensor) *tensor { return b.sqrt(b.sumRows(b.sqr(x))) }

// routerModalities mirrors altup_compute_router_modalities.
func (b *builder) routerModalities(x *tensor, il int) *tensor {
	gm := b.gm
	r := b.scale(b.normRMS(x, gm.w(il, "altup_router_norm.weight"), nil))
	return b.unary(b.mulMat(gm.w(il, "altup_router.weight"), r))
}

// altupPredict mirrors altup_predict.
func (b *builder) altupPredict(cur *tensor, il int, nAlt int64) *tensor {
	gm := b.gm
	mod := b.routerModalities(b.slice2d(cur, 0), il)
	coefs := b.mulMat(gm.w(il, "altup_predict_coef.weight"), mod)
	coefs = b.reshape(coefs, nAlt, nAlt, b.ub.nTokens)
	perm := b.cont(b.permute(cur, 1, 2, 0, 3))
	pred := b.mulMat(perm, coefs)
	pred = b.cont(b.permute(pred, 0, 2, 1, 3))
	return b.add(pred, cur)
}

// altupCorrect mirrors altup_correct.
func (b *builder) altupCorrect(pred, activated *tensor, il int, nAlt int64) *tensor {
	gm, n := b.gm, b.ub.nTokens
	mod := b.routerModalities(activated, il)
	innov := b.sub(activated, b.slice2d(pred, 0))
	coefs := b.scale(b.mulMat(gm.w(il, "altup_correct_coef.weight"), mod))
	coefs = b.contNd(b.transpose(coefs), 1, n, nAlt)
	innov = b.repeat4d(innov, gm.nEmbd, n, nAlt, 1)
	return b.add(b.mul(innov, coefs), pred)
}

// gaussianTopK mirrors gaussian_topk: keep what lies above mean + 1.645 σ.
func (b *builder) gaussianTopK(x *tensor) *tensor {
	mean := b.mean(x)
	std := b.sqrt(b.scale(b.sumRows(b.sqr(b.sub(x, mean)))))
	cutoff := b.add(mean, b.scale(std))
	return b.unary(b.sub(x, cutoff))
}
