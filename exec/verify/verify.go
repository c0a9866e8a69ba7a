// Package verify runs a plan with llama.cpp's llama-server and compares
// what the plan predicted with what llama.cpp logged and what the process
// really holds: every buffer on every device, the process's anonymous and
// mapped memory, per-GPU memory, load time and speed.
package verify

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/modelfit/modelfit/exec/launch"
	"github.com/modelfit/modelfit/exec/llamaserver"
	"github.com/modelfit/modelfit/exec/measure"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/probe"
)

// SchemaVersion identifies the JSON layout of a Report.
const SchemaVersion = "verify/v1"

// Tolerances, as the planner states them for its estimate (docs/accuracy.md,
// checked against llama.cpp's logs by go test ./planner): exact terms to
// llama.cpp's logged precision (two decimals of MiB), the compute buffer
// within 10% and inside its predicted range, a device's total within 2%.
// Measured memory must not exceed the prediction by more than the margin
// the plan kept free on the device (what the planner reserves for what it
// does not model: the runtime's own heap, code, threads) and must reach 90%
// of it (a plan that reserves what is never used is wrong too).
const (
	LoggedMiB     = 0.0051
	ComputeRel    = 0.10
	TotalRel      = 0.02
	MeasuredBelow = 0.10
)

// ErrNoFit is returned for a plan that does not fit: it is not started.
var ErrNoFit = errors.New("verify: the plan does not fit this machine: not started")

// Options control a verification.
type Options struct {
	// Server starts llama-server (its Binary is required); the verbosity is
	// raised to 4 so llama.cpp logs its buffer sizes.
	Server llamaserver.Options
	// DecodeTokens are generated after the prompt; 0 = 8.
	DecodeTokens int
	// GPUs reads per-process GPU memory; nil opens NVML when the plan has
	// GPU devices.
	GPUs measure.GPUs
	// Cgroup, when the server runs in one made for it (Server.Cgroups),
	// is reported: its usage and peak. nil reports the memory cgroup the
	// server is in, which it may share.
	Cgroup *launch.Cgroup
}

// Report is the outcome: predicted, logged and measured figures, and
// whether every one is within its tolerance.
type Report struct {
	Schema   string              `json:"schema"`
	Model    string              `json:"model"`
	Binary   string              `json:"binary"`
	Version  string              `json:"version"`
	Args     []string            `json:"args"`
	Settings planner.Settings    `json:"settings"`
	Rows     []Row               `json:"rows"`
	Speed    []Speed             `json:"speed"`
	Process  measure.Memory      `json:"process"` // the peak of each figure while the prompt and decode ran
	GPUs     []measure.GPUMemory `json:"gpus,omitempty"`
	// PageCacheBytes is how much of the model file is in the page cache
	// after the run (nil when the kernel will not say).
	PageCacheBytes *int64       `json:"page_cache_bytes"`
	Cgroup         *CgroupUsage `json:"cgroup,omitempty"`
	PromptTokens   int          `json:"prompt_tokens"`
	DecodeTokens   int          `json:"decode_tokens"`
	OK             bool         `json:"ok"`
	// Worst is the row furthest from (or, when all pass, closest to) its
	// tolerance; an index into Rows.
	Worst int      `json:"worst"`
	Notes []string `json:"notes,omitempty"`
}

// CgroupUsage is the memory cgroup the server ran in.
type CgroupUsage struct {
	Dir        string `json:"dir"`
	LimitBytes uint64 `json:"limit_bytes,omitempty"`
	UsageBytes uint64 `json:"usage_bytes"`
	PeakBytes  uint64 `json:"peak_bytes"`
	OOMKills   uint64 `json:"oom_kills"`
}

// Row is one figure: predicted, and logged or measured.
type Row struct {
	Device string `json:"device"` // "CPU", "CUDA0", …
	// Figure is "weights", "repack", "KV", "compute", "output",
	// "allocated" (llama.cpp's buffers, logged; allocated sums them but
	// mapped weights), "anonymous" (RssAnon, measured),
	// "mapped model" (the model file's resident pages in the process) or
	// "GPU memory" (NVML, measured).
	Figure    string  `json:"figure"`
	Source    string  `json:"source"` // "logged" or "measured"
	Predicted uint64  `json:"predicted_bytes"`
	Low       uint64  `json:"low_bytes"` // the accepted range, bytes
	High      uint64  `json:"high_bytes"`
	Actual    *uint64 `json:"actual_bytes"` // nil: not logged / not measurable
	Tolerance string  `json:"tolerance"`
	// Score is the error as a fraction of what the tolerance allows:
	// at most 1 passes.
	Score float64 `json:"score"`
	OK    bool    `json:"ok"`
}

