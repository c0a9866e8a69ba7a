package planner

import (
	"cmp"
	"strings"

	"github.com/modelfit/modelfit/gguf"
)

// The compute graph llama.cpp reserves its compute buffer for, rebuilt op
// by op from the helpers of src/llama-graph.cpp (llm_graph_context's
// build_inp_embd, build_norm, build_qkv, build_attn, build_attn_mha,
// build_ffn, build_moe_ffn) composed per architecture as src/models/*.cpp
// compose them. Weights and caches are external tensors; the graph's
// inputs, activations and outputs are what the allocator places.

// graphModel holds a file's weights as external tensors, by layer and by
// name without the "blk.N." prefix, built once per model.
type graphModel struct {
	layers [][]namedTensor // per layer, in file order
	global map[string]*tensor
	nLayer int
	nEmbd  int64
	nVocab int64
	// nEmbdInp is hparams.n_embd_inp(); deepstack n_deepstack_layers.
	nEmbdInp, deepstack int64
	headK               int64 // n_embd_head_k
	headV               int64
	nHead               []int64
	nHeadKV             []int64
	// headKL and headVL are each layer's head sizes (n_embd_head_k(il));
	// kvFromStart is n_layer_kv_from_start.
	headKL, headVL []int64
	kvFromStart    int
	// nExpertUsed is hparams.n_expert_used.
	nExpertUsed int64
	arch        string
	// swa marks the sliding-window layers (hparams.is_swa), recr the
	// recurrent ones (hparams.is_recr).
	swa    []bool
	recr   []bool
	anySWA bool
	// attnSoftcap is hparams.attn_soft_cap (gemma2); finalSoftcap and
	// logitScale the final logits' softcapping and scale.
	attnSoftcap, finalSoftcap, logitScale bool
	// residualScale is hparams.f_residual_scale (granite): in-place
	// scales of each block's output.
	residualScale bool
	// attnTemp is hparams.f_attn_temp_scale != 0 (mistral3's temperature
	// tuning input).
	attnTemp     bool
	hasPostNorms bool
	parRes       bool // gptneox: use_parallel_residual
	ds           mlaParams
	ssm          ssmParams
	// attnToo: the recurrent layers keep a KV cache too (falcon-h1).
	attnToo bool
	// tiedOut is the output layer's duplicate of a tied token embedding.
	tiedOut *tensor
}

// mlaParams are DeepSeek-V2/V3's attention and the routing hyperparameters
// DeepSeek and GLM-4.5 share (src/models/deepseek2.cpp, glm4-moe.cpp,
// load_arch_hparams).
type mlaParams struct {
	headK, rope, kvLora int64 // n_embd_head_k_mla, n_rot, kv_lora_rank
	// mla is hparams.is_mla(): the file gives the MLA head sizes (the
	// absorbed graph); older conversions get the plain multi-head one.
	mla                bool
	denseLead          int
	normW, wScale      bool
	gating             moeGating
	groups, groupsUsed int64
}

// namedTensor is a layer's weight under its name without "blk.N.": the
// file's tensor, made an external graph tensor on first use (the reduced
// graph uses a few of the layers).
type namedTensor struct {
	name string
	ti   *tinfo
	idx  int // index in model.tensors
	t    *tensor
}

func extTensor(t *tinfo, idx int) *tensor {
	et := &tensor{typ: t.typ, ext: true, name: t.name, ne: [4]int64{1, 1, 1, 1}, weight: true, tidx: int32(idx), layer: int32(t.layer)}
	for j, n := range t.shape[:min(len(t.shape), 4)] {
		et.ne[j] = int64(min(n, 1<<40))
	}
	et.contiguousStrides()
	return et
}

