package planner

import (
	"fmt"
	"sync"

	"github.com/modelfit/modelfit/gguf"
)

// Compute buffers are sized the way llama.cpp sizes them: build the graph
// it reserves (graph.go, graph_arch.go), run ggml's allocator over it
// (galloc.go), take the highest offset. The graph depends on the ubatch,
// the cache lengths, flash attention and the cache types; results are
// cached per model, so the search pays for each distinct graph once.

// computeSim is one model's graph simulator and its results.
type computeSim struct {
	mu    sync.Mutex
	gm    *graphModel
	build archGraph
	known bool // the architecture has its own graph (not genericGraph)
	cache map[ubatch]simResult
	// splits holds the split simulations (graph_sched.go), nil where
	// one is not possible.
	splits map[splitKey][]uint64
	// layers is the representative subset the graph is simulated with.
	layers []int
}

type simResult struct {
	size   uint64
	inputs uint64 // the graph's input leafs and the token embedding's rows
	leafs  uint64 // the graph's input leafs alone
	// tokens and embd are the inp_tokens and inp_embd leafs: the token
	// ids only the host's GET_ROWS reads, and the embeddings input no
	// node reads (build_inp_embd's unselected path).
	tokens, embd uint64
	ok           bool
}

func (m *model) sim() *computeSim {
	m.simOnce.Do(func() {
		s := &computeSim{gm: newGraphModel(m), cache: map[ubatch]simResult{}}
		s.layers = s.gm.reducedLayers()
		s.build, s.known = archGraphs[m.h.Architecture]
		if !s.known {
			s.build = genericGraph
		}
		m.graphs = s
	})
	return m.graphs
}

// stateArchs are llama.cpp's recurrent and hybrid architectures
// (src/llama-arch.cpp, llm_arch_is_recurrent and llm_arch_is_hybrid, build
// 10587): without a graph of their own here the generic transformer's
// would be wrong, so they keep the approximation.
var stateArchs = map[string]bool{
	"mamba": true, "mamba2": true, "rwkv6": true, "rwkv6qwen2": true, "rwkv7": true, "arwkv7": true,
	"jamba": true, "falcon-h1": true, "plamo2": true, "granitehybrid": true, "lfm2": true, "lfm2moe": true,
	"nemotron_h": true, "nemotron_h_moe": true, "qwen3next": true, "kimi-linear": true, "bailingmoe3": true,
	"kimi-k3": true, "qwen35": true, "qwen35moe": true, "deepseek4": true, "minimax-01": true,
}

// generic reports whether the architecture may be sized from the generic
// transformer graph: it has no graph of its own and keeps no recurrent
// state.
func generic(arch string) bool {
	_, known := archGraphs[arch]
	return !known && !stateArchs[arch] && recurrentArch[arch] == ""
}

// computeWarning says when the compute buffers are not from the
// architecture's own graph: an architecture without one gets the generic
// transformer's (±25%) if its tensors fit that graph; a recurrent or hybrid
// one, or a file missing a tensor the graph multiplies by, the fitted
// approximation.
func (m *model) computeWarning() string {
	arch := m.h.Architecture
	_, known := archGraphs[arch]
	if !known && !generic(arch) {
		return fmt.Sprintf("compute buffers: the graph of the recurrent or hybrid architecture %q is not modelled; they are an approximation with a ±10%% range", arch)
	}
	s := DefaultSettings()
	c := cacheCells(m.h, s.NCtx, 1, s.NUbatch)
	_, fits := m.sim().size(reserveBatch(s, RuntimeLlamaCpp, s.NUbatch, s.NBatch, c))
	switch {
	case known && fits:
		return ""
	case known:
		return fmt.Sprintf("compute buffers: the file lacks a tensor the %q graph multiplies by (llama.cpp would not load it); they are an approximation with a ±10%% range", arch)
	case !fits:
		return fmt.Sprintf("compute buffers: architecture %q has no graph of its own here and its tensors do not fit the generic transformer's; they are an approximation with a ±10%% range", arch)
	}
	return fmt.Sprintf("compute buffers: architecture %q has no graph of its own here; they are sized from a generic transformer graph with a ±25%% range", arch)
}

// size returns the compute buffer of the graph for ub; ok is false when
// the file lacks a weight the graph needs.
func (s *computeSim) size(ub ubatch) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.cache[ub]; ok {
		return r.size, r.ok
	}
	w := workspaces.Get().(*workspace)
	defer workspaces.Put(w)
	v, ok := s.gm.simulate(&w.c, &w.ga, s.build, ub, s.layers)
	r := simResult{size: v, ok: ok}
	if ok {
		for _, l := range w.c.leafs {
			n := (l.nbytes() + cpuAlignment - 1) / cpuAlignment * cpuAlignment
			r.leafs += n
			switch l.name {
			case "inp_tokens":
				r.tokens += n
			case "inp_embd":
				r.embd += n
			}
		}
		r.inputs = r.leafs
		if len(w.c.nodes) > 0 && w.c.nodes[0].op == opGetRows {
			r.inputs += w.c.nodes[0].nbytes()
		}
	}
	s.cache[ub] = r
	return v, ok
}