// Speed is a predicted against a measured rate.
type Speed struct {
	What      string  `json:"what"` // "load seconds", "prefill tok/s", "decode tok/s"
	Predicted float64 `json:"predicted"`
	Measured  float64 `json:"measured"`
}

// Err is the row's relative error against its actual figure.
func (r Row) Err() float64 {
	if r.Actual == nil || *r.Actual == 0 {
		return 0
	}
	return (float64(r.Predicted) - float64(*r.Actual)) / float64(*r.Actual)
}

// Run starts llama-server with the plan, runs one prompt of n_ubatch
// tokens and a few decode steps (so every buffer is touched), measures the
// process, stops it, and compares. A plan that does not fit is not started
// (ErrNoFit).
func Run(ctx context.Context, plan *planner.Plan, opts Options) (*Report, error) {
	if plan == nil {
		return nil, errors.New("verify: nil plan")
	}
	if !plan.Fits {
		return nil, ErrNoFit
	}
	so := opts.Server
	so.Verbosity = max(so.Verbosity, 4)
	srv, err := llamaserver.Start(ctx, plan, so)
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	rep := &Report{Schema: SchemaVersion, Model: plan.Model.Path, Binary: srv.Features.Path, Version: srv.Features.Version,
		Args: srv.Args, Settings: plan.Settings}

	decode := opts.DecodeTokens
	if decode <= 0 {
		decode = 8
	}
	prompt, err := promptOf(ctx, srv, plan.Settings, decode)
	if err != nil {
		return nil, err
	}
	pid := srv.Process.PID()
	// RssAnon grows while the prompt first touches the buffers and does not
	// shrink: a coarse interval finds the peak without taking CPU from
	// the server.
	sampler := measure.Sample(ctx, pid, 50*time.Millisecond, plan.Model.Path)
	temp, seed := 0.0, uint64(1)
	comp, err := srv.Complete(ctx, llamaserver.CompletionRequest{Prompt: prompt, NPredict: decode, Temperature: &temp, Seed: &seed,
		IgnoreEOS: true, Grammar: llamaserver.ValidUTF8}, nil)
	peak, _, merr := sampler.Stop()
	if err != nil {
		return nil, err
	}
	if merr != nil {
		rep.Notes = append(rep.Notes, "process memory not measured: "+merr.Error())
	}
	rep.Process, rep.PromptTokens, rep.DecodeTokens = peak, comp.Timings.PromptN, comp.Timings.PredictedN
	if len(plan.Devices) > 1 {
		g := opts.GPUs
		if g == nil {
			if g, err = measure.OpenNVML(); err == nil {
				defer g.Close()
			} else {
				rep.Notes = append(rep.Notes, "GPU memory not measured: "+err.Error())
			}
		}
		if g != nil {
			if rep.GPUs, err = g.ProcessMemory(pid); err != nil {
				rep.Notes = append(rep.Notes, "GPU memory not measured: "+err.Error())
			}
		}
	}
	if fi, err := probe.FileResidency(plan.Model.Path); err == nil && len(fi) == 1 {
		rep.PageCacheBytes = fi[0].ResidentBytes
	}
	cg := opts.Cgroup
	if cg == nil {
		// The cgroup the server shares with this process (and whatever
		// else runs there): reported, usage not the server's alone.
		cg, _ = launch.CgroupOf(pid)
	}
	if cg != nil {
		u := &CgroupUsage{Dir: cg.Dir}
		u.UsageBytes, _ = cg.Usage()
		u.PeakBytes, _ = cg.Peak()
		if l, ok, _ := cg.Limit(); ok {
			u.LimitBytes = l
		}
		u.OOMKills, _ = cg.OOMKills()
		rep.Cgroup = u
	}
	bufs := srv.Buffers()
	if bufs.Empty() {
		return nil, fmt.Errorf("verify: %s logged no buffer sizes at -lv 4", srv.Features.Path)
	}
	for _, d := range plan.Devices[1:] {
		if _, ok := bufs.Device("model", d.Name); !ok {
			rep.Notes = append(rep.Notes, fmt.Sprintf("llama-server logged no %s buffer: the binary has no such device (a CPU-only build?) and ran the plan's %s layers elsewhere", d.Name, d.Name))
		}
	}
	rep.Rows = compare(plan, bufs, peak, rep.GPUs, len(plan.Devices) > 1 && rep.GPUs != nil)
	rep.Speed = []Speed{
		{"load seconds", plan.Predicted.LoadSeconds, srv.LoadTime().Seconds()},
		{"prefill tok/s", plan.Predicted.PrefillTokensPerSecond, comp.Timings.PromptPerSecond},
		{"decode tok/s", plan.Predicted.DecodeTokensPerSecond, comp.Timings.PredictedPerSecond},
	}
	rep.judge()
	if err := srv.Close(); err != nil {
		return rep, err
	}
	return rep, nil
}

