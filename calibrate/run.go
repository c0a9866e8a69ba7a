package calibrate

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/shirou/gopsutil/v4/load"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/planner"
)

// Options says what to measure. The zero value measures memory and files
// only (no llama-bench given or found).
type Options struct {
	// LlamaBench is llama-bench's path; empty finds it in $PATH, then in
	// ToolsDir. Without it the profile holds the bandwidths only.
	LlamaBench string
	ToolsDir   string
	// Dir holds the temporary files (the synthetic layouts, 2 GB in all,
	// and the file-read test file); empty is os.TempDir().
	Dir string
	// Threads is the largest thread count (memory bandwidth is measured for
	// 1…Threads, llama-bench for Threads); 0 means runtime.NumCPU.
	Threads int
	// Machine names the CPU in the profile.
	Machine string
	// Quick shrinks every measurement and the layouts (for tests): the
	// figures mean nothing, the pipeline is exercised.
	Quick bool
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// Now stamps the profile; nil is time.Now.
	Now func() time.Time
}

// calibration layouts: two shapes in one type per kernel class of the
// speed model, so that the fit sees every class and separates per-byte
// from per-layer cost. They are written quantized (no llama-quantize run).
var (
	calibShapes = []Shape{CalibWide, CalibDeep}
	// quickShapes stand in for tests: they run in milliseconds and fit in
	// the caches, so their figures say nothing about the machine.
	quickShapes = []Shape{
		{Name: "quick-wide", Layers: 2, Embd: 512, FFN: 1536, Heads: 8, KVHeads: 4, Vocab: 512, Ctx: 256},
		{Name: "quick-deep", Layers: 6, Embd: 256, FFN: 768, Heads: 4, KVHeads: 2, Vocab: 512, Ctx: 256},
	}
	calibTypes = []string{"Q8_0", "Q4_0", "Q4_K", "Q6_K"}
)

// Run measures the machine and returns its speed profile.
func Run(ctx context.Context, o Options) (*planner.SpeedProfile, error) {
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	threads := o.Threads
	if threads <= 0 {
		threads = numCPU()
	}
	dir := o.Dir
	if dir == "" {
		dir = os.TempDir()
	}
	p := &planner.SpeedProfile{Schema: planner.SpeedSchema, Machine: o.Machine, Measured: now().UTC().Format(time.RFC3339)}
	if l, err := load.AvgWithContext(ctx); err == nil {
		p.Load = fmt.Sprintf("%.2f %.2f %.2f (1, 5, 15 min) on %d CPUs at the start", l.Load1, l.Load5, l.Load15, numCPU())
	}
	size, reps := 512<<20, 5
	if o.Quick {
		size, reps = 64<<20, 3
	}
	for t := 1; t <= threads; t++ {
		bw, err := MemoryBandwidth(ctx, t, size, reps)
		if err != nil {
			return nil, err
		}
		p.HostBandwidth = append(p.HostBandwidth, planner.BandwidthPoint{Threads: t, BytesPerSecond: bw})
		fmt.Fprintf(logw, "memory read, %d thread(s): %.1f GB/s\n", t, bw/1e9)
	}
	fileSize := int64(256 << 20)
	if o.Quick {
		fileSize = 32 << 20
	}
	switch fsp, err := MeasureFiles(ctx, dir, fileSize, 3); {
	case err == nil:
		p.ColdReadBandwidth, p.WarmReadBandwidth, p.MmapFaultBandwidth = fsp.Cold, fsp.Warm, fsp.MmapFault
		fmt.Fprintf(logw, "file read in %s: cold %.2f GB/s, warm %.2f GB/s; mmap page faults %.2f GB/s\n", dir, fsp.Cold/1e9, fsp.Warm/1e9, fsp.MmapFault/1e9)
	case ctx.Err() != nil:
		return nil, ctx.Err()
	default:
		fmt.Fprintf(logw, "file read: %v\n", err)
	}
	touchSize := 256 << 20
	if o.Quick {
		touchSize = 16 << 20
	}
	switch ft, err := MeasureFirstTouch(ctx, touchSize, 3); {
	case err == nil:
		p.FirstTouchBandwidth = ft
		fmt.Fprintf(logw, "first touch of fresh memory: %.2f s/GiB\n", (1<<30)/ft)
	case ctx.Err() != nil:
		return nil, ctx.Err()
	default:
		fmt.Fprintf(logw, "first touch: %v\n", err)
	}
	bench, err := FindTool("llama-bench", o.LlamaBench, o.ToolsDir)
	switch {
	case err != nil && o.LlamaBench != "":
		return nil, err // asked for, not there
	case err != nil:
		fmt.Fprintf(logw, "llama.cpp speeds not measured: %v\n", err)
		return p, nil
	}
	p.Runtime = bench
	shapes := calibShapes
	if o.Quick {
		shapes = quickShapes
	}
	samples, err := benchLayouts(ctx, logw, bench, dir, shapes, calibTypes, threads, o.Quick)
	if err != nil {
		return nil, err
	}
	p.Samples = samples
	if p.Points, err = planner.FitSpeed(samples); err != nil {
		return nil, err
	}
	for _, pt := range p.Points {
		fmt.Fprintf(logw, "fit, %d thread(s): decode within %.1f%%, prefill within %.1f%% of llama-bench\n", pt.Threads, pt.DecodeError*100, pt.PrefillError*100)
	}
	return p, nil
}