// workspace is a simulation's scratch: the tensor slabs and the
// allocator's free lists, reused from one model to the next.
type workspace struct {
	c  ctx
	ga gallocr
}

var workspaces = sync.Pool{New: func() any { return new(workspace) }}

// reserveBatch is the ubatch llama.cpp reserves its compute buffers for
// (llama-context.cpp, sched_reserve): n_tokens = min(n_ctx, n_ubatch),
// rounded up to a multiple of the sequences (graph_reserve), and
// n_outputs = min(n_tokens, n_outputs_max).
func reserveBatch(s Settings, rt Runtime, ub, nOutputsMax int, c cells) ubatch {
	kt, _ := gguf.ParseType(orDefault(s.CacheTypeK, "f16"))
	vt, _ := gguf.ParseType(orDefault(s.CacheTypeV, "f16"))
	nSeq := int64(max(s.NParallel, 1))
	n := int64(ub)
	if n%nSeq != 0 {
		n = (n + nSeq - 1) / nSeq * nSeq
	}
	if s.NOutputsMax > 0 {
		nOutputsMax = s.NOutputsMax
	}
	nStream := nSeq
	if s.KVUnified {
		nStream = 1 // one stream, n_tokens still a multiple of n_seq_max
	}
	return ubatch{
		nTokens:  n,
		nOutputs: min(n, int64(max(nOutputsMax, 1))),
		nStream:  nStream,
		nSeqs:    nSeq,
		nKV:      int64(c.seq),
		nKVSWA:   int64(c.swaSeq),
		fa:       s.FlashAttn,
		kt:       kt,
		vt:       vt,
		rules:    rulesFor(rt),
	}
}

// graphCompute is the compute buffer of a device that runs the whole graph
// (every CPU-only plan). The point is what llama-fit-params, llama-cli and
// llama-bench reserve: logits for the whole ubatch (n_outputs_max defaults
// to n_batch, common/common.h). llama-server since 2026 reserves one output
// per sequence (server-context.cpp, server_output_limits: n_outputs_max =
// n_parallel); the low bound allows for that (the point less the logits'
// difference, at most half of it). The range is ±2% around the
// simulation for the architectures with their own graph (what an unchecked
// detail of a layout could move), ±25% around the generic transformer's
// graph for the others; older runtimes' recurrent graphs get ±10% (±25%
// for the gated-DeltaNet ones).
func (m *model) graphCompute(s Settings, rt Runtime, ub int, c cells) (low, point, high uint64, ok bool) {
	if _, known := archGraphs[m.h.Architecture]; !known && !generic(m.h.Architecture) {
		return 0, 0, 0, false
	}
	sim := m.sim()
	rb := reserveBatch(s, rt, ub, s.NBatch, c)
	if point, ok = sim.size(rb); !ok {
		return 0, 0, 0, false
	}
	margin := point / 50
	switch {
	case !sim.known:
		margin = point / 4
	case rt != RuntimeLlamaCpp && rt != "" && recurrentArch[m.h.Architecture] == "interval":
		// Builds before the fused gated delta rule (ggml_gated_delta_net,
		// PRs 19504 and 20340, March 2026) run the chunked graph of
		// build_delta_net_chunking, not simulated here.
		margin = point / 4
	case rt != RuntimeLlamaCpp && rt != "" && recurrentArch[m.h.Architecture] != "":
		// The recurrent graphs mirror build 10587; older builds differ in
		// details not checked against them.
		margin = point / 10
	}
	low, high = point-margin, point+margin
	if rt.profile().outputsMax() {
		// llama-server's graph has logits for one row per sequence: at
		// most that many fewer bytes at the peak.
		fewer := uint64(rb.nOutputs-min(rb.nTokens, int64(max(s.NParallel, 1)))) * m.h.VocabSize * 4
		low = min(low, point-min(point/2, fewer))
	}
	return low, point, high, true
}

