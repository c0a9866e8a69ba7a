package planner

import "slices"

// A port of ggml_backend_sched's graph split (ggml/src/ggml-backend.cpp,
// ggml_backend_sched_split_graph, build 10587) over the simulated graph:
// when several devices share a model, every node gets a backend, each run
// of nodes on one backend is a split, and every tensor a split reads from
// another backend gets a copy in the split's backend, allocated at the
// start of the split. The allocator then walks the rewritten graph with one
// buffer per backend (ggml_gallocr_alloc_graph with the node and leaf
// backend ids): each device's compute buffer holds the activations of the
// layers it runs and the copies of what it receives, by construction.

// schedPlace says where a plan put the tensors the scheduler looks at.
// Backend ids are ggml_backend_sched's: the plan's devices 1…n (RPC
// devices, then local GPUs, as llama_context lists them) are 0…n-1 and the
// CPU is n, the last and lowest-priority backend.
type schedPlace struct {
	n int8 // backends, the CPU included
	// tensorDev is the backend of each of model.tensors (overrides
	// applied); layerDev that of each layer (model.dev_layer, which
	// pins the norms) and kvDev that of each layer's cache; output is the
	// output layer's (the tied output's duplicate lives there).
	tensorDev, layerDev, kvDev []int8
	output                     int8
	// offload is the backend whose offload_op takes the ops on host
	// weights (the first local CUDA GPU: ggml-cuda.cu,
	// ggml_backend_cuda_device_offload_op, batch ≥ 32), -1 for none (RPC
	// devices have no offload_op, ggml-rpc.cpp).
	offload int8
	// pinNorms: graph_get_cb pins each layer's "norm" to the layer's
	// device when n_tokens < 32 or every layer is offloaded
	// (llama-context.cpp).
	pinNorms bool
	// cuda marks the backends whose buffers are sized as CUDA's (128-byte
	// alignment, cudaAllocSize): local CUDA GPUs and GPUs behind RPC.
	cuda []bool
}

func (p *schedPlace) cpu() int8 { return p.n - 1 }

// anyBackend is the placement of a weight every layer duplicates on its
// own device (rope frequencies): always where its user runs.
const anyBackend = -2

// extBackend is the backend of the buffer holding external tensor t (a
// weight, a cache or a view of one); -1 when the plan does not say.
func (p *schedPlace) extBackend(t *tensor) int8 {
	if t.viewSrc != nil {
		t = t.viewSrc
	}
	switch {
	case !t.weight:
		if t.layer < 0 || int(t.layer) >= len(p.kvDev) {
			return -1
		}
		return p.kvDev[t.layer]
	case t.tidx < 0:
		return p.output
	}
	return p.tensorDev[t.tidx]
}

// backendOf is the backend a tensor was given (hv_tensor_backend_ids);
// external tensors are where their buffer is.
func (p *schedPlace) backendOf(t *tensor) int8 {
	if t.ext && (t.op == opNone || t.viewSrc != nil && t.be == 0) {
		return p.extBackend(t)
	}
	return t.be - 1
}

// supported mirrors ggml_backend_sched_buffer_supported: a backend reads
// only its own buffers here (every backend has its own buffer type; the
// CPU's host buffers are the CPU backend's).
func (p *schedPlace) supported(t *tensor, b int8) bool {
	be := p.backendOf(t)
	if be == -1 && t.viewSrc != nil {
		be = p.backendOf(t.viewSrc)
	}
	return be == b || be == anyBackend
}

// isWeight is src->buffer->usage == GGML_BACKEND_BUFFER_USAGE_WEIGHTS: a
// weight itself, not a view of one (a view gets its buffer only when
// allocated).
func isWeight(t *tensor) bool { return t.weight && t.viewSrc == nil }

// opBatch mirrors ggml-cuda.cu's get_op_batch_size.
func opBatch(t *tensor) int64 {
	switch t.op {
	case opGetRows:
		return 0
	case opMulMat:
		return t.ne[1]
	case opMulMatID, opRope:
		return t.ne[2]
	}
	return t.ne[1] * t.ne[2] * t.ne[3]
}

// fromCur mirrors ggml_backend_sched_backend_id_from_cur.
func (p *schedPlace) fromCur(t *tensor) int8 {
	if t.ext && t.viewSrc != nil {
		if b := p.extBackend(t); b >= 0 {
			return b
		}
	}
	if t.input {
		return p.cpu()
	}
	if t.op == opRope || t.op == opFlashAttn {
		return -1
	}
	for _, s := range t.src {
		if s == nil || !isWeight(s) {
			continue
		}
		b := p.extBackend(s)
		if b == anyBackend {
			continue
		}
		if b == p.cpu() && p.offload >= 0 && opBatch(t) >= opOffloadMinBatch {
			return p.offload
		}
		return b
	}
	return -1
}

