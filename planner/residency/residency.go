// Package residency decides which models a server keeps loaded side by
// side: whether another model can load next to the loaded ones (possibly
// with fewer GPU layers or a smaller context), which loaded models to evict
// first, or why it cannot load, with the reason for each step.
//
// It is pure like the planner it calls: the machine, the loaded models and
// the clock are inputs. A Planner memoises the plans it makes for requested
// models, so that a server asking again for the same model next to the
// same set pays only for the accounting.
package residency

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/units"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/probe"
)

// SchemaVersion identifies the JSON layout of a Decision.
const SchemaVersion = "residency/v1"

// Model is a model already loaded.
type Model struct {
	// ID is the name requests use for it; unique among the loaded models.
	ID string
	// File identifies the mapped file, so that two models of one file are
	// seen as sharing its page cache: a path with symbolic links resolved,
	// or a device and inode. "" means the plan's model path.
	File string
	// Plan is the plan it was loaded with (made for this machine next to
	// the models loaded then).
	Plan *planner.Plan
	// LastUsed is when it last finished serving a request.
	LastUsed time.Time
	// KeepAlive is how long it stays loaded after LastUsed; negative means
	// until evicted for room.
	KeepAlive time.Duration
	// Pinned models are never evicted.
	Pinned bool
	// Busy models are serving requests: they are evicted only after, so a
	// decision that needs their room is Wait.
	Busy bool
}

// Request is a model to load.
type Request struct {
	// ID is the name requests use for it.
	ID string
	// File identifies its file as Model.File does; "" = Plan.ModelPath.
	File string
	// GGUF is the model's parsed header.
	GGUF *gguf.File
	// Plan holds the wanted settings and the bounds the planner may move
	// within (MinCtx with AllowShrinkContext, pinned settings, margins).
	Plan planner.Request
	// MinGPULayers is the fewest GPU layers acceptable; when fewer fit next
	// to the loaded models, others are evicted for it.
	MinGPULayers int
	// Files is the residency of its files (probe.Files); nil keeps the
	// machine snapshot's.
	Files []probe.FileInfo
	// AllowPaging lets it load where its mapped weights and those of
	// models that cannot be evicted do not all fit in the page cache, so
	// that they read weights from disk every token (Decision.Paging
	// predicts how slowly). Without it such a request is refused. A model
	// that pages on its own (larger than the RAM left with every other
	// model evicted) loads anyway, as the planner plans it.
	AllowPaging bool
}

// Input is everything a decision depends on.
type Input struct {
	// Machine is the machine as it is without any of the loaded models: a
	// probe taken before they were loaded, or with their memory added back.
	Machine *probe.Snapshot
	Loaded  []Model
	Request Request
	// Now is the time keep-alives are measured against.
	Now time.Time
	// ProcessOverheadBytes is what each model's process holds beyond the
	// buffers its plan counts; 0 = DefaultProcessOverhead.
	ProcessOverheadBytes uint64
}

// DefaultProcessOverhead is the anonymous memory a llama-server process
// holds beyond its planned buffers (its heap: vocabulary, HTTP server,
// threads). docs/verify.md measures it: RssAnon exceeds the allocated
// buffers by 1 MiB (a 512-token vocabulary) to 26 MiB (Llama 3's 128K
// tokens) at build 10587. One process's is inside the planner's host
// margin; a server running several counts it for each.
const DefaultProcessOverhead = 32 << 20

// Action is what a decision says to do.
type Action string

// The decisions.
const (
	// Load: start the model now, next to every loaded model.
	Load Action = "load"
	// Evict: unload Decision.Evict, in order, then start the model.
	Evict Action = "evict"
	// Wait: the model fits only once busy models have finished their
	// requests and can be evicted (Decision.WaitFor); decide again then.
	Wait Action = "wait"
	// Refuse: it does not fit even with every unpinned model evicted.
	Refuse Action = "refuse"
)

