package planner

// compute approximates one device's compute buffer: the peak of the graph's
// live tensors, from the three places it can occur (fitted to what llama.cpp
// allocated, see docs/accuracy.md): the output projection (logits for the
// whole ubatch), attention (the f32 KQ matrix without flash attention, the
// mask with it; for MLA the absorbed query and the logits stay alive too),
// and the MoE expert activations with the mask. The point estimate is within
// 10% of llama.cpp's on every reference configuration; low and high bound it
// by ±10% and by the sum of the peaks.
//
// With GPUs two things change. The first GPU also holds staging: the host
// weights it multiplies for large batches (see opOffloadStaging), added to
// the point and the high bound (not to the low one: a runtime run with
// --no-op-offload copies nothing). The host, whose layers' products then
// run on the GPU, may need as little as its graph inputs (the low bound)
// but keeps the full graph as its point: the decode graph still runs its
// layers there, and a planner should not count on less.
//
// Current upstream builds (2026) reserve the graph for one output per
// sequence (n_outputs_max) instead of logits for the whole ubatch; the
// reference build does the latter. For a build with PR #23861 the low bound
// takes the smaller logits, the point keeps the ubatch's.
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
		// The f32 KQ matrix and mask, the activations around them
		// (4.5 × n_embd floats per token), and a small per-token rest
		// (368 + 0.64·n_embd bytes) fitted on the tiny llamas, where it
		// is 3% of the buffer; on 8B models it is under 0.5%.
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
// buffer: the extra copies of the inputs of its graph split, kept alive for
// the whole graph: the activations it receives (n_embd × ubatch f32) and the
// f32 attention masks (full and sliding-window).
func pipelineCopies(embd uint64, ub, nKV, swaCells int) uint64 {
	u := uint64(ub)
	return (schedCopies - 1) * (embd*u*4 + uint64(nKV)*u*4 + uint64(swaCells)*u*4)
}