func newGraphModel(m *model) *graphModel {
	// The graph runs the layers before the next-token-prediction ones
	// (hparams.n_layer() excludes nextn_predict_layers, PR 24060).
	n := m.nLayer - int(min(m.h.NextNPredictLayers, uint64(m.nLayer)))
	gm := &graphModel{nLayer: n, global: map[string]*tensor{}}
	gm.layers = make([][]namedTensor, n)
	h := &m.h
	gm.nEmbd = int64(h.EmbeddingLength)
	// llama_hparams::n_embd_inp: deepstack layers widen the input.
	if v, ok := m.f.Metadata.Uint(h.Architecture + ".n_deepstack_layers"); ok {
		gm.deepstack = int64(min(v, 1<<10))
	}
	gm.nEmbdInp = gm.nEmbd * (1 + gm.deepstack)
	gm.nVocab = int64(h.VocabSize)
	gm.headK, gm.headV = int64(h.KeyLength), int64(h.ValueLength)
	gm.nExpertUsed = int64(h.ExpertUsedCount)
	gm.arch = h.Architecture
	gm.swa = make([]bool, n)
	gm.recr = make([]bool, n)
	gm.attnToo = m.attendsToo()
	for il := range gm.swa {
		gm.recr[il] = m.recurrent(il)
		gm.swa[il] = h.IsSWA(il)
		gm.anySWA = gm.anySWA || gm.swa[il]
	}
	md := &m.f.Metadata
	pfx := h.Architecture + "."
	gm.attnSoftcap = h.Architecture == "gemma2"
	if v, ok := md.Float(pfx + "final_logit_softcapping"); ok && v != 0 || h.Architecture == "gemma2" {
		gm.finalSoftcap = true
	}
	if v, ok := md.Get(pfx + "use_parallel_residual"); ok {
		gm.parRes, _ = v.Bool()
	}
	if v, ok := md.Float(pfx + "logit_scale"); ok && v != 0 {
		gm.logitScale = true
	}
	if v, ok := md.Float(pfx + "residual_scale"); ok && v != 0 {
		gm.residualScale = true
	}
	if v, ok := md.Float(pfx + "attention.temperature_scale"); ok && v != 0 {
		gm.attnTemp = true
	}
	ds := &gm.ds
	ds.kvLora, ds.rope = int64(h.KVLoraRank), int64(h.RopeDimensionCount)
	ds.mla = m.isMLA()
	ds.headK = int64(h.KeyLengthMLA)
	if ds.headK == 0 {
		ds.headK = int64(h.KeyLength)
	}
	ds.denseLead = int(h.LeadingDenseBlockCount)
	if v, ok := md.Get(pfx + "expert_weights_norm"); ok {
		ds.normW, _ = v.Bool()
	}
	if v, ok := md.Float(pfx + "expert_weights_scale"); ok && v != 0 && v != 1 {
		ds.wScale = true
	}
	if v, ok := md.Uint(pfx + "expert_gating_func"); ok && v == 2 {
		ds.gating = gateSigmoid
	}
	g, _ := md.Uint(pfx + "expert_group_count")
	gu, _ := md.Uint(pfx + "expert_group_used_count")
	ds.groups, ds.groupsUsed = int64(min(g, 1<<20)), int64(min(gu, 1<<20))
	gm.ssm = newSSMParams(m)
	// Per-layer head sizes: gemma4's sliding-window layers have their own
	// (attention.key_length_swa); layers from n_layer_kv_from_start on
	// share an earlier layer's cache (attention.shared_kv_layers).
	kSWA, okK := md.Uint(pfx + "attention.key_length_swa")
	vSWA, okV := md.Uint(pfx + "attention.value_length_swa")
	gm.headKL, gm.headVL = make([]int64, n), make([]int64, n)
	for il := range n {
		gm.headKL[il], gm.headVL[il] = gm.headK, gm.headV
		if gm.swa[il] && okK && kSWA > 0 {
			gm.headKL[il] = int64(min(kSWA, 1<<20))
		}
		if gm.swa[il] && okV && vSWA > 0 {
			gm.headVL[il] = int64(min(vSWA, 1<<20))
		}
	}
	gm.kvFromStart = n
	if v, ok := md.Uint(pfx + "attention.shared_kv_layers"); ok && v > 0 && v < uint64(n) {
		gm.kvFromStart = n - int(v)
	}
	if h.Architecture == "gemma3n" {
		gm.kvFromStart = min(n, 20) // gemma3n.cpp: n_layer_kv_from_start = 20
	}
	gm.nHead = make([]int64, n)
	gm.nHeadKV = make([]int64, n)
	for il := range n {
		gm.nHead[il] = int64(h.HeadCount.At(il))
		gm.nHeadKV[il] = int64(h.HeadCountKV.At(il))
	}
	for i := range m.tensors {
		t := &m.tensors[i]
		if t.layer >= n {
			continue
		}
		if t.layer >= 0 {
			// "blk.N.suffix": tinfo.layer is N.
			if rest, ok := strings.CutPrefix(t.name, "blk."); ok {
				if dot := strings.IndexByte(rest, '.'); dot > 0 {
					gm.layers[t.layer] = append(gm.layers[t.layer], namedTensor{name: rest[dot+1:], ti: t, idx: i})
					continue
				}
			}
		}
		gm.global[t.name] = extTensor(t, i)
	}
	for il := range gm.layers {
		if gm.w(il, "post_attention_norm.weight") != nil {
			gm.hasPostNorms = true
		}
	}
	if gm.nVocab == 0 {
		if t := gm.output(); t != nil {
			gm.nVocab = t.ne[1]
		}
	}
	return gm
}

// w returns layer il's weight name, nil when the file has none.
func (gm *graphModel) w(il int, name string) *tensor {
	l := gm.layers[il]
	for i := range l {
		if l[i].name == name {
			if l[i].t == nil {
				l[i].t = extTensor(l[i].ti, l[i].idx)
			}
			return l[i].t
		}
	}
	return nil
}

// output is the output projection: output.weight, or the token embedding
// when the file ties them: llama.cpp loads it a second time as the
// output layer's own tensor (TENSOR_DUPLICATED, on the output's device),
// so the graph multiplies by a duplicate (tidx -1), not by the token
// embedding the input's GET_ROWS reads.
func (gm *graphModel) output() *tensor {
	if t := gm.global["output.weight"]; t != nil {
		return t
	}
	if gm.tiedOut == nil {
		if e := gm.global["token_embd.weight"]; e != nil {
			d := *e
			d.tidx = -1
			gm.tiedOut = &d
		}
	}
	return gm.tiedOut
}

// ubatch is the batch llama.cpp reserves the graph for (llama-context.cpp,
// sched_reserve and graph_reserve) and the settings the graph depends on.
type ubatch struct {
	nTokens  int64 // min(n_ctx, n_ubatch), a multiple of nStream
	nOutputs int64 // min(n_tokens, n_outputs_max = n_batch)
	nStream  int64 // one KV stream per sequence (kv_unified = false)
	nSeqs    int64 // n_seq_max, unified or not (the recurrent inputs)
	nKV      int64 // cells per stream of a full-attention layer
	nKVSWA   int64 // cells per stream of a sliding-window layer
	fa       bool
	kt, vt   gguf.Type
	rules    graphRules
	// cuda sizes the buffer as a CUDA device's (cudaAllocSize).
	cuda bool
}

