package planner

import "github.com/modelfit/modelfit/gguf"

// A port of ggml's graph allocator (ggml/src/ggml-alloc.c, ggml_gallocr and
// ggml_dyn_tallocr) for one buffer type per buffer id: it walks the graph in
// order, gives each tensor the best-fitting free block (or grows the
// buffer), lets an op take over the memory of a source it is the last user
// of, and frees a tensor after its last user. The buffer's size is the
// highest offset reached: what llama.cpp reports as the compute buffer.

// freeBlock is a free range of a buffer.
type freeBlock struct{ offset, size uint64 }

// dynAlloc mirrors ggml_dyn_tallocr with one chunk: the CPU and GPU buffer
// types llama.cpp computes on have no maximum size short of the device's,
// so the allocator never opens a second chunk.
type dynAlloc struct {
	align   uint64
	free    []freeBlock // sorted by offset; the last one is the open end
	maxSize uint64
}

func (a *dynAlloc) reset(align uint64) {
	a.align = align
	a.free = append(a.free[:0], freeBlock{0, 1 << 62})
	a.maxSize = 0
}

func (a *dynAlloc) pad(n uint64) uint64 { return (n + a.align - 1) / a.align * a.align }

// alloc mirrors ggml_dyn_tallocr_alloc: the smallest free block that fits,
// not counting the last (ties go to the later block); else the last block.
func (a *dynAlloc) alloc(size uint64) uint64 {
	size = a.pad(size)
	best := -1
	bestSize := ^uint64(0)
	for i := 0; i < len(a.free)-1; i++ {
		if b := a.free[i]; b.size >= size && b.size <= bestSize {
			best, bestSize = i, b.size
		}
	}
	if best < 0 {
		best = len(a.free) - 1
	}
	b := &a.free[best]
	off := b.offset
	b.offset += size
	b.size -= size
	if b.size == 0 {
		a.free = append(a.free[:best], a.free[best+1:]...)
	}
	a.maxSize = max(a.maxSize, off+size)
	return off
}

// freeBytes mirrors ggml_dyn_tallocr_free_bytes: merge with a neighbour or
// insert a new block in address order.
func (a *dynAlloc) freeBytes(off, size uint64) {
	size = a.pad(size)
	for i := range a.free {
		b := &a.free[i]
		if b.offset+b.size == off {
			b.size += size
			if i+1 < len(a.free) && b.offset+b.size == a.free[i+1].offset {
				b.size += a.free[i+1].size
				a.free = append(a.free[:i+1], a.free[i+2:]...)
			}
			return
		}
		if off+size == b.offset {
			b.offset = off
			b.size += size
			if i > 0 && a.free[i-1].offset+a.free[i-1].size == b.offset {
				a.free[i-1].size += b.size
				a.free = append(a.free[:i], a.free[i+1:]...)
			}
			return
		}
	}
	i := 0
	for i < len(a.free) && a.free[i].offset < off {
		i++
	}
	a.free = append(a.free, freeBlock{})
	copy(a.free[i+1:], a.free[i:])
	a.free[i] = freeBlock{off, size}
}

// gallocr mirrors ggml_gallocr over a graph whose nodes carry their buffer
// ids (the scheduler's backend assignment).
type gallocr struct {
	bufs []dynAlloc
	// cuda sizes the buffers as the CUDA buffer type does
	// (cudaAllocSize) instead of ggml_nbytes.
	cuda bool
	// cudaBufs, when set, marks the buffers sized as CUDA's instead.
	cudaBufs []bool
	// trace, when set, receives the allocator's decisions (tests).
	trace func(event string, t *tensor, size, offset uint64)
}

// allocSize is ggml_backend_buft_get_alloc_size: ggml_nbytes for the CPU
// buffer; the CUDA buffer type's for a simulated CUDA device.
func (g *gallocr) allocSize(t *tensor, buf int8) uint64 {
	if g.cuda || int(buf) < len(g.cudaBufs) && g.cudaBufs[buf] {
		return cudaAllocSize(t)
	}
	return t.nbytes()
}

