package residency

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/modelfit/modelfit/internal/units"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/probe"
)

// DefaultMemoSize is how many plans a Planner keeps when MemoSize is 0.
const DefaultMemoSize = 256

// Planner makes residency decisions and memoises the plans it makes for
// requested models: planner.Make simulates compute graphs and takes from a
// tenth of a millisecond to milliseconds, while a server asks again and
// again for the same models next to the same sets. A plan depends only on
// the model, the request and the machine as reduced by the loaded set, so
// the memo never changes a decision. The zero value is ready to use; a
// Planner is safe for concurrent use. The memo is keyed by the identity of
// the *gguf.File and of the *probe.Snapshot: treat both as immutable once
// passed in, and plans it returns as read-only (they are shared).
type Planner struct {
	// MemoSize is how many plans to keep; 0 = DefaultMemoSize, negative
	// keeps none. When full, the memo starts afresh.
	MemoSize int

	mu          sync.Mutex
	memo        map[memoKey]*planner.Plan
	calls, hits int // plans asked for, and answered by the memo
}

type memoKey struct {
	file    any
	machine *probe.Snapshot
	req     string
	reduced string
}

// Stats returns how many plans decisions asked for and how many the memo
// answered.
func (pl *Planner) Stats() (calls, hits int) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.calls, pl.hits
}

// plan plans req on the reduced machine m; a plan that does not fit is
// returned with Fits false and no error.
func (pl *Planner) plan(ctx context.Context, req Request, reqKey string, m *probe.Snapshot, base *probe.Snapshot) (*planner.Plan, error) {
	size := pl.MemoSize
	if size == 0 {
		size = DefaultMemoSize
	}
	var key memoKey
	if size > 0 {
		key = memoKey{file: req.GGUF, machine: base, req: reqKey, reduced: reducedKey(m)}
		pl.mu.Lock()
		pl.calls++
		p, ok := pl.memo[key]
		if ok {
			pl.hits++
		}
		pl.mu.Unlock()
		if ok {
			return p, nil
		}
	}
	p, err := make1(ctx, req, m, req.Plan)
	if err != nil {
		return nil, err
	}
	if p.Fits && ownMiss(p) > 0 && req.Plan.AllowShrinkContext && !req.Plan.Pinned.NCtx {
		if p, err = keepWorkingSet(ctx, req, m, p); err != nil {
			return nil, err
		}
	}
	if size > 0 {
		pl.mu.Lock()
		if pl.memo == nil || len(pl.memo) >= size {
			pl.memo = map[memoKey]*planner.Plan{}
		}
		pl.memo[key] = p
		pl.mu.Unlock()
	}
	return p, nil
}

// reducedKey is what reduce changes in a snapshot.
func reducedKey(m *probe.Snapshot) string {
	b := fmt.Appendf(nil, "%d/%d/%d/%d", m.Memory.EffectiveAvailableBytes, m.Memory.AvailableBytes, m.Memory.FreeBytes, m.Memory.CgroupUsageBytes)
	for _, g := range m.GPUs {
		b = fmt.Appendf(b, "/%d", g.FreeBytes)
	}
	for _, f := range m.Files {
		b = fmt.Appendf(b, "|%s:%d:%s:%g", f.Path, f.SizeBytes, f.Filesystem, f.ReadBandwidth)
		if f.Rotational != nil {
			b = fmt.Appendf(b, ":%t", *f.Rotational)
		}
		if f.ResidentBytes != nil {
			b = fmt.Appendf(b, ":%d", *f.ResidentBytes)
		}
	}
	return string(b)
}

// make1 plans once; a plan that does not fit is no error.
func make1(ctx context.Context, req Request, m *probe.Snapshot, pr planner.Request) (*planner.Plan, error) {
	p, err := planner.Make(ctx, req.GGUF, m, pr)
	var nf *planner.NoFitError
	if err != nil && !(errors.As(err, &nf) && p != nil) {
		return nil, fmt.Errorf("residency: planning %s: %w", req.ID, err)
	}
	return p, nil
}

// ownMiss is the fraction of the mapped weights decode reads every token
// that plan p itself predicts cannot stay in the page cache.
func ownMiss(p *planner.Plan) float64 {
	cpu := p.Devices[0]
	room := int64(cpu.AvailableBytes) - int64(cpu.TotalBytes) - int64(cpu.MarginBytes)
	if !p.Settings.MMap || cpu.ResidentBytes == 0 || room >= int64(cpu.ResidentBytes) {
		return 0
	}
	return float64(int64(cpu.ResidentBytes)-max(room, 0)) / float64(cpu.ResidentBytes)
}

// keepWorkingSet trades context for page cache. The planner shrinks the
// context to the longest whose buffers fit, and a model that pages its
// mapped weights from disk then decodes at the disk's speed: a server is
// better served by a shorter context that keeps them in RAM. Planning with
// the working set added to the host margin finds that context; planning
// again at it with the real margin gives the plan's true figures. p is
// kept when no context within the request's bounds avoids paging.
func keepWorkingSet(ctx context.Context, req Request, m *probe.Snapshot, p *planner.Plan) (*planner.Plan, error) {
	ws := p.Devices[0].ResidentBytes
	r := req.Plan
	r.HostMarginBytes = cmp0(r.HostMarginBytes, planner.DefaultHostMargin) + ws
	short, err := make1(ctx, req, m, r)
	if err != nil || !short.Fits || short.Settings.NCtx >= p.Settings.NCtx {
		return p, err
	}
	// Start from the short plan's context settings: given more room the
	// planner would otherwise take a larger ubatch or repack again, and
	// either takes back RAM the page cache needs.
	r = req.Plan
	ss := short.Settings
	r.Settings.NCtx, r.Settings.NBatch, r.Settings.NUbatch, r.Settings.NoRepack = ss.NCtx, ss.NBatch, ss.NUbatch, ss.NoRepack
	r.Settings.CacheTypeK, r.Settings.CacheTypeV, r.Settings.FlashAttn = ss.CacheTypeK, ss.CacheTypeV, ss.FlashAttn
	q, err := make1(ctx, req, m, r)
	if err != nil || !q.Fits || ownMiss(q) > 0 {
		return p, err
	}
	changed := []string{fmt.Sprintf("n_ctx %d (from %d, the longest whose buffers fit)", q.Settings.NCtx, p.Settings.NCtx)}
	if q.Settings.NUbatch != p.Settings.NUbatch {
		changed = append(changed, fmt.Sprintf("n_ubatch %d (from %d)", q.Settings.NUbatch, p.Settings.NUbatch))
	}
	if q.Settings.CacheTypeK != p.Settings.CacheTypeK {
		changed = append(changed, "KV cache "+q.Settings.CacheTypeK)
	}
	if q.Settings.NoRepack && !p.Settings.NoRepack {
		changed = append(changed, "no repacking")
	}
	q.Reasons = append(q.Reasons, planner.Reason{Setting: "n_ctx", Choice: fmt.Sprint(q.Settings.NCtx),
		Why: fmt.Sprintf("%s so that the %s of mapped weights decode reads every token stay in the page cache: with the longest context %.0f%% of them would come from disk each token (%.3g tok/s against %.3g)",
			strings.Join(changed, ", "), units.Bytes(q.Devices[0].ResidentBytes), 100*ownMiss(p), p.Predicted.DecodeTokensPerSecond, q.Predicted.DecodeTokensPerSecond)})
	return q, nil
}