// graphRules are the graph changes between the llama.cpp builds the
// planner targets (Runtime): each flag names the PR that introduced it.
type graphRules struct {
	// selectEmbd: build_inp_embd builds both the token and the embeddings
	// path and selects one (ggml_build_forward_select, PR 18898,
	// 2026-01-23); the unused inp_embd leaf stays allocated.
	selectEmbd bool
	// f16Mask: with flash attention the KQ mask is created f16 (PR 23764,
	// 2026-05-29); before, an f32 mask and a ggml_cast to f16.
	f16Mask bool
	// kvRotation: Hadamard rotation inputs for quantized caches (PR 21038,
	// 2026-04-01).
	kvRotation bool
	// maskPad pads the mask's token rows (GGML_KQ_MASK_PAD = 64, removed
	// by PR 17910, 2025-12-10).
	maskPad int64
	// kLast: build_attn expands Q, V, then K (rope + set_rows fusion, PR
	// 16884, 2025-11-13); before, Q, K, V.
	kLast bool
	// hNextn: the graphs that feed a next-token-prediction head keep the
	// final hidden state as a graph output (res->t_h_nextn) and select
	// the output rows after the last layer (embeddings_nextn_masked is
	// false): PR 22673 (2026-05-16, Qwen3.5), 25589 (Qwen3-Next), 25794
	// (2026-07-28, gpt-oss), 26725 (2026-08-10, Nemotron-H). Before, the
	// last layer selected the rows like the other decoders.
	hNextn bool
}

// rulesFor returns the graph rules of a runtime's llama.cpp build.
func rulesFor(rt Runtime) graphRules {
	switch rt {
	case RuntimeLlamaCppB6529: // 1eeb523c3, 2025-09-21
		return graphRules{maskPad: 64}
	case RuntimeOllama, RuntimeOllamaEngine: // ec98e2002, 2025-12-16 (the engine's graph is not modelled: its vendored llama.cpp's stands in)
		return graphRules{maskPad: 1, kLast: true}
	}
	return graphRules{selectEmbd: true, f16Mask: true, kvRotation: true, maskPad: 1, kLast: true, hNextn: true}
}

// builder mirrors llm_graph_context for one graph.
type builder struct {
	*ctx
	gm *graphModel
	ub ubatch
	// layers are the layers the graph is built with: all of them, or the
	// representative subset of reducedLayers.
	layers []int
	// inputs built once per graph (llm_graph_input_*)
	attn *attnInput
	// inpEmbdFull is the padded n_embd_inp-wide token rows of a deepstack
	// model (res->t_inp_embd's source).
	inpEmbdFull *tensor
}

// attnInput mirrors llm_graph_input_attn_kv(_iswa): index and mask inputs
// for the full and, with sliding-window layers, the SWA cache.
type attnInput struct {
	kIdxs, vIdxs, mask          *tensor
	kIdxsSWA, vIdxsSWA, maskSWA *tensor
	kRot, vRot                  *tensor
	kRotSWA, vRotSWA            *tensor
	iswa                        bool
}

// inpEmbd mirrors build_inp_embd: the token ids, the unused embeddings
// input (a leaf that stays allocated: ggml_build_forward_select keeps
// both), and the rows of the embedding matrix.
//
// Deepstack models (Qwen3-VL) take n_embd_inp = n_embd × (1 +
// n_deepstack_layers) values per token: the token rows are padded to that
// width and the graph continues on a view of the first n_embd, the rest
// added to the first layers' outputs (b.inpEmbdFull).
func (b *builder) inpEmbd() *tensor {
	n := b.ub.nTokens
	tokens := b.input(gguf.TypeI32, "inp_tokens", n, 1, 1, 1)
	cur := b.getRows(b.gm.global["token_embd.weight"], tokens)
	// Builds before ggml_build_forward_select (graphRules.selectEmbd)
	// built only the token path of a deepstack model, without the
	// deepstack inputs (qwen3vl.cpp at ec98e2002 adds them for
	// embeddings input only).
	wide := b.gm.nEmbdInp > b.gm.nEmbd && b.ub.rules.selectEmbd
	if wide {
		cur = b.pad(cur, b.gm.nEmbdInp-b.gm.nEmbd, 0, 0, 0)
	}
	if b.ub.rules.selectEmbd {
		embd := b.input(gguf.TypeF32, "inp_embd", b.gm.nEmbdInp, n, 1, 1)
		b.expand(cur)
		b.expand(embd)
	}
	if wide {
		b.inpEmbdFull = cur
		cur = b.view2d(cur, b.gm.nEmbd, n, cur.nb[1], 0)
		b.expand(cur)
	}
	return cur
}

// deepstack mirrors Qwen3-VL's deepstack: layer il < n_deepstack_layers
// adds the il+1-th n_embd slice of the padded input embeddings
// (src/models/qwen3vl.cpp, qwen3vlmoe.cpp).
func (b *builder) deepstack(il int, cur *tensor) *tensor {
	if b.inpEmbdFull == nil || int64(il) >= b.gm.deepstack {
		return cur
	}
	ds := b.view2d(b.inpEmbdFull, b.gm.nEmbd, b.ub.nTokens, b.inpEmbdFull.nb[1], uint64(il+1)*uint64(b.gm.nEmbd)*4)
	return b.add(cur, ds)
}

