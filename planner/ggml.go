package planner

import "github.com/modelfit/modelfit/gguf"

// A shape-only model of the ggml tensors llama.cpp builds its compute graph
// from: each op's output type and shape, whether it is a view of another
// tensor, and the order ggml_build_forward_expand puts the nodes in. That
// is all ggml's graph allocator looks at (ggml/src/ggml.c, ggml-alloc.c).

// gop is a ggml op, reduced to what the allocator distinguishes.
type gop uint8

const (
	opNone gop = iota // a leaf: a weight, a cache or a graph input
	opView            // VIEW, RESHAPE, PERMUTE, TRANSPOSE (ggml_is_view_op)
	opGetRows
	opSetRows
	opRMSNorm
	opNorm
	opL2Norm
	opMul
	opAdd
	opAddID
	opSub
	opDiv
	opSqr
	opSqrt
	opScale
	opFill
	opUnary // silu, gelu, sigmoid, tanh, relu, exp, softplus, …
	opGLU
	opMulMat
	opMulMatID
	opRope
	opSoftMax
	opFlashAttn
	opCont
	opCpy // ggml_cpy (a view of the destination) and ggml_cast (a new tensor)
	opConcat
	opPad
	opSumRows
	opArgsort
	opRepeat
	opClamp // a view: ggml_clamp returns ggml_view_tensor(a)
	opSSMConv
	opSSMScan
	opGatedDeltaNet
	opGroupNorm
	opOther
)

// canInplace mirrors ggml_op_can_inplace (ggml-alloc.c): the ops whose
// output may take over the memory of a source that dies with them.
func (o gop) canInplace() bool {
	switch o {
	case opFill, opScale, opAdd, opAddID, opSub, opMul, opDiv, opSqr, opSqrt, opUnary, opRope, opRMSNorm, opSoftMax:
		return true
	}
	return false
}

const maxSrc = 7 // ssm_scan's s, x, dt, A, B, C and ids

// tensor is a ggml_tensor as the allocator sees it, plus the allocator's
// per-tensor state (ggml-alloc.c's hash_node).
type tensor struct {
	op       gop
	typ      gguf.Type
	ne       [4]int64
	nb       [4]uint64
	src      [maxSrc]*tensor
	viewSrc  *tensor // the root tensor a view points into (ggml resolves chains)
	viewOffs uint64
	input    bool // GGML_TENSOR_FLAG_INPUT
	output   bool // GGML_TENSOR_FLAG_OUTPUT: never freed, never reused in place
	ext      bool // memory outside the compute buffer: weights, KV cache
	name     string

	// Where the scheduler finds an external tensor (graph_sched.go):
	// weight marks a model weight (a buffer of GGML_BACKEND_BUFFER_USAGE_WEIGHTS),
	// tidx its index in model.tensors (-1 for the tied output's
	// duplicate), layer a cache's layer (-1: not known). pin is layer+1
	// of a build_norm result llama.cpp names "norm" (0: none); be the
	// scheduler's backend id + 1 (0: not assigned).
	weight bool
	tidx   int32
	layer  int32
	pin    int32
	be     int8

	epoch     uint32 // graph build that visited it (ggml's visited hash set)
	nChildren int32
	nViews    int32
	allocated bool // hash_node.allocated: galloc owns its memory
	buf       int8
	offset    uint64
}

func (t *tensor) isView() bool { return t.viewSrc != nil }

// typeSize returns the bytes of one block of typ and its values per block.
func typeSize(typ gguf.Type) (bytes, block uint64) {
	return typ.BlockBytes(), typ.BlockSize()
}

// rowSize mirrors ggml_row_size.
func rowSize(typ gguf.Type, n int64) uint64 {
	b, blk := typeSize(typ)
	return b * uint64(n) / blk
}

// nbytes mirrors ggml_nbytes.
func (t *tensor) nbytes() uint64 {
	for _, n := range t.ne {
		if n <= 0 {
			return 0
		}
	}
	b, blk := typeSize(t.typ)
	var n uint64
	if blk == 1 {
		n = b
		for i := range 4 {
			n += uint64(t.ne[i]-1) * t.nb[i]
		}
		return n
	}
	n = uint64(t.ne[0]) * t.nb[0] / blk
	for i := 1; i < 4; i++ {
		n += uint64(t.ne[i]-1) * t.nb[i]
	}
	return n
}