// cudaAllocSize mirrors ggml_backend_cuda_buffer_type_get_alloc_size for
// the graph's activations (f32/f16/i32: no quantized row padding): a
// FLASH_ATTN_EXT output also holds f16 copies of non-f16 K and V views
// when the kernel needs them (fattn.cu, ggml_cuda_flash_attn_ext_get_alloc_size
// and fattn-common.cuh, ..._get_f16_extra_data). The MMA kernel, which
// Turing and newer GPUs pick for quantized caches when a stream's batch
// has more than two tokens (ggml_cuda_get_best_fattn_kernel), needs both;
// a V that is a view of K (MLA) shares K's copy.
func cudaAllocSize(t *tensor) uint64 {
	n := t.nbytes()
	if t.op != opFlashAttn || t.src[0] == nil || t.src[0].ne[1] <= 2 {
		return n
	}
	k, v := t.src[1], t.src[2]
	pad := func(x uint64) uint64 { return (x + cudaAlignment - 1) / cudaAlignment * cudaAlignment }
	if k.typ != gguf.TypeF16 {
		n = pad(n) + uint64(k.nelements())*2
	}
	vIsK := v.viewSrc != nil && (v.viewSrc == k || v.viewSrc == k.viewSrc && v.viewOffs == k.viewOffs)
	if v.typ != gguf.TypeF16 && !vIsK {
		n = pad(n) + uint64(v.nelements())*2
	}
	return n
}

func (g *gallocr) isAllocated(t *tensor) bool { return t.ext || t.allocated }

// allocateNode mirrors ggml_gallocr_allocate_node.
func (g *gallocr) allocateNode(node *tensor, buf int8) {
	if g.isAllocated(node) || node.isView() {
		return
	}
	node.allocated = true
	if node.op.canInplace() {
		for _, p := range node.src {
			// Only a source galloc owns (not a view: views are never
			// "allocated"), not an output, of the same layout, and used
			// by this node alone.
			if p == nil || !p.allocated || p.output || (p.viewSrc != nil && p.viewSrc.output) || !sameLayout(node, p) {
				continue
			}
			if p.nChildren == 1 && p.nViews == 0 {
				node.buf, node.offset = p.buf, p.offset
				p.allocated = false
				if g.trace != nil {
					g.trace("R", node, 0, node.offset)
				}
				return
			}
		}
	}
	size := g.allocSize(node, buf)
	node.buf = buf
	node.offset = g.bufs[buf].alloc(size)
	if g.trace != nil {
		g.trace("A", node, size, node.offset)
	}
}

func (g *gallocr) freeNode(t *tensor) {
	if t.output {
		return
	}
	size := g.allocSize(t, t.buf)
	g.bufs[t.buf].freeBytes(t.offset, size)
	t.allocated = false
	if g.trace != nil {
		g.trace("F", t, size, t.offset)
	}
}

// run mirrors ggml_gallocr_alloc_graph_impl and returns each buffer's size
// (ggml_gallocr_reserve_n_size). bufOf gives a node's buffer id.
func (g *gallocr) run(c *ctx, bufOf func(*tensor) int8, align []uint64) []uint64 {
	if len(g.bufs) < len(align) {
		g.bufs = make([]dynAlloc, len(align))
	}
	g.bufs = g.bufs[:len(align)]
	for i := range g.bufs {
		g.bufs[i].reset(align[i])
	}
	for _, l := range c.leafs {
		g.allocateNode(l, bufOf(l))
	}
	for _, n := range c.nodes {
		// A view without an op is the scheduler's dependency on a split
		// input (ggml-alloc.c: "GGML_OP_NONE ... is used by ggml-backend
		// to add dependencies"): its source counts as used, not viewed.
		if n.viewSrc != nil && n.op != opNone {
			n.viewSrc.nViews++
		}
		if n.input {
			g.allocateNode(n, bufOf(n))
		}
		for _, s := range n.src {
			if s == nil {
				continue
			}
			s.nChildren++
			if s.input {
				g.allocateNode(s, bufOf(n))
			}
		}
	}
	for _, n := range c.nodes {
		buf := bufOf(n)
		for _, p := range n.src {
			if p != nil {
				g.allocateNode(p, buf)
			}
		}
		g.allocateNode(n, buf)
		for _, p := range n.src {
			if p == nil {
				continue
			}
			p.nChildren--
			if p.nChildren != 0 || p.nViews != 0 {
				continue
			}
			if v := p.viewSrc; v != nil {
				v.nViews--
				if v.nViews == 0 && v.nChildren == 0 && v.allocated {
					g.freeNode(v)
				}
			} else if p.allocated {
				g.freeNode(p)
			}
		}
	}
	sizes := make([]uint64, len(g.bufs))
	for i := range g.bufs {
		sizes[i] = g.bufs[i].maxSize
	}
	return sizes
}