func (b *builder) inpPos(perEmbd int64) *tensor {
	return b.input(gguf.TypeI32, "inp_pos", b.ub.nTokens*perEmbd, 1, 1, 1)
}

func (b *builder) inpOutIDs() *tensor {
	return b.input(gguf.TypeI32, "inp_out_ids", b.ub.nOutputs, 1, 1, 1)
}

// kqMask mirrors build_attn_inp_kq_mask: f16 with flash attention, f32
// without, one [n_kv, n_tokens/n_stream] plane per stream. Older builds
// make it f32 and cast it for flash attention (self_kq_mask_cnv).
func (b *builder) kqMask(nKV int64) *tensor {
	r := b.ub.rules
	rows := b.ub.nTokens / b.ub.nStream
	if r.maskPad > 1 {
		rows = (rows + r.maskPad - 1) / r.maskPad * r.maskPad
	}
	if b.ub.fa && r.f16Mask {
		return b.input(gguf.TypeF16, "attn_inp_kq_mask", nKV, rows, 1, b.ub.nStream)
	}
	m := b.input(gguf.TypeF32, "attn_inp_kq_mask", nKV, rows, 1, b.ub.nStream)
	if b.ub.fa {
		return b.cast(m, gguf.TypeF16)
	}
	return m
}

// rotInputs mirrors llama_kv_cache's build_input_k_rot / _v_rot: Hadamard
// rotations for a quantized cache whose layers share one head size, a
// multiple of 64 (llama-kv-cache.cpp, attn_rot_k / attn_rot_v over
// n_embd_head_k_all: the K rotation is the largest power of two dividing
// it, the V one 64). cache selects the layers: the sliding-window ones
// (1), the others (0), or all (-1).
func (b *builder) rotInputs(cache int) (k, v *tensor) {
	if !b.ub.rules.kvRotation {
		return nil, nil
	}
	gm := b.gm
	var hk, hv int64
	for il := range gm.nLayer {
		if gm.recr[il] && !gm.attnToo || gm.nHeadKV[il] == 0 || il >= gm.kvFromStart || cache >= 0 && gm.swa[il] != (cache == 1) {
			continue
		}
		hk = commonHead(hk, gm.headKL[il])
		hv = commonHead(hv, gm.headVL[il])
	}
	if b.ub.kt.BlockSize() > 1 && hk > 0 && gm.headK%64 == 0 {
		nrot := int64(64)
		for hk%(nrot*2) == 0 {
			nrot *= 2
		}
		k = b.input(gguf.TypeF32, "attn_inp_k_rot", nrot, nrot, 1, 1)
	}
	if b.ub.vt.BlockSize() > 1 && hv > 0 && gm.headV%64 == 0 {
		v = b.input(gguf.TypeF32, "attn_inp_v_rot", 64, 64, 1, 1)
	}
	return k, v
}

// commonHead folds a layer's head size into a cache's n_embd_head_*_all:
// 0 before the first layer, -1 once two layers differ.
func commonHead(all, h int64) int64 {
	switch {
	case all == 0:
		return h
	case all != h:
		return -1
	}
	return all
}

// idxInputs mirrors build_input_k_idxs / build_input_v_idxs: i64 cell
// indices, one per value of V when the V cache is transposed (no flash
// attention).
func (b *builder) idxInputs() (k, v *tensor) {
	n := b.ub.nTokens
	k = b.input(gguf.TypeI64, "k_idxs", n, 1, 1, 1)
	if b.ub.fa {
		v = b.input(gguf.TypeI64, "v_idxs", n, 1, 1, 1)
	} else {
		v = b.input(gguf.TypeI64, "v_idxs", n*b.nEmbdVGQAMax(), 1, 1, 1)
	}
	return k, v
}

func (b *builder) nEmbdVGQAMax() int64 {
	var m int64
	for il := range b.gm.nLayer {
		m = max(m, b.gm.headVL[il]*b.gm.nHeadKV[il])
	}
	return m
}

// inpAttnKV mirrors build_attn_inp_kv and build_attn_inp_kv_iswa.
func (b *builder) inpAttnKV(iswa bool) *attnInput {
	a := &attnInput{iswa: iswa}
	a.kIdxs, a.vIdxs = b.idxInputs()
	a.mask = b.kqMask(b.ub.nKV)
	if iswa {
		a.kIdxsSWA, a.vIdxsSWA = b.idxInputs()
		a.maskSWA = b.kqMask(b.ub.nKVSWA)
	}
	if iswa {
		a.kRot, a.vRot = b.rotInputs(0)
		a.kRotSWA, a.vRotSWA = b.rotInputs(1)
	} else {
		a.kRot, a.vRot = b.rotInputs(-1)
	}
	b.attn = a
	return a
}

// normRMS and normLN mirror build_norm (LLM_NORM_RMS, LLM_NORM).
func (b *builder) normRMS(cur, w, bias *tensor) *tensor {
	return b.normApply(b.rmsNorm(cur), w, bias)
}

func (b *builder) normLN(cur, w, bias *tensor) *tensor {
	return b.normApply(b.norm(cur), w, bias)
}

