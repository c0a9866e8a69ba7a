package exec

import (
	"context"
	"fmt"

	"github.com/modelfit/modelfit/mmapio"
	"github.com/modelfit/modelfit/probe"
)

// The streaming policy, for a model whose weights do not fit in memory
// (Settings.StreamWeights with mmap). Decode reads every weight once per
// token in the same order: under demand paging that cyclic scan larger than
// memory makes the kernel's LRU evict each page just before it is needed
// again, so nearly the whole model is read from disk every token, one
// synchronous fault at a time. Instead the engine keeps a fixed set of
// layers (and the output matrix) resident in the mapping, as many as the
// memory budget allows, and reads the other layers' matrices with large
// direct reads into a ring of two layer-sized buffers, one layer ahead of
// compute (mmapio.Stream): per token it reads only the streamed bytes, the
// disk never idles, and the streamed bytes never evict the resident part.

// streamMargin is memory left for the Go runtime, the tokenizer, heap
// growth and the kernel's own use of the cgroup.
const streamMargin = 256 << 20

// memoryBudget is the memory the model may use, measured at load: the host's
// available memory or the cgroup's room, whichever is smaller. Tests
// replace it.
var memoryBudget = func(ctx context.Context) (int64, error) {
	snap, err := probe.Probe(ctx, probe.Options{NoGPU: true})
	if err != nil {
		return 0, err
	}
	return int64(snap.Memory.EffectiveAvailableBytes), nil
}

// StreamStats describe the streaming policy in use (Model.Streaming).
type StreamStats struct {
	ResidentLayers, StreamedLayers int
	ResidentBytes                  int64 // weights kept in the mapping (streamed layers excluded)
	StreamedBytes                  int64 // bytes read from disk per forward pass
	RingBytes                      int64 // the read-ahead buffers
	mmapio.StreamStats                   // counters so far
}

// Streaming reports the streaming policy; ok is false when every weight is
// resident.
func (m *Model) Streaming() (st StreamStats, ok bool) {
	if m.stream == nil {
		return StreamStats{}, false
	}
	st = m.streamPlan
	st.StreamStats = m.stream.Stats()
	st.RingBytes = m.stream.Len()
	return st, true
}

// layerRange is the file range holding a layer's seven matrices, and their
// total bytes.
func (l *layer) matrices() []*weight {
	return []*weight{&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down}
}

func layerRange(l *layer) (r mmapio.Range, bytes int64, ok bool) {
	ws := l.matrices()
	r = mmapio.Range{Part: ws[0].part, Off: ws[0].off}
	end := r.Off
	for _, w := range ws {
		if w.part != r.Part {
			return r, 0, false
		}
		r.Off = min(r.Off, w.off)
		end = max(end, w.off+int64(len(w.data)))
		bytes += int64(len(w.data))
	}
	r.N = end - r.Off
	// A layer whose matrices are scattered through the file (not the usual
	// layout) would read too much: keep it resident.
	return r, bytes, r.N <= bytes+bytes/8+(1<<20)
}

// streamReserve is the memory that is not weights: the KV cache, one
// ubatch's activations and the margin.
func (m *Model) streamReserve() int64 {
	hp := &m.hp
	reserve := int64(streamMargin)
	for il := range m.kv.k {
		reserve += int64(len(m.kv.k[il]) + len(m.kv.v[il]))
	}
	ub := int64(m.settings.NUbatch)
	return reserve + ub*int64(8*hp.nEmbd+3*hp.nFF+hp.nVocab)*4
}

// streamSlots is the ring: the layer in use and the next one being read.
const streamSlots = 2

// planStream decides which layers to stream and starts the reader.
func (m *Model) planStream(ctx context.Context, paths []string) error {
	budget, err := memoryBudget(ctx)
	if err != nil {
		return fmt.Errorf("exec: memory budget for streaming: %w", err)
	}
	reserve := m.streamReserve()

	// The output matrix is read whole every token: always resident. The
	// token embeddings are read one row per token: they stay mapped and
	// count nothing.
	resident := int64(len(m.output.data))
	type cand struct {
		il    int
		r     mmapio.Range
		bytes int64
	}
	var cands []cand
	var all, largest int64
	for il := range m.layers {
		r, b, ok := layerRange(&m.layers[il])
		if !ok {
			resident += b
			continue
		}
		cands = append(cands, cand{il, r, b})
		all += b
		largest = max(largest, r.N)
	}
	if resident+all <= budget-reserve {
		return nil // everything fits: plain mapping
	}
	room := budget - reserve - resident - streamSlots*(largest+3*4096)
	// As many layers stay resident as fit, spread evenly between the
	// streamed ones: while a resident layer computes the reader fills the
	// ring, so the disk idles only where resident layers bunch up.
	keep := 0
	for _, c := range cands {
		if c.bytes > room {
			break
		}
		room -= c.bytes
		keep++
	}
	var ranges []mmapio.Range
	var plan StreamStats
	plan.ResidentBytes = resident
	for i, c := range cands {
		l := &m.layers[c.il]
		if (i+1)*keep/len(cands) > i*keep/len(cands) {
			plan.ResidentBytes += c.bytes
			plan.ResidentLayers++
			continue
		}
		l.stream = len(ranges)
		ranges = append(ranges, c.r)
		plan.StreamedBytes += c.r.N
		plan.StreamedLayers++
	}
	if len(ranges) == 0 {
		return nil
	}
	st, err := mmapio.OpenStream(paths, ranges, mmapio.StreamOptions{Slots: streamSlots})
	if err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	m.stream, m.streamPlan = st, plan
	return nil
}

// acquireLayer points a streamed layer's matrices at its bytes in the ring,
// waiting for the read if needed; release hands the buffer back. Both do
// nothing for a resident layer.
func (m *Model) acquireLayer(l *layer) error {
	if l.stream < 0 {
		return nil
	}
	b, err := m.stream.Acquire(l.stream)
	if err != nil {
		return err
	}
	base := m.stream.Range(l.stream).Off
	for _, w := range l.matrices() {
		w.data = b[w.off-base : w.off-base+int64(len(w.data))]
	}
	return nil
}

func (m *Model) releaseLayer(l *layer) {
	if l.stream >= 0 {
		m.stream.Release(l.stream)
	}
}