// schedule assigns every node of c a backend (passes 1 to 4 of
// ggml_backend_sched_split_graph) and rewrites c.nodes into the
// scheduler's graph copy (pass 5 and the copy after it): each split's
// input copies, preceded by a dependency on the input so that it lives
// until copied, then the split's nodes, reading the copies. ok is false
// when an external tensor's place is not known.
func (p *schedPlace) schedule(c *ctx) bool {
	nodes := c.nodes
	set := func(t *tensor, b int8) { t.be = b + 1 }
	for _, l := range c.leafs {
		if l.input {
			set(l, p.cpu())
		}
	}
	// Pass 1, with graph_get_cb's pins as user assignments.
	for _, n := range nodes {
		if n.pin > 0 && p.pinNorms {
			set(n, p.layerDev[n.pin-1])
			continue
		}
		if b := p.fromCur(n); b >= 0 {
			set(n, b)
		} else if n.ext && p.extBackend(n) == -1 {
			return false
		}
	}
	// Pass 2: expand GPU backends down and up (skipping the CPU), then
	// any backend down and up. Every backend is taken to support every
	// op.
	expand := func(down, skipCPU bool) {
		cur := int8(-1)
		for k := range nodes {
			i := k
			if !down {
				i = len(nodes) - 1 - k
			}
			n := nodes[i]
			if n.op == opView {
				continue
			}
			switch {
			case n.be != 0 && skipCPU && n.be-1 == p.cpu():
				cur = -1
			case n.be != 0:
				cur = n.be - 1
			case cur != -1:
				set(n, cur)
			}
		}
	}
	expand(true, true)
	expand(false, true)
	expand(true, false)
	expand(false, false)
	// Pass 3: no backend shares another's buffer type, so nothing is
	// upgraded; a node still without one (none above or below it had
	// one) gets the backend most of its sources are readable from.
	for _, n := range nodes {
		if n.op == opView || n.be != 0 {
			continue
		}
		best := -1
		for b := range p.n {
			k := 0
			for _, s := range n.src {
				if s != nil && (p.backendOf(s) != -1 || s.viewSrc != nil && p.backendOf(s.viewSrc) != -1) && p.supported(s, b) {
					k++
				}
			}
			if k > best {
				best = k
				set(n, b)
			}
		}
	}
	// Pass 4: views go with what they view, unassigned sources with
	// their user.
	for _, n := range nodes {
		if n.viewSrc != nil && n.be == 0 {
			n.be = p.backendOf(n.viewSrc) + 1
		}
		for _, s := range n.src {
			if s == nil || s.ext && s.viewSrc == nil || s.be != 0 {
				continue
			}
			if s.viewSrc != nil {
				s.be = p.backendOf(s.viewSrc) + 1
			} else {
				s.be = n.be
			}
		}
		if n.be <= 0 {
			set(n, 0)
		}
	}
	// Pass 5: splits and their inputs. A tensor gets one copy per
	// backend that reads it (tensor_id_copy), made at the first split
	// that needs it.
	type copyKey struct {
		t *tensor
		b int8
	}
	copies := map[copyKey]*tensor{}
	copyOf := func(s *tensor, b int8) *tensor { return copies[copyKey{s, b}] }
	out := c.sched[:0]
	start, cur := 0, int8(-1)
	for _, n := range nodes {
		if n.op != opView {
			cur = n.be - 1
			break
		}
	}
	var inputs []*tensor
	flush := func(end int) {
		for _, in := range inputs {
			dep := c.viewTensor(in)
			dep.src[0] = in
			dep.be = p.backendOf(in) + 1
			out = append(out, dep, copyOf(in, cur))
		}
		out = append(out, nodes[start:end]...)
		inputs = inputs[:0]
		start = end
	}
	for i, n := range nodes {
		if n.op == opView {
			continue
		}
		b := n.be - 1
		newSplit := b != cur
		if !newSplit && len(inputs) > 0 {
			// A weight from an incompatible backend starts a new split,
			// so that the copies of offloaded weights reuse memory.
			for _, s := range n.src {
				if s != nil && isWeight(s) && p.extBackend(s) != cur && !p.supported(s, cur) {
					newSplit = true
					break
				}
			}
		}
		if newSplit {
			flush(i)
			cur = b
		}
		for j, s := range n.src {
			if s == nil {
				continue
			}
			if sb := p.backendOf(s); sb == -1 {
				return false
			}
			if p.supported(s, cur) {
				continue
			}
			cp := copyOf(s, cur)
			if cp == nil {
				// ggml_dup_tensor_layout: the source's shape and strides.
				cp = c.alloc()
				cp.typ, cp.ne, cp.nb = s.typ, s.ne, s.nb
				cp.be = cur + 1
				copies[copyKey{s, cur}] = cp
				inputs = append(inputs, s)
			}
			n.src[j] = cp
		}
	}
	flush(len(nodes))
	// The two lists take turns: the next graph is built in this one's
	// array, its split written to the one built now.
	c.sched, c.nodes = nodes[:0], out

	return true
}