func (b *builder) normApply(cur, w, bias *tensor) *tensor {
	// build_norm names the normalised tensor "norm" for layer il, and
	// llama_context::graph_get_cb pins it to the layer's device for
	// small batches and full offloads (llama-context.cpp).
	if lw := cmp.Or(w, bias); lw != nil && lw.layer >= 0 && (cur.op == opRMSNorm || cur.op == opNorm || cur.op == opGroupNorm) {
		cur.pin = lw.layer + 1
	}
	if w != nil {
		cur = b.mul(cur, w)
	}
	if bias != nil {
		cur = b.add(cur, bias)
	}
	return cur
}

// mm mirrors build_lora_mm without adapters: the product and its optional
// per-tensor scale.
func (b *builder) mm(w, cur, s *tensor) *tensor {
	r := b.mulMat(w, cur)
	if s != nil {
		r = b.mul(r, s)
	}
	return r
}

// qkv mirrors build_qkv: the fused projection and views of it, or three
// products with optional biases, reshaped to heads.
func (b *builder) qkv(il int, cur *tensor, headDim, nHead, nHeadKV int64) (q, k, v *tensor) {
	gm, n := b.gm, b.ub.nTokens
	if wqkv := gm.w(il, "attn_qkv.weight"); wqkv != nil {
		qkv := b.mm(wqkv, cur, gm.w(il, "attn_qkv.scale"))
		if bias := gm.w(il, "attn_qkv.bias"); bias != nil {
			qkv = b.add(qkv, bias)
		}
		rs := rowSize(qkv.typ, headDim)
		q = b.view3d(qkv, headDim, nHead, n, rs, qkv.nb[1], 0)
		k = b.view3d(qkv, headDim, nHeadKV, n, rs, qkv.nb[1], rowSize(qkv.typ, headDim*nHead))
		v = b.view3d(qkv, headDim, nHeadKV, n, rs, qkv.nb[1], rowSize(qkv.typ, headDim*(nHead+nHeadKV)))
		return q, k, v
	}
	proj := func(name string) *tensor {
		t := b.mm(gm.w(il, name+".weight"), cur, gm.w(il, name+".scale"))
		if bias := gm.w(il, name+".bias"); bias != nil {
			t = b.add(t, bias)
		}
		return t
	}
	q, k, v = proj("attn_q"), proj("attn_k"), proj("attn_v")
	q = b.reshape(q, headDim, nHead, n)
	k = b.reshape(k, headDim, nHeadKV, n)
	v = b.reshape(v, headDim, nHeadKV, n)
	return q, k, v
}

// kvLayer is one layer's cache as external tensors (llama_kv_cache's
// layers[ikv].k / .v): [n_embd_gqa, kv_size, n_stream].
type kvLayer struct {
	k, v   *tensor
	size   int64 // cells per stream
	vTrans bool
}

func (b *builder) kvCache(il int, swa bool, embdK, embdV int64) kvLayer {
	size := b.ub.nKV
	if swa {
		size = b.ub.nKVSWA
	}
	kv := kvLayer{
		k:      external(b.ub.kt, embdK, size, b.ub.nStream),
		v:      external(b.ub.vt, embdV, size, b.ub.nStream),
		size:   size,
		vTrans: !b.ub.fa,
	}
	// A layer from n_layer_kv_from_start on attends an earlier layer's
	// cache (attnShared): the last full-attention or sliding-window layer
	// before it, by its kind (llama-model.cpp, create_memory's reuse for
	// Gemma 3n and 4).
	owner := il
	if il >= b.gm.kvFromStart {
		owner = b.gm.kvFromStart - 1
		if b.gm.swa[il] {
			owner--
		}
	}
	kv.k.layer, kv.v.layer = int32(owner), int32(owner)
	return kv
}

// cpyK mirrors llama_kv_cache::cpy_k.
func (b *builder) cpyK(kv kvLayer, kCur, idxs *tensor) *tensor {
	nGQA := kCur.ne[0] * kCur.ne[1]
	kCur = b.view2d(kCur, nGQA, kCur.ne[2], kCur.nb[2], 0)
	k := kv.k
	if b.ub.nStream > 1 {
		k = b.reshape(k, nGQA, kv.size*b.ub.nStream)
	}
	return b.setRows(k, kCur, idxs)
}

// cpyV mirrors llama_kv_cache::cpy_v.
func (b *builder) cpyV(kv kvLayer, vCur, idxs *tensor) *tensor {
	nGQA := vCur.ne[0] * vCur.ne[1]
	nTok := vCur.ne[2]
	v := kv.v
	if !kv.vTrans {
		vCur = b.view2d(vCur, nGQA, nTok, vCur.nb[2], 0)
		if b.ub.nStream > 1 {
			v = b.reshape(v, nGQA, kv.size*b.ub.nStream)
		}
		return b.setRows(v, vCur, idxs)
	}
	if rowSize(vCur.typ, nGQA) == vCur.nb[2] {
		vCur = b.reshape(vCur, nGQA, nTok)
	} else {
		vCur = b.contNd(vCur, nGQA, nTok)
	}
	if nGQA < v.ne[0] {
		vCur = b.pad(vCur, v.ne[0]-nGQA, 0, 0, 0)
	}
	vView := b.reshape(v, 1, v.nelements())
	vCur = b.reshape(vCur, 1, vCur.nelements())
	return b.setRows(vView, vCur, idxs)
}