// Decision is what to do with a request, and why.
type Decision struct {
	Schema string `json:"schema"`
	Action Action `json:"action"`
	Model  string `json:"model"`
	// Plan is the plan to start the model with (Load, Evict); for Refuse,
	// the nearest plan the planner found (Fits false), or nil.
	Plan *planner.Plan `json:"plan,omitempty"`
	// Evict lists the models to unload first, in order (for Wait: the
	// idle ones that will go too).
	Evict []Eviction `json:"evict,omitempty"`
	// WaitFor lists the busy models whose room is needed.
	WaitFor []string `json:"wait_for,omitempty"`
	// Memory is the accounting of the models that stay and the new one
	// (for Refuse: of the pinned models and the nearest plan).
	Memory Memory `json:"memory"`
	// Paging lists the models predicted to read weights from disk every
	// token in that set, with their predicted speed.
	Paging []Paging `json:"paging,omitempty"`
	// Why says why a request is refused or must wait.
	Why     string           `json:"why,omitempty"`
	Reasons []planner.Reason `json:"reasons"`
}

// Eviction is a model to unload and why it goes.
type Eviction struct {
	ID  string `json:"id"`
	Why string `json:"why"`
}

// RefusedError is a Refuse decision as an error.
type RefusedError struct {
	Model string
	Why   string
	// NoFit is the planner's explanation, when the planner refused.
	NoFit *planner.NoFitError
}

func (e *RefusedError) Error() string { return fmt.Sprintf("residency: %s: %s", e.Model, e.Why) }

// Unwrap returns the planner's NoFitError, if any.
func (e *RefusedError) Unwrap() error {
	if e.NoFit == nil {
		return nil
	}
	return e.NoFit
}

// Err returns a *RefusedError for a Refuse decision and nil otherwise.
func (d *Decision) Err() error {
	if d.Action != Refuse {
		return nil
	}
	e := &RefusedError{Model: d.Model, Why: d.Why}
	if d.Plan != nil {
		e.NoFit = d.Plan.NoFit
	}
	return e
}

// Decide decides without memoising plans (see Planner).
func Decide(ctx context.Context, in Input) (*Decision, error) {
	var p Planner
	p.MemoSize = -1
	return p.Decide(ctx, in)
}