// simulateSplit builds the graph for ub over the given layers, splits it
// across the backends of p and runs the allocator with one buffer per
// backend: each backend's compute buffer. ok is false when the file lacks
// a tensor the graph multiplies by or the placement of an external tensor
// is not known.
func (gm *graphModel) simulateSplit(c *ctx, ga *gallocr, build archGraph, ub ubatch, layers []int, p *schedPlace) (sizes []uint64, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, missing := r.(errMissingTensor); !missing {
				panic(r)
			}
			sizes, ok = nil, false
		}
	}()
	c.reset()
	b := &builder{ctx: c, gm: gm, ub: ub, layers: layers}
	build(b)
	if !p.schedule(c) {
		return nil, false
	}
	align := make([]uint64, p.n)
	for i := range align {
		align[i] = cpuAlignment
		if p.cuda[i] {
			align[i] = cudaAlignment
		}
	}
	ga.cuda, ga.cudaBufs = false, p.cuda
	defer func() { ga.cudaBufs = nil }()
	return ga.run(c, func(t *tensor) int8 { return max(t.be-1, 0) }, align), true
}

// splitKey identifies a split simulation: the batch and a hash of the
// placement.
type splitKey struct {
	ub    ubatch
	place uint64
}

func (p *schedPlace) hash() uint64 {
	h := uint64(14695981039346656037)
	mix := func(v int8) { h = (h ^ uint64(uint8(v))) * 1099511628211 }
	for _, s := range [][]int8{p.tensorDev, p.layerDev, p.kvDev} {
		for _, v := range s {
			mix(v)
		}
		mix(-3)
	}
	mix(p.output)
	mix(p.offload)
	if p.pinNorms {
		mix(1)
	}
	for _, c := range p.cuda {
		if c {
			mix(2)
		} else {
			mix(3)
		}
	}
	return h
}

// splitLayers picks the layers a split is simulated with: each run of
// layers placed alike (weights, cache) reduced as reducedLayers reduces a
// model, so that every device boundary is kept with the layers around it.
func (gm *graphModel) splitLayers(p *schedPlace) []int {
	if unreducedArchs[gm.arch] {
		return gm.allLayers()
	}
	sig := gm.layerSigs()
	place := make([]uint64, gm.nLayer)
	for il := range place {
		h := uint64(uint8(p.layerDev[il]))<<8 | uint64(uint8(p.kvDev[il]))
		for _, nt := range gm.layers[il] {
			h = (h ^ uint64(uint8(p.tensorDev[nt.idx]))) * 1099511628211
		}
		place[il] = h
	}
	var out []int
	for lo := 0; lo < gm.nLayer; {
		hi := lo + 1
		for hi < gm.nLayer && place[hi] == place[lo] {
			hi++
		}
		out = reduceRange(sig, lo, hi, splitLeadPeriods, out)
		lo = hi
	}
	return out
}

// splitLeadPeriods is how many periods of a run of alike layers the split
// simulation keeps before cutting, as many as reducedLayers keeps (two
// changed a multi-GPU split's peak in TestMultiGPUSplit): TestSplitReduced
// checks the cut against every layer.
var splitLeadPeriods = 6

// maxSplitCache bounds the split simulations kept per model: a search
// tries many placements, a plan keeps few.
const maxSplitCache = 256

// splitSizes is each backend's compute buffer for the reserve graph of ub
// split over the placement p. ok is false where the graph is not
// simulated or a placement not known.
func (m *model) splitSizes(s Settings, rt Runtime, ub int, c cells, p *schedPlace) ([]uint64, bool) {
	if _, known := archGraphs[m.h.Architecture]; !known && !generic(m.h.Architecture) {
		return nil, false
	}
	sim := m.sim()
	rb := reserveBatch(s, rt, ub, s.NBatch, c)
	if ub < opOffloadMinBatch {
		p.offload = -1
	}
	key := splitKey{rb, p.hash()}
	sim.mu.Lock()
	defer sim.mu.Unlock()
	if r, ok := sim.splits[key]; ok {
		return r, r != nil
	}
	w := workspaces.Get().(*workspace)
	defer workspaces.Put(w)
	sizes, ok := sim.gm.simulateSplit(&w.c, &w.ga, sim.build, rb, sim.gm.splitLayers(p), p)
	if sim.splits == nil || len(sim.splits) >= maxSplitCache {
		sim.splits = map[splitKey][]uint64{}
	}
	if !ok {
		sizes = nil
	}
	sim.splits[key] = sizes
	return sizes, ok
}