// getK and getV mirror llama_kv_cache::get_k / get_v for all streams.
func (b *builder) getK(kv kvLayer, head, nHeadKV int64) *tensor {
	k := kv.k
	nGQA := k.ne[0]
	return b.view4d(k, head, nHeadKV, kv.size, b.ub.nStream,
		rowSize(k.typ, head), rowSize(k.typ, nGQA), rowSize(k.typ, nGQA*kv.size), 0)
}

func (b *builder) getV(kv kvLayer, head, nHeadKV int64) *tensor {
	v := kv.v
	nGQA := v.ne[0]
	if !kv.vTrans {
		return b.view4d(v, head, nHeadKV, kv.size, b.ub.nStream,
			rowSize(v.typ, head), rowSize(v.typ, nGQA), rowSize(v.typ, nGQA*kv.size), 0)
	}
	return b.view4d(v, kv.size, nHeadKV, head, b.ub.nStream,
		rowSize(v.typ, kv.size*head), rowSize(v.typ, kv.size), rowSize(v.typ, kv.size*nGQA), 0)
}

// hadamard mirrors llama_mul_mat_hadamard (src/llama-impl.h).
func (b *builder) hadamard(cur, rot *tensor) *tensor {
	n := rot.ne[0]
	var r *tensor
	if !cur.isContiguous() {
		r = b.contNd(cur, n, cur.nelements()/n)
	} else {
		r = b.reshape(cur, n, cur.nelements()/n)
	}
	r = b.mulMat(rot, r)
	return b.reshape(r, cur.ne[0], cur.ne[1], cur.ne[2], cur.ne[3])
}

// attnOpts are build_attn's optional arguments.
type attnOpts struct {
	kqB, sinks, vMLA *tensor
	softcap          bool // hparams.attn_soft_cap: tanh capping of KQ without flash attention
	kqPrecF32Wo      bool // GLM4: nothing for memory
}

// attnKV mirrors build_attn over llm_graph_input_attn_kv(_iswa): rotate
// for quantized caches, store K and V, attend, project.
func (b *builder) attnKV(il int, swa bool, wo, woB, q, k, v *tensor, o attnOpts) *tensor {
	a := b.attn
	kRot, vRot := a.kRot, a.vRot
	kIdxs, vIdxs, mask := a.kIdxs, a.vIdxs, a.mask
	if swa {
		kRot, vRot = a.kRotSWA, a.vRotSWA
		kIdxs, vIdxs, mask = a.kIdxsSWA, a.vIdxsSWA, a.maskSWA
	}
	if kRot != nil {
		q = b.hadamard(q, kRot)
		k = b.hadamard(k, kRot)
	}
	if vRot != nil {
		v = b.hadamard(v, vRot)
	}
	if a.iswa || !b.ub.rules.kLast {
		b.expand(q)
		b.expand(k)
		b.expand(v)
	} else {
		// "expand k later to enable rope fusion which directly writes into k-v cache"
		b.expand(q)
		b.expand(v)
		b.expand(k)
	}
	kv := b.kvCache(il, swa, k.ne[0]*k.ne[1], v.ne[0]*v.ne[1])
	b.expand(b.cpyK(kv, k, kIdxs))
	b.expand(b.cpyV(kv, v, vIdxs))
	kc := b.getK(kv, k.ne[0], k.ne[1])
	vc := b.getV(kv, v.ne[0], v.ne[1])
	cur := b.attnMHA(q, kc, vc, mask, o)
	if vRot != nil {
		cur = b.hadamard(cur, vRot)
	}
	if wo != nil {
		cur = b.mm(wo, cur, b.gm.w(il, "attn_output.scale"))
	}
	if woB != nil {
		cur = b.add(cur, woB)
	}
	return cur
}

// inpAttnK mirrors build_attn_inp_k: a K-only cache (MLA), so no V indices.
func (b *builder) inpAttnK() *attnInput {
	a := &attnInput{}
	a.kIdxs = b.input(gguf.TypeI64, "k_idxs", b.ub.nTokens, 1, 1, 1)
	a.mask = b.kqMask(b.ub.nKV)
	b.attn = a
	return a
}

// attnK mirrors build_attn over llm_graph_input_attn_k: store K, attend
// with V a view of the first v_cur->ne[0] values of each K row.
func (b *builder) attnK(il int, wo, q, k, v *tensor, o attnOpts) *tensor {
	a := b.attn
	b.expand(q)
	b.expand(v)
	b.expand(k)
	kv := b.kvCache(il, false, k.ne[0]*k.ne[1], 0)
	b.expand(b.cpyK(kv, k, a.kIdxs))
	kc := b.getK(kv, k.ne[0], k.ne[1])
	vc := b.view4d(kc, v.ne[0], kc.ne[1], kc.ne[2], kc.ne[3], kc.nb[1], kc.nb[2], kc.nb[3], 0)
	cur := b.attnMHA(q, kc, vc, a.mask, o)
	if wo != nil {
		cur = b.mm(wo, cur, b.gm.w(il, "attn_output.scale"))
	}
	return cur
}