// Decide decides what to do with in.Request next to in.Loaded. Only the
// requested model is planned (at most three planner calls: next to every
// loaded model, with every evictable model gone, and next to those that
// stay); the loaded models are accounted from their plans. The error is
// for bad input or a planner failure; a model that does not fit is a
// Refuse decision.
func (pl *Planner) Decide(ctx context.Context, in Input) (*Decision, error) {
	req := in.Request
	if in.Machine == nil {
		return nil, errors.New("residency: no machine snapshot")
	}
	if req.GGUF == nil {
		return nil, fmt.Errorf("residency: request %q: no model header", req.ID)
	}
	own := fileKey(req.File, req.Plan.ModelPath)
	hs := make([]holding, len(in.Loaded))
	seen := map[string]bool{}
	overhead := cmp0(in.ProcessOverheadBytes, DefaultProcessOverhead)
	for i, m := range in.Loaded {
		switch {
		case m.Plan == nil:
			return nil, fmt.Errorf("residency: loaded model %q has no plan", m.ID)
		case seen[m.ID]:
			return nil, fmt.Errorf("residency: two loaded models are named %q", m.ID)
		case m.ID == req.ID:
			return nil, fmt.Errorf("residency: %q is already loaded", m.ID)
		}
		seen[m.ID] = true
		h, err := holdingOf(m.ID, m.File, m.Plan, in.Machine, overhead)
		if err != nil {
			return nil, err
		}
		hs[i] = h
	}
	hostMargin := cmp0(req.Plan.HostMarginBytes, planner.DefaultHostMargin)
	gpuMargin := cmp0(req.Plan.GPUMarginBytes, planner.DefaultGPUMargin)
	d := &Decision{Schema: SchemaVersion, Model: req.ID, Reasons: []planner.Reason{}}
	why := func(setting, choice, format string, args ...any) {
		d.Reasons = append(d.Reasons, planner.Reason{Setting: setting, Choice: choice, Why: fmt.Sprintf(format, args...)})
	}
	loaded := set{hs: hs}
	if len(hs) > 0 {
		mem, _ := account(in.Machine, loaded, hostMargin, gpuMargin, true)
		why("loaded", plural(len(hs), "model"), "%s", holdsText(mem))
	}

	// The memo's key for the request: the planner's request is a plain
	// value, printed once per decision.
	reqKey := ""
	if pl.MemoSize >= 0 {
		reqKey = fmt.Sprintf("%+v", req.Plan)
	}

	// Next to every loaded model.
	p, err := pl.plan(ctx, req, reqKey, reduce(in.Machine, loaded, own, req.Files, overhead), in.Machine)
	if err != nil {
		return nil, err
	}
	if p.Fits && p.Settings.NGPULayers >= req.MinGPULayers {
		newH, err := holdingOf(req.ID, req.File, p, in.Machine, overhead)
		if err != nil {
			return nil, err
		}
		if mem, ok := account(in.Machine, loaded.with(&newH), hostMargin, gpuMargin, false); ok && mem.Host.PagedBytes == 0 {
			mem, _ = account(in.Machine, loaded.with(&newH), hostMargin, gpuMargin, true)
			d.Action, d.Plan, d.Memory = Load, p, mem
			why("residency", "alongside", "%s", fitsText(mem, len(hs)))
			return d, nil
		}
	}

	// With every evictable model gone: does anything help?
	order := evictionOrder(in.Loaded, in.Now)
	keep := set{hs: hs, gone: make([]bool, len(hs))}
	for _, i := range order {
		keep.gone[i] = true
	}
	pinned := len(hs) - len(order)
	best, err := pl.plan(ctx, req, reqKey, reduce(in.Machine, keep, own, req.Files, overhead), in.Machine)
	if err != nil {
		return nil, err
	}
	if !best.Fits || best.Settings.NGPULayers < req.MinGPULayers {
		return refuse(d, best, keep, pinned, len(hs), req, in.Machine, overhead, hostMargin, gpuMargin)
	}
	bestH, err := holdingOf(req.ID, req.File, best, in.Machine, overhead)
	if err != nil {
		return nil, err
	}
	floor, ok := account(in.Machine, keep.with(&bestH), hostMargin, gpuMargin, false)
	if !ok || floor.Host.PagedBytes > 0 && pinned > 0 && !req.AllowPaging {
		// The planner's check and the set's differ when the pinned models'
		// mapped weights compete with the new model's for the page cache
		// (or share its file and keep more of it there).
		return refuse(d, best, keep, pinned, len(hs), req, in.Machine, overhead, hostMargin, gpuMargin)
	}

	// Evict the fewest models, in order, that leave room for it without
	// more paging than is unavoidable.
	rest := set{hs: hs, gone: make([]bool, len(hs))}
	for k := 0; k <= len(order); k++ {
		if k > 0 {
			rest.gone[order[k-1]] = true
		}
		acceptable := func(s set, detail bool) (Memory, bool) {
			mem, ok := account(in.Machine, s, hostMargin, gpuMargin, detail)
			return mem, ok && (mem.Host.PagedBytes == 0 || mem.Host.PagedBytes <= floor.Host.PagedBytes && (len(hs)-k == 0 || req.AllowPaging))
		}
		if _, ok := acceptable(rest.with(&bestH), false); !ok {
			continue
		}
		cand, candH := best, bestH
		if k < len(order) {
			if cand, err = pl.plan(ctx, req, reqKey, reduce(in.Machine, rest, own, req.Files, overhead), in.Machine); err != nil {
				return nil, err
			}
			if !cand.Fits || cand.Settings.NGPULayers < req.MinGPULayers {
				continue
			}
			if candH, err = holdingOf(req.ID, req.File, cand, in.Machine, overhead); err != nil {
				return nil, err
			}
		}
		set := rest.with(&candH)
		mem, ok := acceptable(set, true)
		if !ok {
			continue
		}
		d.Plan, d.Memory, d.Paging = cand, mem, paging(mem, set)
		var busy []string
		for _, i := range order[:k] {
			m := in.Loaded[i]
			if m.Busy {
				busy = append(busy, m.ID)
				continue
			}
			e := Eviction{ID: m.ID, Why: evictText(m, hs[i], in.Now, in.Machine)}
			d.Evict = append(d.Evict, e)
		}
		switch {
		case len(busy) > 0:
			d.Action, d.Plan, d.WaitFor = Wait, nil, busy
			d.Why = fmt.Sprintf("it fits only once %s, serving requests now, can be evicted too", strings.Join(busy, ", "))
			why("residency", "wait", "%s; decide again when they finish", d.Why)
		case k == 0:
			d.Action = Load
			why("residency", "alongside", "%s", fitsText(mem, len(hs)))
		default:
			d.Action = Evict
			for _, e := range d.Evict {
				why("evict", e.ID, "%s", e.Why)
			}
			why("residency", "after evicting "+plural(len(d.Evict), "model"), "%s", fitsText(mem, len(hs)-k))
		}
		if len(d.Paging) > 0 {
			why("page cache", "shared", "%s", pagingText(mem, d.Paging))
		}
		return d, nil
	}
	// Evicting every evictable model is the floor itself: not reached.
	return nil, fmt.Errorf("residency: %s: no eviction matched the plan made without the evictable models (a bug)", req.ID)
}

