// Package router serves several models behind one OpenAI-compatible
// endpoint: it routes each request by its "model" field to a backend
// (llama-server) started for that model on demand with the plan the
// residency planner made next to the models already loaded, evicts models
// when the planner says so, unloads idle ones after their keep-alive, and
// queues requests while a model loads or another one is evicted. It never
// starts a load the planner says does not fit.
package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/planner/residency"
	"github.com/modelfit/modelfit/probe"
)

// Model is a model the router can serve.
type Model struct {
	// Name is what requests ask for: by convention the file name without
	// .gguf. Aliases are other names for it.
	Name    string
	Aliases []string
	// File is the model's parsed header; the router does not close it.
	File *gguf.File
	// Request holds the wanted settings and bounds; ModelPath must name
	// the file the backend loads.
	Request planner.Request
	// Pinned models are never evicted (they are still loaded on demand).
	Pinned bool
}

// Backend is a running server for one model.
type Backend interface {
	// URL is its base address, e.g. http://127.0.0.1:8081.
	URL() string
	// PID is its process id (0 when not a process).
	PID() int
	// Done is closed when it has exited.
	Done() <-chan struct{}
	// Err says why it exited, once Done is closed.
	Err() error
	// Close stops it and waits until it is gone.
	Close() error
}

// Options configure a Router. The zero value of every optional field means
// its default.
type Options struct {
	Models []Model
	// Machine returns the machine without any of the router's models: it
	// is called at the start and again whenever none is loaded (so the
	// baseline follows the rest of the machine). Required.
	Machine func(ctx context.Context) (*probe.Snapshot, error)
	// Start starts a backend for a plan and returns when it serves.
	// Required.
	Start func(ctx context.Context, p *planner.Plan) (Backend, error)
	// KeepAlive is how long an idle model stays loaded; 0 = 5 minutes,
	// negative = until its room is needed.
	KeepAlive time.Duration
	// MaxBodyBytes bounds a request body; 0 = 16 MiB.
	MaxBodyBytes int64
	// MaxQueue bounds the requests waiting for a model to load (or for
	// room); 0 = 64. More are refused with 429.
	MaxQueue int
	// RequestTimeout bounds a request, waiting included; 0 = 10 minutes.
	RequestTimeout time.Duration
	// Log receives one line per decision and event; nil discards them.
	Log io.Writer
	// Measure reads a backend's memory for /status; nil = this OS's /proc.
	Measure func(pid int, files ...string) (Measured, error)
	// Now is the clock; nil = time.Now.
	Now func() time.Time
}

// state is where a model is in its life.
type state int

const (
	unloaded state = iota
	loading
	ready
	stopping
	failed
)

func (s state) String() string {
	return [...]string{"unloaded", "loading", "ready", "stopping", "failed"}[s]
}

// entry is one model and its backend.
type entry struct {
	m        Model
	key      string // the file's identity for the planner (its cleaned path)
	state    state
	plan     *planner.Plan
	backend  Backend
	lastUsed time.Time
	loadedAt time.Time
	active   int // requests being served
	restarts int
	lastErr  string
}

// Router routes requests to per-model backends. Use New; close it to stop
// every backend.
type Router struct {
	opts   Options
	ctx    context.Context // lives as long as the router: backends are started with it
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	byName    map[string]*entry
	entries   []*entry
	changed   chan struct{} // closed and replaced on every change of state
	waiting   int
	machine   *probe.Snapshot
	planner   residency.Planner
	decisions []DecisionRecord
	events    []Event
	closed    bool
}

const keepRecords = 256