// attnMHA mirrors build_attn_mha.
func (b *builder) attnMHA(q, k, v, mask *tensor, o attnOpts) *tensor {
	vTrans := v.nb[1] > v.nb[2]
	nStream := k.ne[3]
	q = b.view4d(q, q.ne[0], q.ne[1], q.ne[2]/nStream, nStream, q.nb[1], q.nb[2], q.nb[3]/uint64(nStream), 0)
	q = b.permute(q, 0, 2, 1, 3)
	k = b.permute(k, 0, 2, 1, 3)
	v = b.permute(v, 0, 2, 1, 3)
	var cur *tensor
	if b.ub.fa && o.kqB == nil {
		if vTrans {
			v = b.transpose(v)
		}
		if k.typ == gguf.TypeF32 {
			k = b.cast(k, gguf.TypeF16)
		}
		if v.typ == gguf.TypeF32 {
			v = b.cast(v, gguf.TypeF16)
		}
		cur = b.flashAttn(q, k, v, mask, o.sinks)
		if o.vMLA != nil {
			cur = b.permute(cur, 0, 2, 1, 3)
			cur = b.mulMat(o.vMLA, cur)
			cur = b.permute(cur, 0, 2, 1, 3)
			cur = b.cont(cur)
		}
		cur = b.reshape(cur, cur.ne[0]*cur.ne[1], cur.ne[2]*cur.ne[3])
	} else {
		kq := b.mulMat(k, q)
		if o.softcap {
			kq = b.scale(kq)
			kq = b.unary(kq)
			kq = b.scale(kq)
		}
		if o.kqB != nil {
			kq = b.add(kq, o.kqB)
		}
		kq = b.softMax(kq, mask, o.sinks)
		if !vTrans {
			v = b.cont(b.transpose(v))
		}
		kqv := b.mulMat(v, kq)
		if o.vMLA != nil {
			kqv = b.mulMat(o.vMLA, kqv)
		}
		cur = b.permute(kqv, 0, 2, 1, 3)
		cur = b.contNd(cur, cur.ne[0]*cur.ne[1], cur.ne[2]*cur.ne[3])
	}
	b.expand(cur)
	return cur
}

// ffnAct is build_ffn's llm_ffn_op_type (with the gate type folded in).
type ffnAct uint8

const (
	ffnSiLU ffnAct = iota // parallel gate: swiglu_split; no gate: silu
	ffnGELU               // parallel gate: geglu_split; no gate: gelu
	ffnReLU
	ffnReLUSqr
	ffnSwiGLUFused // one up tensor holding gate and up (swiglu of ne0/2)
	ffnGEGLUFused
	ffnSiLUSeq // gate applied after up (LLM_FFN_SEQ)
)

// ffn mirrors build_ffn for the weights "ffn_up/gate/down" of layer il
// (prefix lets MoE shared experts use "ffn_up_shexp" …).
func (b *builder) ffn(il int, cur *tensor, suffix string, act ffnAct) *tensor {
	gm := b.gm
	up, gate, down := gm.w(il, "ffn_up"+suffix+".weight"), gm.w(il, "ffn_gate"+suffix+".weight"), gm.w(il, "ffn_down"+suffix+".weight")
	upB, gateB, downB := gm.w(il, "ffn_up"+suffix+".bias"), gm.w(il, "ffn_gate"+suffix+".bias"), gm.w(il, "ffn_down"+suffix+".bias")
	upS, gateS, downS := gm.w(il, "ffn_up"+suffix+".scale"), gm.w(il, "ffn_gate"+suffix+".scale"), gm.w(il, "ffn_down"+suffix+".scale")
	tmp := cur
	if up != nil {
		tmp = b.mulMat(up, cur)
	}
	if upB != nil {
		tmp = b.add(tmp, upB)
	}
	if upS != nil {
		tmp = b.mul(tmp, upS)
	}
	par := gate != nil && act != ffnSiLUSeq
	if gate != nil {
		if act == ffnSiLUSeq {
			cur = b.mulMat(gate, tmp)
		} else {
			cur = b.mulMat(gate, cur)
		}
		if gateB != nil {
			cur = b.add(cur, gateB)
		}
		if gateS != nil {
			cur = b.mul(cur, gateS)
		}
	} else {
		cur = tmp
	}
	switch act {
	case ffnSiLU, ffnGELU, ffnReLU:
		if par {
			cur = b.glu(cur, tmp)
		} else {
			cur = b.unary(cur)
		}
	case ffnSiLUSeq:
		cur = b.unary(cur)
	case ffnReLUSqr:
		cur = b.sqr(b.unary(cur))
	case ffnSwiGLUFused, ffnGEGLUFused:
		cur = b.glu(cur, nil)
	}
	if down != nil {
		cur = b.mulMat(down, cur)
	}
	if downB != nil {
		cur = b.add(cur, downB)
	}
	if downS != nil {
		cur = b.mul(cur, downS)
	}
	return cur
}

// moeGating is llama_expert_gating_func_type.
type moeGating uint8

const (
	gateSoftmax moeGating = iota
	gateSigmoid
	gateSoftmaxWeight
)

// moeOpts are build_moe_ffn's per-architecture arguments.
type moeOpts struct {
	act          ffnAct // ffnSiLU, ffnGELU, ffnSwiGLUOAI (via oai)
	oai          bool   // LLM_FFN_SWIGLU_OAI_MOE (gpt-oss): swiglu_oai of gate and up
	normW        bool
	wScale       bool // expert_weights_scale not 0 or 1
	gating       moeGating
	expProbsB    *tensor
	nExpert      int64
	nExpertUsed  int64
	nGroups      int64 // n_expert_groups (DeepSeek-V3)
	nGroupUsed   int64
	weightBefore bool // LLAMA4: weights applied before the experts
	biases       bool // gpt-oss: per-expert biases through add_id
	// logits are the router's logits when the caller computed them
	// (build_moe_ffn's probs_in, nemotron-h).
	logits *tensor
}

