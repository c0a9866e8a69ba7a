package planner

// simulate builds the graph of an architecture for ubatch ub over the
// given layers and runs the allocator over it: the CPU compute buffer's
// size in bytes. ok is false when the file lacks a tensor the graph
// multiplies by (llama.cpp would not load it either).
func (gm *graphModel) simulate(c *ctx, ga *gallocr, build archGraph, ub ubatch, layers []int) (size uint64, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, missing := r.(errMissingTensor); !missing {
				panic(r)
			}
			size, ok = 0, false
		}
	}()
	c.reset()
	b := &builder{ctx: c, gm: gm, ub: ub, layers: layers}
	build(b)
	align := uint64(cpuAlignment)
	ga.cuda = ub.cuda
	if ub.cuda {
		align = cudaAlignment
	}
	sizes := ga.run(c, func(*tensor) int8 { return 0 }, []uint64{align})
	return sizes[0], true
}

// cpuAlignment is the CPU buffer type's alignment (ggml-backend.cpp,
// ggml_backend_cpu_buffer_type_get_alignment: TENSOR_ALIGNMENT).
const cpuAlignment = 32

// allLayers lists every layer.
func (gm *graphModel) allLayers() []int {
	l := make([]int, gm.nLayer)
	for i := range l {
		l[i] = i
	}
	return l
}

// reducedLayers picks the layers whose graph has the full graph's peak:
// the allocator's state repeats from layer to layer once the layers
// repeat (same shapes, same sliding-window flag), so beyond a few periods
// the middle layers only replay what came before. Kept are the leading
// layers up to six periods past the last irregular one and the last two
// periods plus one (the last layer selects the output rows, and the inputs
// die there). TestReducedLayers checks the peak against the full graph.
func (gm *graphModel) reducedLayers() []int {
	if unreducedArchs[gm.arch] {
		return gm.allLayers()
	}
	return reduceRange(gm.layerSigs(), 0, gm.nLayer, 6, nil)
}

// layerSigs are the layers' signatures: an order-independent hash of each
// layer's tensor names and shapes, its window flag and head counts.
func (gm *graphModel) layerSigs() []uint64 {
	n := gm.nLayer
	sig := make([]uint64, n)
	for il := range n {
		var h uint64
		for _, nt := range gm.layers[il] {
			x := fnv(nt.name)
			for _, d := range nt.ti.shape {
				x = (x ^ d) * 1099511628211
			}
			h += x * 0x9e3779b97f4a7c15
		}
		h = (h ^ uint64(gm.nHead[il])<<32 ^ uint64(gm.nHeadKV[il])) * 1099511628211
		if gm.swa[il] {
			h ^= 0x5bd1e995
		}
		if gm.arch == "smollm3" && smollm3NoRope(il) {
			h ^= 0x27d4eb2f
		}
		if int64(il) < gm.deepstack {
			h ^= 0x165667b1
		}
		sig[il] = h
	}
	return sig
}

// reduceRange appends to out the layers of [lo, hi) that reducedLayers
// keeps of a model made of those layers alone, keeping lead periods past
// the last irregular layer.
func reduceRange(sig []uint64, lo, hi, lead int, out []int) []int {
	periods := lead
	n := hi - lo
	all := func() []int {
		for il := lo; il < hi; il++ {
			out = append(out, il)
		}
		return out
	}
	for p := 1; p <= 8 && p < n; p++ {
		lead := n - p // first index from which sig[i] == sig[i+p] for all i
		for lead > 0 && sig[lo+lead-1] == sig[lo+lead-1+p] {
			lead--
		}
		if lead > n/2 {
			continue
		}
		// The allocator's own state may repeat only every second period
		// (two buffers taking turns): cut whole double periods.
		keep := lead + periods*p
		tail := 2*p + 1
		if keep+tail >= n {
			return all()
		}
		cut := (n - tail - keep) / (2 * p) * (2 * p)
		for i := range n {
			if i < keep || i >= keep+cut {
				out = append(out, lo+i)
			}
		}
		return out
	}
	return all()
}

// fnv is FNV-1a of s.
func fnv(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}