// promptOf returns a prompt of n_ubatch tokens (fewer when the context
// would not hold them and the decode steps), tokenized by the server.
func promptOf(ctx context.Context, srv *llamaserver.Server, s planner.Settings, decode int) ([]int, error) {
	n := s.NUbatch
	if perSeq := s.NCtx/max(s.NParallel, 1) - decode - 1; n > perSeq {
		n = perSeq
	}
	if n < 1 {
		return nil, fmt.Errorf("verify: context %d too small for a prompt and %d decode steps", s.NCtx, decode)
	}
	const text = "The quick brown fox jumps over the lazy dog while the five boxing wizards jump quickly; " +
		"a journey of a thousand miles begins with a single step, and every plan is checked by running it. "
	ids, err := srv.Tokenize(ctx, text)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, errors.New("verify: the server tokenized the prompt text to nothing")
	}
	out := make([]int, n)
	for i := range out {
		out[i] = ids[i%len(ids)]
	}
	return out, nil
}

// compare pairs every predicted figure with the logged or measured one.
func compare(plan *planner.Plan, b llamaserver.Buffers, proc measure.Memory, gpus []measure.GPUMemory, gpuMeasured bool) []Row {
	var rows []Row
	mib := func(v float64) *uint64 { x := uint64(math.Round(v * llamaserver.MiB)); return &x }
	logged := func(kind, dev string) *uint64 {
		v, _ := b.Device(kind, dev) // absent: llama.cpp allocated none (0)
		return mib(v)
	}
	for _, d := range plan.Devices {
		cpu := d.Name == "CPU"
		weights := d.WeightsBytes
		if cpu && !plan.Settings.MMap {
			weights = d.AnonWeightsBytes // repacked weights are read into CPU_REPACK instead
		}
		w := exactRow(d.Name, "weights", weights, logged("model", d.Name))
		if cpu && plan.Settings.MMap && d.RepackBytes > 0 {
			// llama.cpp's CPU_Mapped buffer is the file range spanning the
			// weights it did not repack (llama-model.cpp, load_tensors:
			// get_mapping_range): at least those, at most every host
			// weight (a repacked copy has its source's size).
			slack := w.High - weights
			low := weights - min(d.RepackBytes, weights)
			w.Low, w.Tolerance = low-min(slack, low), "mapped span"
			w.Score = rangeScore(*w.Actual, w.Low, w.High, slack)
		}
		dev := []Row{w}
		if cpu {
			dev = append(dev, exactRow(d.Name, "repack", d.RepackBytes, logged("model", "CPU_REPACK")))
		}
		dev = append(dev, exactRow(d.Name, "KV", d.KVBytes, logged("KV", d.Name)))
		c := Row{Device: d.Name, Figure: "compute", Source: "logged", Predicted: d.ComputeBytes, Low: d.ComputeLowBytes,
			High: d.ComputeHighBytes, Actual: logged("compute", d.Name), Tolerance: "±10%, in range"}
		c.Score = math.Abs(c.Err()) / ComputeRel
		if a := *c.Actual; a < c.Low || a > c.High {
			c.Score = max(c.Score, rangeScore(a, c.Low, c.High, max(c.High/10, 1)))
		}
		dev = append(dev, c, exactRow(d.Name, "output", d.OutputBytes, logged("output", d.Name)))
		// The total counts what llama.cpp allocated on the device: mapped
		// weights are page cache, not an allocation.
		var sum, pred uint64
		for i, r := range dev {
			if i == 0 && cpu && plan.Settings.MMap {
				continue
			}
			sum += *r.Actual
			pred += r.Predicted
		}
		t := Row{Device: d.Name, Figure: "allocated", Source: "logged", Predicted: pred, Low: pred - uint64(TotalRel*float64(pred)),
			High: pred + uint64(TotalRel*float64(pred)), Actual: &sum, Tolerance: "±2%"}
		t.Score = math.Abs(t.Err()) / TotalRel
		rows = append(append(rows, dev...), t)

		switch {
		case cpu:
			a := proc.RSSAnon
			rows = append(rows, measuredRow(d.Name, "anonymous", d.TotalBytes, d.MarginBytes, &a))
			if plan.Settings.MMap {
				r := Row{Device: d.Name, Figure: "mapped model", Source: "measured", Predicted: d.ResidentBytes,
					Low: d.ResidentBytes, High: plan.Model.FileBytes, Tolerance: "working set ≤ x ≤ file"}
				if v, ok := proc.Files[plan.Model.Path]; ok {
					r.Actual = &v
					r.Score = rangeScore(v, r.Low, r.High, max(d.ResidentBytes/10, 1))
				}
				rows = append(rows, r)
			}
		case gpuMeasured:
			var used *uint64
			for _, g := range gpus {
				if gpuName(d.Name) == g.Index {
					v := g.Bytes
					used = &v
				}
			}
			r := measuredRow(d.Name, "GPU memory", d.TotalBytes, d.MarginBytes, used)
			r.Low = d.TotalBytes - min(d.OverheadBytes, d.TotalBytes)
			if used != nil {
				r.Score = rangeScore(*used, r.Low, r.High, max(d.MarginBytes, 1))
			}
			rows = append(rows, r)
		}
	}
	for i := range rows {
		rows[i].OK = rows[i].Actual != nil && rows[i].Score <= 1
	}
	return rows
}