// New checks the models and the options, probes the machine and starts
// the keep-alive janitor.
func New(ctx context.Context, opts Options) (*Router, error) {
	if opts.Machine == nil || opts.Start == nil {
		return nil, errors.New("router: Machine and Start are required")
	}
	if len(opts.Models) == 0 {
		return nil, errors.New("router: no models")
	}
	if opts.KeepAlive == 0 {
		opts.KeepAlive = 5 * time.Minute
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 16 << 20
	}
	if opts.MaxQueue <= 0 {
		opts.MaxQueue = 64
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 10 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Measure == nil {
		opts.Measure = measureProcess
	}
	r := &Router{opts: opts, byName: map[string]*entry{}, changed: make(chan struct{})}
	for _, m := range opts.Models {
		if m.File == nil || m.Request.ModelPath == "" || m.Name == "" {
			return nil, fmt.Errorf("router: model %q: a name, a header and Request.ModelPath are required", m.Name)
		}
		e := &entry{m: m, key: filepath.Clean(m.Request.ModelPath)}
		for _, n := range append([]string{m.Name}, m.Aliases...) {
			if _, dup := r.byName[n]; dup {
				return nil, fmt.Errorf("router: two models are named %q", n)
			}
			r.byName[n] = e
		}
		r.entries = append(r.entries, e)
	}
	snap, err := opts.Machine(ctx)
	if err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	r.machine = snap
	r.ctx, r.cancel = context.WithCancel(context.WithoutCancel(ctx))
	r.wg.Add(1)
	go r.janitor()
	return r, nil
}

// Close stops every backend and waits until they are gone.
func (r *Router) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	var bs []Backend
	for _, e := range r.entries {
		if e.backend != nil {
			bs = append(bs, e.backend)
		}
	}
	r.broadcast()
	r.mu.Unlock()
	var errs []error
	for _, b := range bs {
		if err := b.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	r.cancel() // ends loads in progress: their processes die with the context
	r.wg.Wait()
	return errors.Join(errs...)
}

// broadcast wakes everyone waiting for a change; r.mu is held.
func (r *Router) broadcast() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// Error is a request the router could not serve, with its HTTP status.
type Error struct {
	Status  int
	Code    string // OpenAI-style error code: "model_not_found", "model_does_not_fit", …
	Message string
}

func (e *Error) Error() string { return "router: " + e.Message }

// acquire returns a ready backend for e, loading the model (after the
// evictions the planner asks for) when needed; release must be called
// when the request is done.
func (r *Router) acquire(ctx context.Context, e *entry) (b Backend, release func(), err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.waiting >= r.opts.MaxQueue && e.state != ready {
		return nil, nil, &Error{429, "queue_full", fmt.Sprintf("%d requests are already waiting for models to load", r.waiting)}
	}
	r.waiting++
	defer func() { r.waiting-- }()
	for {
		if r.closed {
			return nil, nil, &Error{503, "shutting_down", "the server is shutting down"}
		}
		switch e.state {
		case ready:
			e.active++
			b := e.backend
			return b, func() { r.release(e) }, nil
		case failed:
			return nil, nil, &Error{502, "backend_failed", fmt.Sprintf("%s: %s", e.m.Name, e.lastErr)}
		case unloaded:
			if err := r.decide(ctx, e); err != nil {
				return nil, nil, err
			}
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			r.mu.Lock()
			return nil, nil, &Error{504, "timeout", fmt.Sprintf("%s: gave up waiting for the model (%v)", e.m.Name, ctx.Err())}
		}
		r.mu.Lock()
	}
}

func (r *Router) release(e *entry) {
	r.mu.Lock()
	e.active--
	e.lastUsed = r.opts.Now()
	r.broadcast()
	r.mu.Unlock()
}

// decide asks the residency planner what to do for e and does it: start
// the load, stop the models to evict, or nothing (wait). r.mu is held.
func (r *Router) decide(ctx context.Context, e *entry) error {
	var loaded []residency.Model
	for _, o := range r.entries {
		if o.state == loading || o.state == ready || o.state == stopping {
			loaded = append(loaded, residency.Model{ID: o.m.Name, File: o.key, Plan: o.plan, LastUsed: o.lastUsed,
				KeepAlive: r.opts.KeepAlive, Pinned: o.m.Pinned, Busy: o.active > 0 || o.state != ready})
		}
	}
	if len(loaded) == 0 {
		// Nothing of ours holds memory: the machine as it is now is the
		// baseline.
		if snap, err := r.opts.Machine(ctx); err == nil {
			r.machine = snap
		}
	}
	now := r.opts.Now()
	d, err := r.planner.Decide(ctx, residency.Input{Machine: r.machine, Loaded: loaded, Now: now,
		Request: residency.Request{ID: e.m.Name, File: e.key, GGUF: e.m.File, Plan: e.m.Request}})
	if err != nil {
		return &Error{500, "planner_error", err.Error()}
	}
	r.record(d, now)
	switch d.Action {
	case residency.Load:
		r.startLoad(e, d.Plan)
	case residency.Evict:
		for _, ev := range d.Evict {
			r.stop(r.byName[ev.ID], "evicted for "+e.m.Name+": "+ev.Why)
		}
	case residency.Refuse:
		return &Error{503, "model_does_not_fit", fmt.Sprintf("%s: %s", e.m.Name, d.Why)}
	}
	return nil
}

// startLoad starts e's backend with plan p in the background. r.mu is held.
func (r *Router) startLoad(e *entry, p *planner.Plan) {
	e.state, e.plan, e.lastErr = loading, p, ""
	r.event(e.m.Name, "load", fmt.Sprintf("starting with n_ctx %d, %d GPU layers, mmap %t", p.Settings.NCtx, p.Settings.NGPULayers, p.Settings.MMap))
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		b, err := r.opts.Start(r.ctx, p)
		r.mu.Lock()
		defer r.mu.Unlock()
		defer r.broadcast()
		switch {
		case err != nil:
			e.state, e.plan, e.lastErr = failed, nil, "load failed: "+err.Error()
			r.event(e.m.Name, "load failed", err.Error())
		case r.closed:
			r.mu.Unlock()
			b.Close()
			r.mu.Lock()
			e.state = unloaded
		default:
			now := r.opts.Now()
			e.backend, e.state, e.loadedAt, e.lastUsed = b, ready, now, now
			r.event(e.m.Name, "ready", fmt.Sprintf("pid %d at %s", b.PID(), b.URL()))
			r.wg.Add(1)
			go r.monitor(e, b)
		}
	}()
}