// graphDevice replaces the approximation (low, point, high) of device d's
// compute buffer by the simulated graph where the device runs the graph
// the simulation models: every CPU-only plan; a single GPU holding every
// layer and the output, or running the host's layers too for a large batch
// (op offload) — the same graph, its inputs copied in from the host, ±10%:
// the CUDA buffers are not checked against llama.cpp here — plus the
// staging of host weights; and a host left with the graph's inputs only
// (the scheduler assigns inputs to the CPU backend, ggml-backend.cpp
// ggml_backend_sched_backend_id_from_cur, and the token embedding's rows
// are taken there: its weights stay on the host and GET_ROWS is not
// offloaded). With pipeline parallelism the host keeps GGML_SCHED_MAX_COPIES
// copies of every graph input (ggml-backend.cpp, ggml_backend_sched_split_graph:
// with n_copies > 1 each input gets n_copies copies on its own backend,
// allocated first and flagged as outputs, so never freed); the low bound is
// the single copy llama.cpp falls back to when the pipelined buffers do not
// fit (llama-context.cpp, sched_reserve: "retrying without pipeline
// parallelism").
func (m *model) graphDevice(s Settings, rt Runtime, ub int, c cells, d, nGPU int, whole, inputsOnly, pipeline bool, staging, low, point, high uint64) (uint64, uint64, uint64) {
	switch {
	case nGPU == 0:
		if l, p, h, ok := m.graphCompute(s, rt, ub, c); ok {
			return l, p, h
		}
	case d > 0 && whole:
		if l, p, h, ok := m.graphCompute(s, rt, ub, c); ok {
			if pc, ok := m.cudaCompute(s, rt, ub, c); ok {
				l, h = min(l, pc), max(h, pc)
				p = pc
			}
			return min(l, p-p/10), p + staging, max(h, p+p/10) + staging
		}
	case d == 0 && inputsOnly:
		if r, ok := m.graphInputs(s, rt, ub, c); ok {
			in := r.inputs
			if pipeline {
				p := in + (schedCopies-1)*(r.leafs-r.embd)
				return in, p, p + p/10
			}
			return in, in, in + in/10
		}
	}
	return low, point, high
}

// cudaCompute simulates the graph as the CUDA buffer type allocates it
// (128-byte alignment, flash attention's f16 copies of a quantized K and
// V) where that differs materially from the CPU's: flash attention over a
// quantized cache.
func (m *model) cudaCompute(s Settings, rt Runtime, ub int, c cells) (uint64, bool) {
	rb := reserveBatch(s, rt, ub, s.NBatch, c)
	if !rb.fa || rb.kt == gguf.TypeF16 && rb.vt == gguf.TypeF16 {
		return 0, false
	}
	rb.cuda = true
	return m.sim().size(rb)
}

// graphInputs is what the graph's inputs and the token embedding's rows
// take (inputs; the leafs alone in leafs): the host's compute buffer when
// every layer and the output run on GPUs.
func (m *model) graphInputs(s Settings, rt Runtime, ub int, c cells) (simResult, bool) {
	if _, known := archGraphs[m.h.Architecture]; !known && !generic(m.h.Architecture) {
		return simResult{}, false
	}
	sim := m.sim()
	rb := reserveBatch(s, rt, ub, s.NBatch, c)
	if _, ok := sim.size(rb); !ok {
		return simResult{}, false
	}
	return sim.cache[rb], true
}

// compute approximates one device's compute buffer when GPUs share the
// graph with the host: the peak of the graph's live tensors, from the
// three places it can occur (fitted to what llama.cpp allocated, see
// docs/accuracy.md): the output projection (logits for the whole ubatch),
// attention (the f32 KQ matrix without flash attention, the mask with it;
// for MLA the absorbed query and the logits stay alive too), and the MoE
// expert activations with the mask. Low and high bound it by ±10% and by
// the sum of the peaks.
//
// The first GPU also holds staging: the host weights it multiplies for
// large batches (see opOffloadStaging), added to the point and the high
// bound (not to the low one: a runtime run with --no-op-offload copies
// nothing). The host, whose layers' products then run on the GPU, may need
// as little as its graph inputs (the low bound) but keeps the full graph as
// its point: the decode graph still runs its layers there, and a planner
// should not count on less.
//
// Builds with PR #23861 (current upstream) reserve the graph for one
// output per sequence (n_outputs_max): their low bound takes the smaller
// logits, the point keeps the ubatch's.
func (m *model) compute(s Settings, rt Runtime, ub, nKV, swaCells int, layers, output, hostWithGPU bool, staging uint64) (low, point, high uint64) {
	u := uint64(ub)
	kv := uint64(nKV)
	embd := m.h.EmbeddingLength
	var out uint64
	if output {
		out = (m.h.VocabSize + embd) * u * 4
	}
	attn, moe := m.layerPeaks(s, u, kv, uint64(swaCells), layers, out)
	inputs := embd * u * 4 * 2 // the input embeddings and their copy to the first GPU
	if hostWithGPU && !layers && !output {
		// The host keeps the graph inputs only.
		out = inputs
	}
	point = max(out, attn, moe)
	low, high = point-point/10, max(point+point/10, out+attn+moe)
	if output && rt.profile().outputsMax() {
		few := (m.h.VocabSize*uint64(max(s.NParallel, 1)) + embd*u) * 4
		a, e := m.layerPeaks(s, u, kv, uint64(swaCells), layers, few)
		p := max(few, a, e)
		low = min(low, p-p/10)
	}
	if hostWithGPU && layers && ub >= opOffloadMinBatch {
		low = min(low, inputs)
	}
	return low, point + staging, high + staging
}

