package residency

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/layouts"
	"github.com/modelfit/modelfit/internal/units"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/probe"
)

var (
	layoutMu    sync.Mutex
	layoutFiles = map[string]*gguf.File{}
)

// layout returns the header of a zoo layout (generated in memory).
func layout(t testing.TB, id string) *gguf.File {
	t.Helper()
	layoutMu.Lock()
	defer layoutMu.Unlock()
	if f, ok := layoutFiles[id]; ok {
		return f
	}
	s, ok := layouts.ByID(id)
	if !ok {
		t.Fatalf("no layout %s", id)
	}
	l, err := layouts.Build(s)
	if err != nil {
		t.Fatal(err)
	}
	f, err := l.File()
	if err != nil {
		t.Fatal(err)
	}
	layoutFiles[id] = f
	return f
}

var t0 = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

const gib = 1 << 30

func cpuMachine(ram uint64) *probe.Snapshot {
	return probe.Describe(probe.Description{RAMBytes: ram, Cores: 8, Features: []string{"avx2", "fma", "f16c"}})
}

func gpuMachine(ram, vram uint64) *probe.Snapshot {
	return probe.Describe(probe.Description{RAMBytes: ram, Cores: 8, Features: []string{"avx2", "fma", "f16c"},
		GPUs: []probe.GPU{{Name: "RTX", TotalBytes: vram, FreeBytes: vram}}})
}

// model is a loaded model: layout id planned alone on m, as path.
type model struct {
	id, layout, path string
	idle             time.Duration // since last use
	keep             time.Duration
	pinned, busy     bool
	settings         *planner.Settings // pinned settings, if any
}

func (lm model) load(t testing.TB, m *probe.Snapshot) Model {
	t.Helper()
	req := planner.Request{ModelPath: lm.path}
	if lm.settings != nil {
		req.Settings = *lm.settings
		req.Pinned = planner.Pins{NCtx: true, NGPULayers: true}
	}
	p, err := planner.Make(context.Background(), layout(t, lm.layout), m, req)
	if err != nil {
		t.Fatalf("%s: %v", lm.id, err)
	}
	return Model{ID: lm.id, Plan: p, LastUsed: t0.Add(-lm.idle), KeepAlive: lm.keep, Pinned: lm.pinned, Busy: lm.busy}
}

func request(t testing.TB, id, lay, path string, pr planner.Request) Request {
	pr.ModelPath = path
	return Request{ID: id, GGUF: layout(t, lay), Plan: pr}
}