// benchLayouts writes each shape in each type, runs llama-bench on them
// with threads threads and returns the samples; every file it writes is
// removed before it returns.
//
// A shared machine's speed jumps by a quarter or more for a second or two
// at a time (measured on this project's virtual machine), so one run of a
// layout can put a single class's rate that far off. Each layout is
// therefore measured in three passes over all of them, the second in
// reverse order, so that its runs lie seconds apart, and its sample is the
// median. Only the plan's thread count is measured: the time a second
// count would take goes to the passes.
func benchLayouts(ctx context.Context, logw io.Writer, bench, dir string, shapes []Shape, types []string, threads int, quick bool) ([]planner.SpeedSample, error) {
	pp, tg, reps := 64, 16, 3
	if quick {
		pp, tg, reps = 16, 4, 1
	}
	var layouts []layout
	defer func() {
		for _, l := range layouts {
			os.Remove(l.path)
		}
	}()
	for _, s := range shapes {
		for _, typ := range types {
			name := s.Name + "-" + typ
			path := filepath.Join(dir, fmt.Sprintf("modelfit-calibrate-%d-%s.gguf", os.Getpid(), name))
			l, err := writeLayout(ctx, path, name, s, typ, pp)
			layouts = append(layouts, l) // removed on return, written or not
			if err != nil {
				return nil, err
			}
		}
	}
	runs := map[string][]planner.SpeedSample{}
	for pass := range 3 {
		for i := range layouts {
			l := layouts[i]
			if pass == 1 {
				l = layouts[len(layouts)-1-i]
			}
			res, err := Bench(ctx, bench, l.path, []int{threads}, pp, tg, reps)
			if err != nil {
				return nil, err
			}
			ss, err := pairSamples(l.name, res, l.dec, l.fl, l.layers)
			if err != nil {
				return nil, err
			}
			for _, x := range ss {
				runs[l.name] = append(runs[l.name], x)
				fmt.Fprintf(logw, "llama-bench %s, %d thread(s): prefill %.1f tok/s, decode %.1f tok/s\n", x.Model, x.Threads, x.PrefillTokPerSec, x.DecodeTokPerSec)
			}
		}
	}
	var samples []planner.SpeedSample
	for _, l := range layouts {
		samples = append(samples, medianSample(runs[l.name]))
	}
	return samples, nil
}

// medianSample is the first sample with the median prefill and decode
// speeds of all (each median taken on its own), and all runs' speeds.
func medianSample(all []planner.SpeedSample) planner.SpeedSample {
	s := all[0]
	pre, dec := make([]float64, len(all)), make([]float64, len(all))
	for i, x := range all {
		pre[i], dec[i] = x.PrefillTokPerSec, x.DecodeTokPerSec
	}
	s.PrefillTokPerSec, s.DecodeTokPerSec = Median(pre), Median(dec)
	if len(all) > 1 {
		s.PrefillRuns, s.DecodeRuns = pre, dec
	}
	return s
}

// layout is a calibration layout written to path, with its work per token.
type layout struct {
	name, path string
	dec, fl    map[string]float64
	layers     int
}

// writeLayout writes shape s in type typ to path and reads back its work
// per token for a prompt of pp tokens.
func writeLayout(ctx context.Context, path, name string, s Shape, typ string, pp int) (layout, error) {
	l := layout{name: name, path: path}
	if err := Write(ctx, path, s, typ, 1); err != nil {
		return l, err
	}
	var err error
	l.dec, l.fl, l.layers, err = workOf(path, pp)
	return l, err
}

// workOf reads the work per token of the model at path (see
// planner.WorkPerToken).
func workOf(path string, pp int) (dec, fl map[string]float64, layers int, err error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("calibrate: %w", err)
	}
	defer f.Close()
	dec, fl, layers = planner.WorkPerToken(f, pp)
	return dec, fl, layers, nil
}

// BenchSample runs llama-bench on the model at path with threads threads (a
// prompt of pp tokens, tg generated, reps repetitions) and returns its
// speeds with the model's work per token, named name.
func BenchSample(ctx context.Context, bench, path, name string, threads, pp, tg, reps int) (planner.SpeedSample, error) {
	dec, fl, layers, err := workOf(path, pp)
	if err != nil {
		return planner.SpeedSample{}, err
	}
	res, err := Bench(ctx, bench, path, []int{threads}, pp, tg, reps)
	if err != nil {
		return planner.SpeedSample{}, err
	}
	ss, err := pairSamples(name, res, dec, fl, layers)
	if err != nil {
		return planner.SpeedSample{}, err
	}
	return ss[0], nil
}

func pairSamples(name string, res []BenchResult, dec, fl map[string]float64, layers int) ([]planner.SpeedSample, error) {
	// llama-bench reports each thread count's prompt test, then its
	// generation test; a thread count listed twice gives two pairs.
	var out []planner.SpeedSample
	for _, r := range res {
		var s *planner.SpeedSample
		for i := len(out) - 1; i >= 0 && s == nil; i-- {
			if o := &out[i]; o.Threads == r.Threads && (r.NGen > 0 && o.DecodeTokPerSec == 0 || r.NGen == 0 && o.PrefillTokPerSec == 0) {
				s = o
			}
		}
		if s == nil {
			out = append(out, planner.SpeedSample{Model: name, Threads: r.Threads, Layers: layers, DecodeBytes: dec, PrefillFLOPs: fl})
			s = &out[len(out)-1]
		}
		if r.NGen > 0 {
			s.NGen, s.DecodeTokPerSec = r.NGen, r.TokPerSec
		} else {
			s.NPrompt, s.PrefillTokPerSec = r.NPrompt, r.TokPerSec
		}
	}
	for _, s := range out {
		if s.DecodeTokPerSec == 0 || s.PrefillTokPerSec == 0 {
			return nil, fmt.Errorf("calibrate: llama-bench gave no prefill or no decode result for %s with %d threads", name, s.Threads)
		}
	}
	return out, nil
}