func (t *tensor) nelements() int64 { return t.ne[0] * t.ne[1] * t.ne[2] * t.ne[3] }

func (t *tensor) contiguousStrides() {
	b, blk := typeSize(t.typ)
	t.nb[0] = b
	t.nb[1] = b * uint64(t.ne[0]) / blk
	t.nb[2] = t.nb[1] * uint64(t.ne[1])
	t.nb[3] = t.nb[2] * uint64(t.ne[2])
}

func (t *tensor) isContiguous() bool {
	b, blk := typeSize(t.typ)
	if t.nb[0] != b {
		return false
	}
	next := b * uint64(t.ne[0]) / blk
	for i := 1; i < 4; i++ {
		if t.ne[i] != 1 && t.nb[i] != next {
			return false
		}
		next *= uint64(t.ne[i])
	}
	return true
}

func sameLayout(a, b *tensor) bool { return a.typ == b.typ && a.ne == b.ne && a.nb == b.nb }

// ctx makes tensors from a slab that is reused from one graph to the next.
type ctx struct {
	slabs [][]tensor
	n     int
	epoch uint32
	nodes []*tensor
	leafs []*tensor
	// sched is the scheduler's rewritten node list (graph_sched.go),
	// reused from one graph to the next.
	sched []*tensor
}

const slabSize = 512

func (c *ctx) reset() {
	c.n = 0
	c.epoch++
	c.nodes = c.nodes[:0]
	c.leafs = c.leafs[:0]
}

func (c *ctx) alloc() *tensor {
	s, i := c.n/slabSize, c.n%slabSize
	if s == len(c.slabs) {
		c.slabs = append(c.slabs, make([]tensor, slabSize))
	}
	c.n++
	t := &c.slabs[s][i]
	*t = tensor{}
	return t
}

// newTensor mirrors ggml_new_tensor: contiguous, no data.
func (c *ctx) newTensor(typ gguf.Type, ne0, ne1, ne2, ne3 int64) *tensor {
	t := c.alloc()
	t.typ = typ
	t.ne = [4]int64{ne0, ne1, ne2, ne3}
	t.contiguousStrides()
	return t
}

// external makes a tensor whose memory is not the compute buffer's (a
// weight or a cache), ggml's tensor->buffer != NULL.
func external(typ gguf.Type, ne ...int64) *tensor {
	t := &tensor{typ: typ, ne: [4]int64{1, 1, 1, 1}, ext: true, layer: -1}
	copy(t.ne[:], ne)
	t.contiguousStrides()
	return t
}

func (c *ctx) input(typ gguf.Type, name string, ne0, ne1, ne2, ne3 int64) *tensor {
	t := c.newTensor(typ, ne0, ne1, ne2, ne3)
	t.input = true
	t.name = name
	return t
}

// dup mirrors ggml_dup_tensor: a new contiguous tensor of a's type and shape.
func (c *ctx) dup(a *tensor) *tensor { return c.newTensor(a.typ, a.ne[0], a.ne[1], a.ne[2], a.ne[3]) }

func (c *ctx) op(o gop, t *tensor, srcs ...*tensor) *tensor {
	t.op = o
	copy(t.src[:], srcs)
	return t
}

// unary-shaped ops: a new tensor shaped like a (ggml_dup_tensor).
func (c *ctx) like(o gop, a *tensor, srcs ...*tensor) *tensor {
	t := c.op(o, c.dup(a), a)
	copy(t.src[1:], srcs)
	return t
}

// viewOf mirrors ggml_new_tensor_impl with a view_src: the view's root and
// offset are resolved through views of views.
func (c *ctx) viewOf(a *tensor, typ gguf.Type, offs uint64) *tensor {
	t := c.alloc()
	t.typ = typ
	src, o := a, offs
	if a.viewSrc != nil {
		src, o = a.viewSrc, offs+a.viewOffs
	}
	t.viewSrc, t.viewOffs = src, o
	t.ext = src.ext
	return t
}