// layerPeaks returns the attention and MoE peaks of a device holding
// layers, given the output term out (MLA keeps the logits alive with its
// attention).
func (m *model) layerPeaks(s Settings, u, kv, swaCells uint64, layers bool, out uint64) (attn, moe uint64) {
	if !layers {
		return 0, 0
	}
	embd := m.h.EmbeddingLength
	nHead := m.h.HeadCount.Max()
	mla := m.h.KVLoraRank > 0
	switch {
	case mla && s.FlashAttn:
		attn = 2*kv*u + nHead*m.h.KVLoraRank*u*4 + out
	case mla:
		attn = (nHead+1)*kv*u*4 + nHead*m.h.KVLoraRank*u*4 + out
	case s.FlashAttn:
		attn = 6*kv*u + 4*nHead*m.h.KeyLength*u*4
	default:
		attn = (nHead+1)*kv*u*4 + 9*nHead*m.h.KeyLength*u*2 + (368+embd*16/25)*u
	}
	if m.h.SlidingWindow > 0 && swaCells > 0 {
		attn += swaCells * u * 4
	}
	if m.h.ExpertUsedCount > 0 {
		ff := m.h.ExpertFeedForwardLength
		if ff == 0 {
			ff = m.h.FeedForwardLength.Max()
		}
		moe = 7*m.h.ExpertUsedCount*ff*u*2 + 2*kv*u
	}
	return attn, moe
}

// opOffloadMinBatch is the batch from which the CUDA backend takes over
// matrix products whose weights are on the host (ggml-cuda's offload_op).
const opOffloadMinBatch = 32

// opOffloadStaging is what the first GPU's compute buffer holds for host
// tensors it works on: for a ubatch of 32 tokens or more the scheduler runs
// the products of host weights on the GPU, copying each weight into its
// compute buffer. It starts a new graph split at every such weight so that
// the copies reuse one another's memory, so the peak is the largest single
// host weight; the attention of a host layer copies that layer's K and V
// views together. (gguf-parser-go issue 45 measured the step: Qwen3-0.6B
// +9.5 MiB, about one layer's q8_0 K and V at 4096 cells; OLMoE-1B-7B +108
// MiB, one expert tensor.)
func opOffloadStaging(b *Breakdown, hostLayer []uint64, hostOutput uint64) uint64 {
	peak := hostOutput
	for il, w := range hostLayer {
		if l := b.Layers[il]; l.KVDevice == 0 {
			w = max(w, l.KBytes+l.VBytes)
		}
		if hostLayer[il] > 0 || b.Layers[il].Device == 0 {
			peak = max(peak, w)
		}
	}
	return peak
}

// schedCopies is the number of copies of each graph input the scheduler
// keeps with pipeline parallelism (GGML_SCHED_MAX_COPIES).
const schedCopies = 4

// pipelineCopies is what pipeline parallelism adds to a GPU's compute
// buffer. The scheduler gives every input of a graph split n_copies =
// GGML_SCHED_MAX_COPIES copies on the split's backend, flagged as outputs
// so the allocator never frees or reuses them (ggml-backend.cpp,
// ggml_backend_sched_split_graph, pass 5): the activations the GPU receives
// (n_embd × ubatch f32) and the graph inputs its layers read (masks, cell
// indices, positions, rotations: the simulated graph's input leafs, which
// is what a GPU attending every cache type reads; without a simulated graph,
// the f32 masks). One copy is in the single-copy figure already. The token
// ids stay with the host's GET_ROWS and the unused embeddings input is no
// node's source: neither is copied.
func (m *model) pipelineCopies(s Settings, rt Runtime, ub int, c cells, nKV int) uint64 {
	u := uint64(ub)
	act := m.h.EmbeddingLength * u * 4
	if r, ok := m.graphInputs(s, rt, ub, c); ok {
		return (schedCopies - 1) * (act + r.leafs - r.tokens - r.embd)
	}
	return (schedCopies - 1) * (act + uint64(nKV)*u*4 + uint64(c.swaSeq)*u*4)
}