func exactRow(dev, figure string, pred uint64, actual *uint64) Row {
	slack := uint64(math.Round(LoggedMiB * llamaserver.MiB))
	r := Row{Device: dev, Figure: figure, Source: "logged", Predicted: pred, Low: pred - min(slack, pred), High: pred + slack,
		Actual: actual, Tolerance: "±0.005 MiB"}
	r.Score = float64(absDiff(pred, *actual)) / float64(slack)
	return r
}

// measuredRow checks a measured figure against a predicted allocation:
// no more than the device's margin above it, no more than 10% below.
func measuredRow(dev, figure string, pred, margin uint64, actual *uint64) Row {
	r := Row{Device: dev, Figure: figure, Source: "measured", Predicted: pred,
		Low: pred - uint64(MeasuredBelow*float64(pred)), High: pred + margin,
		Tolerance: fmt.Sprintf("−10%%, +margin %.0f MiB", float64(margin)/llamaserver.MiB)}
	if actual != nil {
		r.Actual = actual
		r.Score = rangeScore(*actual, r.Low, r.High, max(pred-r.Low, 1))
		if *actual > pred {
			r.Score = float64(*actual-pred) / float64(max(margin, 1))
		}
	}
	return r
}

// rangeScore is how far v is into [low, high] (≤ 1 inside, growing by one
// per unit outside).
func rangeScore(v, low, high, unit uint64) float64 {
	switch {
	case v < low:
		return 1 + float64(low-v)/float64(unit)
	case v > high:
		return 1 + float64(v-high)/float64(unit)
	}
	return 0
}

// judge sets OK and Worst.
func (r *Report) judge() {
	r.OK = true
	r.Worst = -1
	for i, row := range r.Rows {
		if !row.OK {
			r.OK = false
		}
		if r.Worst < 0 || row.Score > r.Rows[r.Worst].Score || !row.OK && r.Rows[r.Worst].OK {
			r.Worst = i
		}
	}
}

// Failed lists the rows outside their tolerance, worst first.
func (r *Report) Failed() []Row {
	var out []Row
	for _, row := range r.Rows {
		if !row.OK {
			out = append(out, row)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out
}

// WorstRow is the row furthest from its tolerance.
func (r *Report) WorstRow() *Row {
	if r.Worst < 0 || r.Worst >= len(r.Rows) {
		return nil
	}
	return &r.Rows[r.Worst]
}

// gpuName returns the index of a "CUDA0"/"ROCm1" device name, -1 for others.
func gpuName(name string) int {
	i := strings.IndexAny(name, "0123456789")
	if i < 0 {
		return -1
	}
	n := 0
	for _, c := range name[i:] {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func absDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}