// viewTensor mirrors ggml_view_tensor: same shape and strides.
func (c *ctx) viewTensor(a *tensor) *tensor {
	t := c.viewOf(a, a.typ, 0)
	t.ne, t.nb = a.ne, a.nb
	return t
}

func (c *ctx) view(a *tensor, ne [4]int64, nb1, nb2, nb3, offs uint64) *tensor {
	t := c.viewOf(a, a.typ, offs)
	t.ne = ne
	t.nb = [4]uint64{a.nb[0], nb1, nb2, nb3}
	if ne[1] == 1 && nb1 == 0 {
		t.nb[1] = t.nb[0] * uint64(ne[0])
	}
	t.op = opView
	t.src[0] = a
	return t
}

// view1d … view4d mirror ggml_view_Nd.
func (c *ctx) view1d(a *tensor, ne0 int64, offs uint64) *tensor {
	t := c.viewOf(a, a.typ, offs)
	t.ne = [4]int64{ne0, 1, 1, 1}
	t.contiguousStrides()
	t.op, t.src[0] = opView, a
	return t
}

func (c *ctx) view2d(a *tensor, ne0, ne1 int64, nb1, offs uint64) *tensor {
	t := c.viewOf(a, a.typ, offs)
	t.ne = [4]int64{ne0, ne1, 1, 1}
	t.nb = [4]uint64{a.nb[0], nb1, nb1 * uint64(ne1), nb1 * uint64(ne1)}
	t.op, t.src[0] = opView, a
	return t
}

func (c *ctx) view3d(a *tensor, ne0, ne1, ne2 int64, nb1, nb2, offs uint64) *tensor {
	t := c.viewOf(a, a.typ, offs)
	t.ne = [4]int64{ne0, ne1, ne2, 1}
	t.nb = [4]uint64{a.nb[0], nb1, nb2, nb2 * uint64(ne2)}
	t.op, t.src[0] = opView, a
	return t
}

func (c *ctx) view4d(a *tensor, ne0, ne1, ne2, ne3 int64, nb1, nb2, nb3, offs uint64) *tensor {
	t := c.viewOf(a, a.typ, offs)
	t.ne = [4]int64{ne0, ne1, ne2, ne3}
	t.nb = [4]uint64{a.nb[0], nb1, nb2, nb3}
	t.op, t.src[0] = opView, a
	return t
}

// reshape mirrors ggml_reshape_Nd (a contiguous view).
func (c *ctx) reshape(a *tensor, ne ...int64) *tensor {
	t := c.viewOf(a, a.typ, 0)
	t.ne = [4]int64{1, 1, 1, 1}
	copy(t.ne[:], ne)
	t.contiguousStrides()
	t.op, t.src[0] = opView, a
	return t
}

// permute mirrors ggml_permute: axis i of a becomes axis p[i].
func (c *ctx) permute(a *tensor, p0, p1, p2, p3 int) *tensor {
	t := c.viewTensor(a)
	p := [4]int{p0, p1, p2, p3}
	for i := range 4 {
		t.ne[p[i]] = a.ne[i]
		t.nb[p[i]] = a.nb[i]
	}
	t.op, t.src[0] = opView, a
	return t
}

func (c *ctx) transpose(a *tensor) *tensor { return c.permute(a, 1, 0, 2, 3) }

func (c *ctx) cont(a *tensor) *tensor { return c.like(opCont, a) }

func (c *ctx) contNd(a *tensor, ne ...int64) *tensor {
	n := [4]int64{1, 1, 1, 1}
	copy(n[:], ne)
	return c.op(opCont, c.newTensor(a.typ, n[0], n[1], n[2], n[3]), a)
}

// errMissingTensor is raised (and recovered by simulate) when a graph
// needs a weight the file does not have: llama.cpp would refuse to load it.
type errMissingTensor struct{}

func (c *ctx) mulMat(a, b *tensor) *tensor {
	if a == nil || b == nil {
		panic(errMissingTensor{})
	}
	return c.op(opMulMat, c.newTensor(gguf.TypeF32, a.ne[1], b.ne[1], b.ne[2], b.ne[3]), a, b)
}

func (c *ctx) mulMatID(as, b, ids *tensor) *tensor {
	if as == nil {
		panic(errMissingTensor{})
	}
	return c.op(opMulMatID, c.newTensor(gguf.TypeF32, as.ne[1], ids.ne[0], b.ne[2], 1), as, b, ids)
}