// refuse fills d as a refusal: best is the plan with every evictable model
// gone, keep the pinned models that stay, loaded how many were loaded.
func refuse(d *Decision, best *planner.Plan, keep set, pinned, loaded int, req Request, m *probe.Snapshot, overhead, hostMargin, gpuMargin uint64) (*Decision, error) {
	d.Action, d.Plan = Refuse, best
	s := keep
	if h, err := holdingOf(req.ID, req.File, best, m, overhead); err == nil {
		s = keep.with(&h)
	}
	d.Memory, _ = account(m, s, hostMargin, gpuMargin, true)
	d.Paging = paging(d.Memory, s)
	where := "on this machine"
	switch {
	case pinned > 0:
		where = fmt.Sprintf("next to the %s, which are never evicted", plural(pinned, "pinned model"))
		if pinned == 1 {
			where = "next to the pinned model, which is never evicted"
		}
	case loaded > 0:
		where = "even with every loaded model evicted"
	}
	switch {
	case !best.Fits && best.NoFit != nil:
		d.Why = fmt.Sprintf("does not fit %s: %s", where, strings.TrimPrefix(best.NoFit.Error(), "planner: does not fit: "))
	case !best.Fits:
		d.Why = "does not fit " + where
	case best.Settings.NGPULayers < req.MinGPULayers:
		d.Why = fmt.Sprintf("at most %d GPU layers fit %s; the request needs at least %d", best.Settings.NGPULayers, where, req.MinGPULayers)
	case len(d.Paging) > 0:
		slow := make([]string, len(d.Paging))
		for i, p := range d.Paging {
			slow[i] = fmt.Sprintf("%s %.3g → %.3g tok/s", p.ID, p.PlannedTokensPerSecond, p.DecodeTokensPerSecond)
		}
		d.Why = fmt.Sprintf("its mapped weights and those of the models that stay want %s more page cache than the RAM left %s: they would read weights from disk every token (%s); allow paging to load it anyway",
			units.Bytes(d.Memory.Host.PagedBytes), where, strings.Join(slow, ", "))
	default:
		d.Why = fmt.Sprintf("its buffers and the pinned models' do not fit %s", where)
	}
	d.Reasons = append(d.Reasons, planner.Reason{Setting: "residency", Choice: "refuse", Why: d.Why})
	return d, nil
}

// evictionOrder returns the indices of the models that may be evicted, in
// the order they go: idle models whose keep-alive has run out, then the
// other idle ones, then the busy ones; each group least recently used
// first (ties by ID, so the order is deterministic). Pinned models are
// never listed.
func evictionOrder(ms []Model, now time.Time) []int {
	var idx []int
	for i, m := range ms {
		if !m.Pinned {
			idx = append(idx, i)
		}
	}
	group := func(m Model) int {
		switch {
		case m.Busy:
			return 2
		case expired(m, now):
			return 0
		}
		return 1
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ma, mb := ms[idx[a]], ms[idx[b]]
		if ga, gb := group(ma), group(mb); ga != gb {
			return ga < gb
		}
		if !ma.LastUsed.Equal(mb.LastUsed) {
			return ma.LastUsed.Before(mb.LastUsed)
		}
		return ma.ID < mb.ID
	})
	return idx
}