func ids(es []Eviction) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func TestDecide(t *testing.T) {
	// On the CPU (AVX2, no repack of Q8_0) the 8B Q8_0 layout holds 778 MiB
	// of anonymous memory and wants 7.4 GiB of page cache; the 1B Q8_0 one
	// 386 MiB and 1.2 GiB; the 8B Q4_K_M one, repacked, 3.9 GiB and 1.2 GiB.
	big := model{id: "big", layout: "llama-3.1-8b-q8_0", path: "/m/big.gguf", idle: 10 * time.Minute, keep: 5 * time.Minute}
	small := model{id: "small", layout: "llama-3.2-1b-q8_0", path: "/m/small.gguf", idle: time.Minute, keep: 5 * time.Minute}
	q4 := func(pr planner.Request) Request { return request(t, "q4", "llama-3.1-8b-q4_k_m", "/m/q4.gguf", pr) }
	withIdle := func(m model, idle time.Duration) model { m.idle = idle; return m }
	pinned := func(m model) model { m.pinned = true; return m }
	busy := func(m model) model { m.busy = true; return m }
	tests := []struct {
		name    string
		machine *probe.Snapshot
		loaded  []model
		req     Request
		action  Action
		evict   []string
		wait    []string
		check   func(t *testing.T, d *Decision)
	}{
		{name: "fits alongside", machine: cpuMachine(32 * gib), loaded: []model{big, small}, req: q4(planner.Request{}), action: Load,
			check: func(t *testing.T, d *Decision) {
				h := d.Memory.Host
				if len(d.Memory.Models) != 3 || h.PagedBytes != 0 || h.FreeAfterBytes <= 0 {
					t.Errorf("memory %+v", h)
				}
				var anon uint64
				for _, m := range d.Memory.Models {
					anon += m.AnonBytes
				}
				if h.AnonBytes != anon || h.SharedBytes != 0 {
					t.Errorf("anonymous memory %d, want the sum %d; shared %d", h.AnonBytes, anon, h.SharedBytes)
				}
			}},
		{name: "evict LRU whose keep-alive ran out", machine: cpuMachine(12 * gib), loaded: []model{small, big}, req: q4(planner.Request{}), action: Evict, evict: []string{"big"},
			check: func(t *testing.T, d *Decision) {
				if !strings.Contains(d.Evict[0].Why, "keep-alive of 5m0s has run out") {
					t.Errorf("why: %s", d.Evict[0].Why)
				}
			}},
		// The model whose keep-alive ran out goes first even though it is
		// smaller; it does not free enough, so the other one goes too.
		{name: "evict expired first, then the rest", machine: cpuMachine(12 * gib), loaded: []model{withIdle(big, time.Minute), withIdle(small, 6*time.Minute)},
			req: q4(planner.Request{}), action: Evict, evict: []string{"small", "big"},
			check: func(t *testing.T, d *Decision) {
				if !strings.Contains(d.Evict[1].Why, "of keep-alive left") {
					t.Errorf("why: %s", d.Evict[1].Why)
				}
			}},
		// 128K of context wants 16 GiB of KV cache: next to the others it
		// shrinks to what is left, within the request's bounds.
		{name: "shrink context", machine: cpuMachine(16 * gib), loaded: []model{big}, action: Load,
			req: q4(planner.Request{Settings: planner.Settings{NCtx: 131072}, AllowShrinkContext: true, MinCtx: 8192}),
			check: func(t *testing.T, d *Decision) {
				if n := d.Plan.Settings.NCtx; n >= 131072 || n < 8192 || d.Memory.Host.PagedBytes != 0 {
					t.Errorf("n_ctx %d, %s paged", n, units.Bytes(d.Memory.Host.PagedBytes))
				}
				if r := d.Plan.Reasons[len(d.Plan.Reasons)-1]; r.Setting != "n_ctx" || !strings.Contains(r.Why, "stay in the page cache") {
					t.Errorf("last reason %+v", r)
				}
			}},
		{name: "no shrink below the bound: evict", machine: cpuMachine(16 * gib), loaded: []model{big}, action: Evict, evict: []string{"big"},
			req: q4(planner.Request{Settings: planner.Settings{NCtx: 65536}, AllowShrinkContext: true, MinCtx: 65536})},
		{name: "refuse", machine: cpuMachine(12 * gib), loaded: []model{small}, action: Refuse,
			req: q4(planner.Request{Settings: planner.Settings{NCtx: 131072}, Pinned: planner.Pins{NCtx: true}}),
			check: func(t *testing.T, d *Decision) {
				if d.Plan == nil || d.Plan.Fits || !strings.Contains(d.Why, "even with every loaded model evicted") || d.Err() == nil {
					t.Errorf("why %q err %v", d.Why, d.Err())
				}
				var nf *planner.NoFitError
				if !errorsAs(d.Err(), &nf) {
					t.Errorf("%v does not carry the planner's NoFitError", d.Err())
				}
			}},
		{name: "pinned never evicted", machine: cpuMachine(12 * gib), loaded: []model{pinned(big), small}, req: q4(planner.Request{}), action: Refuse,
			check: func(t *testing.T, d *Decision) {
				if !strings.Contains(d.Why, "pinned model") || !strings.Contains(d.Why, "read weights from disk") || len(d.Paging) == 0 {
					t.Errorf("why %q", d.Why)
				}
			}},
		{name: "pinned kept, the other evicted", machine: cpuMachine(15 * gib), loaded: []model{pinned(big), withIdle(small, time.Hour)}, req: q4(planner.Request{}),
			action: Evict, evict: []string{"small"}},
		// Two models of one file share its page cache: 2 × (778 MiB + 32 MiB
		// of process overhead) + 7.4 GiB + 1 GiB margin fits in 10.5 GiB; two
		// copies of the working set do not.
		{name: "shared file counted once", machine: cpuMachine(21 * gib / 2), loaded: []model{big},
			req: request(t, "big-2", "llama-3.1-8b-q8_0", "/m/big.gguf", planner.Request{}), action: Load,
			check: func(t *testing.T, d *Decision) {
				h := d.Memory.Host
				if h.SharedBytes != d.Memory.Models[0].PageCacheBytes || h.PageCacheBytes != d.Memory.Models[0].PageCacheBytes || h.PagedBytes != 0 {
					t.Errorf("page cache %d, shared %d, paged %d; one working set is %d", h.PageCacheBytes, h.SharedBytes, h.PagedBytes, d.Memory.Models[0].PageCacheBytes)
				}
			}},
		{name: "another file is not shared", machine: cpuMachine(21 * gib / 2), loaded: []model{big},
			req: request(t, "big-2", "llama-3.1-8b-q8_0", "/m/big-copy.gguf", planner.Request{}), action: Evict, evict: []string{"big"}},
		// Each process repacks its own copy: anonymous memory adds up.
		{name: "repack copy per process", machine: cpuMachine(32 * gib), loaded: []model{{id: "q4-a", layout: "llama-3.1-8b-q4_k_m", path: "/m/q4.gguf", keep: -1}},
			req: q4(planner.Request{}), action: Load,
			check: func(t *testing.T, d *Decision) {
				a, b := d.Memory.Models[0], d.Memory.Models[1]
				if a.RepackBytes == 0 || b.RepackBytes != a.RepackBytes || d.Memory.Host.AnonBytes != a.AnonBytes+b.AnonBytes || d.Memory.Host.PageCacheBytes != max(a.PageCacheBytes, b.PageCacheBytes) {
					t.Errorf("two processes of one Q4_K_M file: %+v", d.Memory)
				}
			}},
		{name: "busy model: wait", machine: cpuMachine(12 * gib), loaded: []model{busy(big), small}, req: q4(planner.Request{}), action: Wait, wait: []string{"big"}, evict: []string{"small"}},
		// A pinned model's working set and the new one's do not both fit:
		// no eviction avoids it, so it loads and both page.
		{name: "unavoidable paging predicted", machine: cpuMachine(10 * gib), loaded: []model{pinned(big)},
			req: func() Request {
				r := request(t, "small", "llama-3.2-1b-q8_0", "/m/small.gguf", planner.Request{})
				r.AllowPaging = true
				return r
			}(), action: Load,
			check: func(t *testing.T, d *Decision) {
				if d.Memory.Host.PagedBytes == 0 || len(d.Paging) != 2 {
					t.Fatalf("paging %+v, memory %+v", d.Paging, d.Memory.Host)
				}
				for _, p := range d.Paging {
					if p.DecodeTokensPerSecond >= p.PlannedTokensPerSecond && p.ID == "big" || p.MissFraction <= 0 {
						t.Errorf("%+v: paging must slow it", p)
					}
				}
				if !hasReason(d, "page cache") {
					t.Errorf("no page-cache reason: %+v", d.Reasons)
				}
			}},
		// GPU memory per device: next to a model on the GPU the new one
		// gets fewer layers; asking for all of them evicts the other.
		{name: "fewer GPU layers alongside", machine: gpuMachine(32*gib, 8*gib), loaded: []model{{id: "g1", layout: "llama-3.2-1b-q8_0", path: "/m/g1.gguf", keep: time.Hour}},
			req: q4(planner.Request{}), action: Load,
			check: func(t *testing.T, d *Decision) {
				if n := d.Plan.Settings.NGPULayers; n <= 0 || n >= 33 {
					t.Errorf("n_gpu_layers %d next to a 2.1 GiB model on 8 GiB", n)
				}
				if g := d.Memory.GPUs[0]; g.FreeAfterBytes < 0 {
					t.Errorf("GPU %+v", g)
				}
			}},
		{name: "all GPU layers: evict", machine: gpuMachine(32*gib, 8*gib), loaded: []model{{id: "g1", layout: "llama-3.2-1b-q8_0", path: "/m/g1.gguf", keep: time.Hour}},
			req: func() Request { r := q4(planner.Request{}); r.MinGPULayers = 33; return r }(), action: Evict, evict: []string{"g1"}},
		{name: "first model", machine: cpuMachine(16 * gib), req: q4(planner.Request{}), action: Load},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Input{Machine: tt.machine, Request: tt.req, Now: t0}
			for _, lm := range tt.loaded {
				in.Loaded = append(in.Loaded, lm.load(t, tt.machine))
			}
			d, err := Decide(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if d.Action != tt.action || !reflect.DeepEqual(ids(d.Evict), tt.evict) || !reflect.DeepEqual(d.WaitFor, tt.wait) {
				t.Fatalf("%s evict %v wait %v, want %s evict %v wait %v\nwhy: %s\n%s", d.Action, ids(d.Evict), d.WaitFor, tt.action, tt.evict, tt.wait, d.Why, reasons(d))
			}
			if (d.Action == Load || d.Action == Evict) && (d.Plan == nil || !d.Plan.Fits) {
				t.Errorf("%s without a fitting plan", d.Action)
			}
			if len(d.Reasons) == 0 || d.Reasons[len(d.Reasons)-1].Setting != "residency" && !hasReason(d, "residency") {
				t.Errorf("no why-trail: %+v", d.Reasons)
			}
			if tt.check != nil {
				tt.check(t, d)
			}
			// Deterministic: the memoising planner decides the same, twice.
			var pl Planner
			for range 2 {
				d2, err := pl.Decide(context.Background(), in)
				if err != nil {
					t.Fatal(err)
				}
				if a, b := mustJSON(t, d), mustJSON(t, d2); a != b {
					t.Fatalf("decisions differ:\n%s\n%s", a, b)
				}
			}
		})
	}
}