func (c *ctx) getRows(a, b *tensor) *tensor {
	if a == nil {
		panic(errMissingTensor{})
	}
	typ := gguf.TypeF32
	if a.typ == gguf.TypeI32 {
		typ = a.typ
	}
	return c.op(opGetRows, c.newTensor(typ, a.ne[0], b.ne[0], b.ne[1], b.ne[2]), a, b)
}

// setRows mirrors ggml_set_rows: a view of the destination a.
func (c *ctx) setRows(a, b, idx *tensor) *tensor {
	t := c.viewTensor(a)
	t.op = opSetRows
	t.src[0], t.src[1], t.src[2] = b, idx, a
	return t
}

// cpy mirrors ggml_cpy: a view of the destination b.
func (c *ctx) cpy(a, b *tensor) *tensor {
	t := c.viewTensor(b)
	t.op = opCpy
	t.src[0], t.src[1] = a, b
	return t
}

// cast mirrors ggml_cast: a new tensor, its own src[1].
func (c *ctx) cast(a *tensor, typ gguf.Type) *tensor {
	t := c.op(opCpy, c.newTensor(typ, a.ne[0], a.ne[1], a.ne[2], a.ne[3]), a)
	t.src[1] = t
	return t
}

func (c *ctx) add(a, b *tensor) *tensor  { return c.like(opAdd, a, b) }
func (c *ctx) mul(a, b *tensor) *tensor  { return c.like(opMul, a, b) }
func (c *ctx) sub(a, b *tensor) *tensor  { return c.like(opSub, a, b) }
func (c *ctx) div(a, b *tensor) *tensor  { return c.like(opDiv, a, b) }
func (c *ctx) scale(a *tensor) *tensor   { return c.like(opScale, a) }
func (c *ctx) unary(a *tensor) *tensor   { return c.like(opUnary, a) }
func (c *ctx) rmsNorm(a *tensor) *tensor { return c.like(opRMSNorm, a) }
func (c *ctx) norm(a *tensor) *tensor    { return c.like(opNorm, a) }
func (c *ctx) l2Norm(a *tensor) *tensor  { return c.like(opL2Norm, a) }
func (c *ctx) sqr(a *tensor) *tensor     { return c.like(opSqr, a) }
func (c *ctx) sqrt(a *tensor) *tensor    { return c.like(opSqrt, a) }
func (c *ctx) fill(a *tensor) *tensor    { return c.like(opFill, a) }
func (c *ctx) addID(a, b, ids *tensor) *tensor {
	return c.like(opAddID, a, b, ids)
}

// inplace mirrors an op's _inplace variant (ggml_scale_inplace, …): a
// view of a (ggml_view_tensor) computed over a's own memory.
func (c *ctx) inplace(o gop, a *tensor) *tensor {
	t := c.viewTensor(a)
	t.op, t.src[0] = o, a
	return t
}

// ssmConv mirrors ggml_ssm_conv: [d_inner, n_t, n_s] for sx [d_conv-1+n_t,
// d_inner, n_s] and the kernel c [d_conv, d_inner].
func (c *ctx) ssmConv(sx, k *tensor) *tensor {
	if k == nil {
		panic(errMissingTensor{})
	}
	return c.op(opSSMConv, c.newTensor(gguf.TypeF32, k.ne[1], sx.ne[0]-k.ne[0]+1, sx.ne[2], 1), sx, k)
}

// ssmScan mirrors ggml_ssm_scan: y and the final states in one f32 vector
// (K = 1 snapshot).
func (c *ctx) ssmScan(s, x, dt, a, b, cc, ids *tensor) *tensor {
	if a == nil {
		panic(errMissingTensor{})
	}
	n := x.nelements() + s.ne[0]*s.ne[1]*s.ne[2]*ids.ne[0]
	t := c.op(opSSMScan, c.newTensor(gguf.TypeF32, n, 1, 1, 1), s, x, dt, a, b)
	t.src[5], t.src[6] = cc, ids
	return t
}