// moeFFN mirrors build_moe_ffn.
func (b *builder) moeFFN(il int, cur *tensor, o moeOpts) *tensor {
	gm := b.gm
	nEmbd, nTok := cur.ne[0], cur.ne[1]
	logits := o.logits
	if logits == nil {
		logits = b.mulMat(gm.w(il, "ffn_gate_inp.weight"), cur)
	}
	if bias := gm.w(il, "ffn_gate_inp.bias"); bias != nil {
		logits = b.add(logits, bias)
	}
	var probs *tensor
	switch o.gating {
	case gateSoftmax:
		probs = b.softMax(logits, nil, nil)
	case gateSigmoid:
		probs = b.unary(logits)
	case gateSoftmaxWeight:
		probs = logits
	}
	sel := probs
	if o.expProbsB != nil {
		sel = b.add(probs, o.expProbsB)
	}
	if o.weightBefore {
		sel = logits
	}
	if o.nGroups > 1 && nTok > 0 {
		perGroup := o.nExpert / o.nGroups
		groups := b.reshape(sel, perGroup, o.nGroups, nTok)
		scores := b.argsortTopK(groups, 2)
		scores = b.getRows(b.reshape(groups, 1, groups.ne[0], groups.ne[1], groups.ne[2]), scores)
		scores = b.sumRows(b.reshape(scores, scores.ne[1], scores.ne[2], scores.ne[3]))
		scores = b.reshape(scores, scores.ne[1], scores.ne[2])
		expertGroups := b.argsortTopK(scores, o.nGroupUsed)
		sel = b.getRows(groups, expertGroups)
		sel = b.setRows(b.fill(groups), sel, expertGroups)
		sel = b.reshape(sel, o.nExpert, nTok)
	}
	selected := b.argsortTopK(sel, o.nExpertUsed)
	probs = b.reshape(probs, 1, o.nExpert, nTok)
	weights := b.getRows(probs, selected)
	if o.gating == gateSoftmaxWeight {
		weights = b.reshape(weights, o.nExpertUsed, nTok)
		weights = b.softMax(weights, nil, nil)
		weights = b.reshape(weights, 1, o.nExpertUsed, nTok)
	}
	if o.normW {
		weights = b.reshape(weights, o.nExpertUsed, nTok)
		sum := b.sumRows(weights)
		sum = b.clamp(sum)
		weights = b.div(weights, sum)
		weights = b.reshape(weights, 1, o.nExpertUsed, nTok)
	}
	if o.wScale {
		weights = b.scale(weights)
	}
	b.expand(weights)
	cur = b.reshape(cur, nEmbd, 1, nTok)
	if o.weightBefore {
		cur = b.mul(b.repeat4d(cur, nEmbd, o.nExpertUsed, nTok, 1), weights)
	}
	var up *tensor
	if gu := gm.w(il, "ffn_gate_up_exps.weight"); gu != nil {
		gateUp := b.mulMatID(gu, cur, selected)
		if bias := gm.w(il, "ffn_gate_up_exps.bias"); bias != nil {
			gateUp = b.addID(gateUp, bias, selected)
		}
		nff := gateUp.ne[0] / 2
		cur = b.view3d(gateUp, nff, gateUp.ne[1], gateUp.ne[2], gateUp.nb[1], gateUp.nb[2], 0)
		up = b.view3d(gateUp, nff, gateUp.ne[1], gateUp.ne[2], gateUp.nb[1], gateUp.nb[2], uint64(nff)*gateUp.nb[0])
	} else {
		up = b.mulMatID(gm.w(il, "ffn_up_exps.weight"), cur, selected)
		if bias := gm.w(il, "ffn_up_exps.bias"); bias != nil {
			up = b.addID(up, bias, selected)
		}
		if g := gm.w(il, "ffn_gate_exps.weight"); g != nil {
			cur = b.mulMatID(g, cur, selected)
		} else {
			cur = up
		}
		if bias := gm.w(il, "ffn_gate_exps.bias"); bias != nil {
			cur = b.addID(cur, bias, selected)
		}
	}
	hasGate := gm.w(il, "ffn_gate_exps.weight") != nil || gm.w(il, "ffn_gate_up_exps.weight") != nil
	switch {
	case o.oai:
		cur = b.glu(cur, up)
	case hasGate && (o.act == ffnSiLU || o.act == ffnGELU || o.act == ffnReLU):
		cur = b.glu(cur, up)
	case o.act == ffnReLUSqr:
		cur = b.sqr(b.unary(cur))
	default:
		cur = b.unary(cur)
	}
	experts := b.mulMatID(gm.w(il, "ffn_down_exps.weight"), cur, selected)
	if bias := gm.w(il, "ffn_down_exps.bias"); bias != nil {
		experts = b.addID(experts, bias, selected)
	}
	if !o.weightBefore {
		experts = b.mul(experts, weights)
	}
	b.expand(experts)
	views := make([]*tensor, o.nExpertUsed)
	for i := range views {
		views[i] = b.view2d(experts, nEmbd, nTok, experts.nb[2], uint64(i)*experts.nb[1])
		b.expand(views[i])
	}
	out := views[0]
	for i := 1; i < len(views); i++ {
		out = b.add(out, views[i])
		b.expand(out)
	}
	if len(views) == 1 {
		out = b.cont(out)
	}
	return out
}