func hasReason(d *Decision, setting string) bool {
	for _, r := range d.Reasons {
		if r.Setting == setting {
			return true
		}
	}
	return false
}

func reasons(d *Decision) string {
	var sb strings.Builder
	for _, r := range d.Reasons {
		sb.WriteString(r.Setting + " = " + r.Choice + ": " + r.Why + "\n")
	}
	return sb.String()
}

func mustJSON(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// A Planner is shared by a server's request handlers.
func TestPlannerConcurrent(t *testing.T) {
	m := cpuMachine(12 * gib)
	loaded := []Model{model{id: "big", layout: "llama-3.1-8b-q8_0", path: "/m/big.gguf", idle: 10 * time.Minute, keep: 5 * time.Minute}.load(t, m)}
	in := Input{Machine: m, Loaded: loaded, Now: t0, Request: request(t, "q4", "llama-3.1-8b-q4_k_m", "/m/q4.gguf", planner.Request{})}
	want, err := Decide(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	pl := Planner{MemoSize: 2}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 3 {
				d, err := pl.Decide(context.Background(), in)
				if err != nil || mustJSON(t, d) != mustJSON(t, want) {
					t.Errorf("concurrent decision differs: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if calls, hits := pl.Stats(); hits == 0 || calls < 12 {
		t.Errorf("memo: %d calls, %d hits", calls, hits)
	}
}

func TestBadInput(t *testing.T) {
	m := cpuMachine(12 * gib)
	big := model{id: "big", layout: "llama-3.1-8b-q8_0", path: "/m/big.gguf"}.load(t, m)
	req := request(t, "q4", "llama-3.1-8b-q4_k_m", "/m/q4.gguf", planner.Request{})
	for _, tt := range []struct {
		name string
		in   Input
		want string
	}{
		{"no machine", Input{Request: req}, "no machine snapshot"},
		{"no header", Input{Machine: m, Request: Request{ID: "x"}}, "no model header"},
		{"twice", Input{Machine: m, Request: req, Loaded: []Model{big, big}}, "two loaded models are named"},
		{"loaded", Input{Machine: m, Request: Request{ID: "big", GGUF: req.GGUF}, Loaded: []Model{big}}, "already loaded"},
		{"no plan", Input{Machine: m, Request: req, Loaded: []Model{{ID: "x"}}}, "has no plan"},
		{"GPU plan on a CPU machine", Input{Machine: m, Request: req,
			Loaded: []Model{model{id: "g", layout: "llama-3.2-1b-q8_0", path: "/m/g.gguf"}.load(t, gpuMachine(12*gib, 8*gib))}}, "the machine has the CPU and 0 GPUs"},
		{"bad settings", Input{Machine: m, Request: request(t, "q4", "llama-3.1-8b-q4_k_m", "/m/q4.gguf", planner.Request{Settings: planner.Settings{NCtx: -1}})}, "n_ctx -1 out of range"},
	} {
		if _, err := Decide(context.Background(), tt.in); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestEvictionOrder(t *testing.T) {
	ms := []Model{
		{ID: "pinned", LastUsed: t0.Add(-time.Hour), KeepAlive: time.Minute, Pinned: true},
		{ID: "busy", LastUsed: t0.Add(-time.Hour), KeepAlive: time.Minute, Busy: true},
		{ID: "fresh", LastUsed: t0.Add(-2 * time.Minute), KeepAlive: 5 * time.Minute},
		{ID: "forever", LastUsed: t0.Add(-time.Hour), KeepAlive: -1},
		{ID: "expired-b", LastUsed: t0.Add(-10 * time.Minute), KeepAlive: 5 * time.Minute},
		{ID: "expired-a", LastUsed: t0.Add(-10 * time.Minute), KeepAlive: 5 * time.Minute},
		{ID: "just-expired", LastUsed: t0.Add(-5 * time.Minute), KeepAlive: 5 * time.Minute},
	}
	var got []string
	for _, i := range evictionOrder(ms, t0) {
		got = append(got, ms[i].ID)
	}
	want := []string{"expired-a", "expired-b", "just-expired", "forever", "fresh", "busy"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}