// gatedDeltaNet mirrors ggml_gated_delta_net with K = 1: the attention
// output rows then the final state, [S_v·H, n_tokens·n_seqs + S_v·n_seqs].
func (c *ctx) gatedDeltaNet(q, k, v, g, beta, state *tensor) *tensor {
	sv, h := v.ne[0], v.ne[1]
	t := c.op(opGatedDeltaNet, c.newTensor(gguf.TypeF32, sv*h, v.ne[2]*v.ne[3]+sv*v.ne[3], 1, 1), q, k, v, g, beta)
	t.src[5] = state
	return t
}

// clamp mirrors ggml_clamp, which returns a view of a.
func (c *ctx) clamp(a *tensor) *tensor {
	t := c.viewTensor(a)
	t.op, t.src[0] = opClamp, a
	return t
}

func (c *ctx) rope(a, pos, factors *tensor) *tensor { return c.like(opRope, a, pos, factors) }

// glu mirrors ggml_glu_impl: split (b given) keeps a's shape; fused halves ne0.
func (c *ctx) glu(a, b *tensor) *tensor {
	ne0 := a.ne[0]
	if b == nil {
		ne0 /= 2
	}
	return c.op(opGLU, c.newTensor(a.typ, ne0, a.ne[1], a.ne[2], a.ne[3]), a, b)
}

func (c *ctx) softMax(a, mask, sinks *tensor) *tensor {
	t := c.like(opSoftMax, a, mask)
	t.src[2] = sinks
	return t
}

// flashAttn mirrors ggml_flash_attn_ext (with ggml_flash_attn_ext_add_sinks).
func (c *ctx) flashAttn(q, k, v, mask, sinks *tensor) *tensor {
	t := c.op(opFlashAttn, c.newTensor(gguf.TypeF32, v.ne[0], q.ne[2], q.ne[1], q.ne[3]), q, k, v, mask)
	t.src[4] = sinks
	return t
}

func (c *ctx) concat(a, b *tensor, dim int) *tensor {
	ne := a.ne
	ne[dim] += b.ne[dim]
	return c.op(opConcat, c.newTensor(a.typ, ne[0], ne[1], ne[2], ne[3]), a, b)
}

func (c *ctx) pad(a *tensor, p0, p1, p2, p3 int64) *tensor {
	return c.op(opPad, c.newTensor(a.typ, a.ne[0]+p0, a.ne[1]+p1, a.ne[2]+p2, a.ne[3]+p3), a)
}

// mean mirrors ggml_mean: one value per row, like ggml_sum_rows.
func (c *ctx) mean(a *tensor) *tensor {
	return c.op(opOther, c.newTensor(a.typ, 1, a.ne[1], a.ne[2], a.ne[3]), a)
}

func (c *ctx) sumRows(a *tensor) *tensor {
	return c.op(opSumRows, c.newTensor(a.typ, 1, a.ne[1], a.ne[2], a.ne[3]), a)
}

// argsortTopK mirrors ggml_argsort_top_k: an i32 argsort and a view of its first k.
func (c *ctx) argsortTopK(a *tensor, k int64) *tensor {
	s := c.op(opArgsort, c.newTensor(gguf.TypeI32, a.ne[0], a.ne[1], a.ne[2], a.ne[3]), a)
	return c.view4d(s, k, s.ne[1], s.ne[2], s.ne[3], s.nb[1], s.nb[2], s.nb[3], 0)
}

func (c *ctx) repeat4d(a *tensor, ne0, ne1, ne2, ne3 int64) *tensor {
	return c.op(opRepeat, c.newTensor(a.typ, ne0, ne1, ne2, ne3), a)
}

// expand mirrors ggml_build_forward_expand: a depth-first visit of the
// sources in order, appending each tensor after them (ggml_visit_parents_graph).
func (c *ctx) expand(t *tensor) {
	// Weights and caches are leaves outside the compute buffer, shared by
	// every graph of the model: nothing to visit.
	if t == nil || t.epoch == c.epoch || t.ext && t.op == opNone {
		return
	}
	t.epoch = c.epoch
	for _, s := range t.src {
		if s != nil && s != t {
			c.expand(s)
		}
	}
	if t.op == opNone {
		if !t.ext {
			c.leafs = append(c.leafs, t)
		}
		return
	}
	c.nodes = append(c.nodes, t)
}