// schedBackend is the scheduler's backend id of plan device d (0 = CPU)
// among nGPU offload devices.
func schedBackend(d, nGPU int) int8 {
	if d == 0 {
		return int8(nGPU)
	}
	return int8(d - 1)
}

// schedSplit simulates the graph split over the devices of breakdown b:
// each device's compute buffer (indexed by device), nil where the split is
// not simulated (no offload device, a Metal GPU, more devices than the
// scheduler's ids hold, a graph not simulated here, or a tensor whose place
// is unknown).
func (m *model) schedSplit(s Settings, env Env, ub, ngl int, c cells, b *Breakdown, tensorDev []int8) []uint64 {
	nGPU := len(b.Devices) - 1
	if nGPU < 1 || nGPU > 64 {
		return nil
	}
	for d := 1; d <= nGPU; d++ {
		if env.hostMapped(d) {
			return nil
		}
	}
	p := &schedPlace{n: int8(nGPU + 1), output: schedBackend(b.Output, nGPU), offload: -1, pinNorms: !env.NoAllocReserve && (ub < opOffloadMinBatch || ngl > m.nLayer)}
	p.tensorDev = make([]int8, len(tensorDev))
	for i, d := range tensorDev {
		p.tensorDev[i] = d
		if d >= 0 {
			p.tensorDev[i] = schedBackend(int(d), nGPU)
		}
	}
	p.layerDev = make([]int8, len(b.Layers))
	p.kvDev = make([]int8, len(b.Layers))
	for il, l := range b.Layers {
		p.layerDev[il] = schedBackend(l.Device, nGPU)
		p.kvDev[il] = schedBackend(l.KVDevice, nGPU)
	}
	p.cuda = make([]bool, nGPU+1)
	for d := 1; d <= nGPU; d++ {
		p.cuda[d-1] = env.remote(d) != RemoteCPU
	}
	// The first local GPU offloads the host's large-batch ops (the same
	// condition as opOffloadStaging's).
	if d := 1 + env.remoteCount(); d <= nGPU && env.remote(d) == RemoteNone {
		p.offload = schedBackend(d, nGPU)
	}
	sizes, ok := m.splitSizes(s, env.Runtime, ub, c, p)
	if !ok {
		return nil
	}
	// A run that allocates reserves the decode graph too (one token per
	// sequence, llama-context.cpp sched_reserve) and its buffers keep the
	// larger of the two: with op offload the decode graph runs the host's
	// layers on the host, which the prompt graph does not.
	if p.offload >= 0 && !env.NoAllocReserve {
		tg := *p
		tg.offload, tg.pinNorms = -1, true
		nSeq := max(s.NParallel, 1)
		ts := s
		ts.NBatch = nSeq
		dec, ok := m.splitSizes(ts, env.Runtime, nSeq, c, &tg)
		if !ok {
			return nil
		}
		sizes = slices.Clone(sizes) // the cached figures stay the prompt graph's
		for i := range sizes {
			sizes[i] = max(sizes[i], dec[i])
		}
	}
	out := make([]uint64, nGPU+1)
	for d := range out {
		out[d] = sizes[schedBackend(d, nGPU)]
	}
	return out
}

// splitDevice is device d's compute buffer from the simulated split: ±2%
// for a buffer the CPU backend computes in (the host's, a ggml-rpc-server
// CPU's: checked against build 10587 in TestSplitRPC), ±10% for a GPU's
// (not checked against a GPU here) and for the host's when a local GPU
// takes over its large-batch products (op offload, a CUDA rule). The
// device with the output allows for llama-server's one output per
// sequence in its low bound, as graphCompute does.
func (m *model) splitDevice(s Settings, env Env, ub, d int, c cells, b *Breakdown, sizes []uint64) (low, point, high uint64) {
	point = sizes[d]
	margin := point / 50
	hostOffloaded := d == 0 && ub >= opOffloadMinBatch && 1+env.remoteCount() < len(sizes) && env.remote(1+env.remoteCount()) == RemoteNone
	if d > 0 && env.remote(d) != RemoteCPU || hostOffloaded {
		margin = point / 10
	}
	low, high = point-margin, point+margin
	if b.Output == d && env.Runtime.profile().outputsMax() {
		rb := reserveBatch(s, env.Runtime, ub, s.NBatch, c)
		fewer := uint64(rb.nOutputs-min(rb.nTokens, int64(max(s.NParallel, 1)))) * m.h.VocabSize * 4
		low = min(low, point-min(point/2, fewer))
	}
	return low, point, high
}