func expired(m Model, now time.Time) bool {
	return m.KeepAlive >= 0 && !now.Before(m.LastUsed.Add(m.KeepAlive))
}

func holdsText(mem Memory) string {
	h := mem.Host
	s := fmt.Sprintf("they hold %s of anonymous memory and want %s of page cache for their mapped weights", units.Bytes(h.AnonBytes), units.Bytes(h.PageCacheBytes))
	if h.SharedBytes > 0 {
		s += fmt.Sprintf(" (%s more is a file mapped twice, counted once)", units.Bytes(h.SharedBytes))
	}
	s += fmt.Sprintf("; the host has %s without them", units.Bytes(h.AvailableBytes))
	for _, g := range mem.GPUs {
		if g.UsedBytes > 0 {
			s += fmt.Sprintf("; they hold %s of %s's %s", units.Bytes(g.UsedBytes), g.Name, units.Bytes(g.FreeBytes))
		}
	}
	return s
}

func fitsText(mem Memory, others int) string {
	h := mem.Host
	with := "with " + plural(others, "other model")
	if others == 0 {
		with = "alone"
	}
	s := fmt.Sprintf("%s it needs %s of anonymous memory and %s of page cache in all (%s shared) against %s available less the %s margin: %s left",
		with, units.Bytes(h.AnonBytes), units.Bytes(h.PageCacheBytes), units.Bytes(h.SharedBytes),
		units.Bytes(h.AvailableBytes), units.Bytes(h.MarginBytes), units.Bytes(h.FreeAfterBytes))
	for _, g := range mem.GPUs {
		if g.UsedBytes > 0 {
			s += fmt.Sprintf("; %s: %s used, %s left", g.Name, units.Bytes(g.UsedBytes), units.Bytes(g.FreeAfterBytes))
		}
	}
	return s
}

func evictText(m Model, h holding, now time.Time, mc *probe.Snapshot) string {
	idle := now.Sub(m.LastUsed).Round(time.Second)
	var s string
	switch {
	case expired(m, now):
		s = fmt.Sprintf("idle for %s, its keep-alive of %s has run out", idle, m.KeepAlive)
	case m.KeepAlive < 0:
		s = fmt.Sprintf("idle for %s (kept until room is needed), and the models whose keep-alive ran out do not free enough", idle)
	default:
		s = fmt.Sprintf("idle for %s with %s of keep-alive left, but the models whose keep-alive ran out do not free enough", idle, m.LastUsed.Add(m.KeepAlive).Sub(now).Round(time.Second))
	}
	s += fmt.Sprintf("; frees %s of anonymous memory", units.Bytes(h.AnonBytes))
	if h.PageCacheBytes > 0 {
		s += fmt.Sprintf(" and up to %s of page cache", units.Bytes(h.PageCacheBytes))
	}
	for g, n := range h.GPUBytes {
		if n > 0 {
			s += fmt.Sprintf(", %s on %s", units.Bytes(n), gpuName(mc.GPUs[g], g))
		}
	}
	return s
}

func pagingText(mem Memory, ps []Paging) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = fmt.Sprintf("%s reads %.0f%% of its mapped weights from disk each token: %.3g tok/s (planned %.3g)",
			p.ID, 100*p.MissFraction, p.DecodeTokensPerSecond, p.PlannedTokensPerSecond)
	}
	return fmt.Sprintf("the mapped weights want %s more than the RAM the anonymous memory leaves, which no eviction avoids; %s",
		units.Bytes(mem.Host.PagedBytes), strings.Join(parts, "; "))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func cmp0(v, def uint64) uint64 {
	if v == 0 {
		return def
	}
	return v
}

// round3 keeps three significant digits, as the planner's predictions do.
func round3(x float64) float64 {
	if x <= 0 || math.IsInf(x, 0) || math.IsNaN(x) {
		return 0
	}
	p := math.Pow(10, 2-math.Floor(math.Log10(x)))
	return math.Round(x*p) / p
}