// monitor waits for b to exit: an exit the router did not ask for is a
// crash, reported and restarted once with the same plan (the memory it
// held is free again).
func (r *Router) monitor(e *entry, b Backend) {
	defer r.wg.Done()
	<-b.Done()
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.backend != b || e.state != ready || r.closed {
		return // stopped on purpose
	}
	e.backend = nil
	why := "exited"
	if err := b.Err(); err != nil {
		why = err.Error()
	}
	if e.restarts == 0 {
		e.restarts++
		r.event(e.m.Name, "crashed", why+"; restarting it once")
		r.startLoad(e, e.plan)
	} else {
		e.state, e.plan, e.lastErr = failed, nil, "crashed again after a restart: "+why
		r.event(e.m.Name, "crashed", why+"; not restarted again")
	}
	r.broadcast()
}

// stop unloads e in the background. r.mu is held.
func (r *Router) stop(e *entry, why string) {
	if e == nil || e.state != ready {
		return
	}
	e.state = stopping
	b := e.backend
	r.event(e.m.Name, "unload", why)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		err := b.Close()
		r.mu.Lock()
		defer r.mu.Unlock()
		if err != nil {
			r.event(e.m.Name, "unload", "stopped: "+err.Error())
		}
		e.state, e.backend, e.plan = unloaded, nil, nil
		r.broadcast()
	}()
}

// janitor unloads idle models whose keep-alive has run out.
func (r *Router) janitor() {
	defer r.wg.Done()
	tick := time.Second
	if ka := r.opts.KeepAlive; ka > 0 && ka/4 < tick {
		tick = max(ka/4, 10*time.Millisecond)
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		r.mu.Lock()
		now := r.opts.Now()
		for _, e := range r.entries {
			if ka := r.opts.KeepAlive; e.state == ready && e.active == 0 && !e.m.Pinned && ka > 0 && now.Sub(e.lastUsed) >= ka {
				r.stop(e, fmt.Sprintf("idle for %s: its keep-alive of %s ran out", now.Sub(e.lastUsed).Round(time.Millisecond), ka))
			}
		}
		r.mu.Unlock()
	}
}

// DecisionRecord is a residency decision as /status shows it.
type DecisionRecord struct {
	Time    time.Time            `json:"time"`
	Model   string               `json:"model"`
	Action  residency.Action     `json:"action"`
	Evict   []residency.Eviction `json:"evict,omitempty"`
	WaitFor []string             `json:"wait_for,omitempty"`
	Why     string               `json:"why,omitempty"`
	NCtx    int                  `json:"n_ctx,omitempty"`
	Reasons []planner.Reason     `json:"reasons"`
	Memory  residency.HostMemory `json:"host_memory"`
	Paging  []residency.Paging   `json:"paging,omitempty"`
}

// Event is something that happened to a model: a load, an unload and
// why, a crash.
type Event struct {
	Time    time.Time `json:"time"`
	Model   string    `json:"model"`
	Kind    string    `json:"kind"`
	Message string    `json:"message"`
}

func (r *Router) record(d *residency.Decision, now time.Time) {
	rec := DecisionRecord{Time: now, Model: d.Model, Action: d.Action, Evict: d.Evict, WaitFor: d.WaitFor, Why: d.Why,
		Reasons: d.Reasons, Memory: d.Memory.Host, Paging: d.Paging}
	if d.Plan != nil && d.Action != residency.Refuse {
		rec.NCtx = d.Plan.Settings.NCtx
	}
	r.decisions = appendBounded(r.decisions, rec)
	line := fmt.Sprintf("decision: %s %s", d.Action, d.Model)
	for _, e := range d.Evict {
		line += fmt.Sprintf("; evict %s (%s)", e.ID, e.Why)
	}
	if d.Why != "" {
		line += ": " + d.Why
	}
	r.logf("%s", line)
}

func (r *Router) event(model, kind, msg string) {
	r.events = appendBounded(r.events, Event{Time: r.opts.Now(), Model: model, Kind: kind, Message: msg})
	r.logf("%s %s: %s", kind, model, msg)
}

func (r *Router) logf(format string, args ...any) {
	if r.opts.Log != nil {
		fmt.Fprintf(r.opts.Log, format+"\n", args...)
	}
}

func appendBounded[T any](s []T, v T) []T {
	if len(s) >= keepRecords {
		s = append(s[:0], s[1:]...)
	}
	return append(s, v)
}

// names returns every model name and alias, sorted.
func (r *Router) names() []string {
	out := make([]string, 0, len(r.byName))
	for n := range r.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
