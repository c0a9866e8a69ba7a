package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/units"
	"github.com/modelfit/modelfit/ollama"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/probe"
)

func init() {
	commands["plan"] = command{run: runPlan, summary: "the dry run: how MODEL should be placed on this (or an assumed) machine, and why (default)"}
	defaultCommand = "plan"
}

// planFlags are the flags of the dry run, shared with `plan run`. Names
// follow llama.cpp's where they exist; a flag the user gives is pinned.
type planFlags struct {
	fs                                    *flag.FlagSet
	ctx, batch, ubatch, parallel, threads int
	minCtx                                int
	ngl, fa, ctk, ctv, ts, runtime        string
	noMmap, mmap, mlock, noRepack, nkvo   bool
	noShrink, noQuantKV                   bool
	overrides, gpus                       multiFlag
	ram, probePath, hostMargin, gpuMargin string
	gpuOverhead, hostBW, diskBW, loadMode string
	cpuFeatures                           string
	cores                                 int
	profile, unified                      string
	wiredLimitMB                          uint64
	// builtinEngine is set by `plan run`: the pure-Go engine has no
	// quantized KV cache, so the planner must not choose one to fit.
	builtinEngine bool
	// cluster holds --host, --link, --rpc-cache (hosts.go).
	cluster clusterFlags
	// snap and req are the machine and request of the last plan.
	snap *probe.Snapshot
	req  planner.Request
	// ollamaModel is the Ollama model the argument named (nil for a
	// file); ollamaParams its stored parameters the plan pinned.
	ollamaModel  *ollama.Model
	ollamaParams []string
}

// addPlanFlags defines the plan flags on fs.
func addPlanFlags(fs *flag.FlagSet) *planFlags {
	p := &planFlags{fs: fs}
	intVar := func(v *int, usage string, names ...string) {
		for _, n := range names {
			fs.IntVar(v, n, 0, usage)
		}
	}
	strVar := func(v *string, def, usage string, names ...string) {
		for _, n := range names {
			fs.StringVar(v, n, def, usage)
		}
	}
	intVar(&p.ctx, "context size in tokens (default: the training context, at most 4096)", "c", "ctx-size")
	intVar(&p.batch, "logical batch size (default 2048)", "b", "batch-size")
	intVar(&p.ubatch, "physical batch size (default 512)", "ub", "ubatch-size")
	intVar(&p.parallel, "parallel sequences sharing the context (default 1)", "np", "parallel")
	intVar(&p.threads, "CPU threads (default: usable physical cores)", "t", "threads")
	intVar(&p.minCtx, "smallest context the planner may shrink to (default 2048)", "min-ctx")
	strVar(&p.ngl, "auto", "layers to offload to GPUs: N, auto or all", "ngl", "n-gpu-layers", "gpu-layers")
	strVar(&p.fa, "auto", "flash attention: on, off or auto", "fa", "flash-attn")
	strVar(&p.ctk, "", "K cache type (f16, q8_0, q4_0, …)", "ctk", "cache-type-k")
	strVar(&p.ctv, "", "V cache type", "ctv", "cache-type-v")
	strVar(&p.ts, "", "tensor split across GPUs, e.g. 3,1", "ts", "tensor-split")
	strVar(&p.runtime, "llama.cpp", "target runtime: llama.cpp (upstream b10587), llama.cpp-b6529, ollama (Ollama v0.17.4: its llama.cpp runner, or its Go engine for the architectures it runs there) or ollama-engine", "runtime")
	fs.StringVar(&p.loadMode, "load-mode", "", "newer llama.cpp's loading mode: none (= --no-mmap), mmap or mlock (= --mlock); pins it and renders the arguments in that spelling")
	fs.BoolVar(&p.noMmap, "no-mmap", false, "read weights into memory instead of mapping the file")
	fs.BoolVar(&p.mmap, "mmap", false, "map the file (pins mmap on)")
	fs.BoolVar(&p.mlock, "mlock", false, "lock the weights in RAM")
	fs.BoolVar(&p.noRepack, "no-repack", false, "do not repack CPU weights (llama.cpp --no-repack)")
	fs.BoolVar(&p.nkvo, "nkvo", false, "keep the KV cache on the host (llama.cpp --no-kv-offload)")
	fs.BoolVar(&p.noShrink, "no-shrink", false, "never shrink the context to make the model fit")
	fs.BoolVar(&p.noQuantKV, "no-quant-kv", false, "never quantize the KV cache to make the model fit")
	fs.Var(&p.overrides, "ot", "tensor override REGEX=DEVICE, as llama.cpp (repeatable)")
	fs.Var(&p.overrides, "override-tensor", "same as -ot")
	fs.StringVar(&p.ram, "ram", "", "plan for an assumed machine with this much RAM (e.g. 200GiB) instead of probing")
	fs.StringVar(&p.unified, "unified", "", "plan for an assumed Apple Silicon Mac: [CHIP=]SIZE[:BANDWIDTH] of unified memory, e.g. \"M2 Ultra=192GiB\" (instead of --ram/--gpu)")
	fs.Uint64Var(&p.wiredLimitMB, "wired-limit-mb", 0, "with --unified: the Mac's sysctl iogpu.wired_limit_mb (default: macOS's working set, 2/3 or 3/4 of RAM)")
	fs.Var(&p.gpus, "gpu", "an assumed GPU [NAME=]SIZE[@FREE][:BANDWIDTH], e.g. H100=80GiB (repeatable; with --ram)")
	fs.IntVar(&p.cores, "cores", 0, "physical cores of the assumed machine (default 8)")
	fs.StringVar(&p.cpuFeatures, "cpu-features", "", "CPU features of the assumed machine, e.g. avx2,avx512f (default: unknown x86-64, planned with AVX-512's repacking and AVX2's speed)")
	fs.StringVar(&p.hostBW, "host-bw", "", "measured host memory bandwidth, e.g. 34GB (per second), for the speed prediction")
	fs.StringVar(&p.diskBW, "disk-bw", "", "measured read speed of the model's disk, e.g. 1.7GB (per second), for the load prediction")
	fs.StringVar(&p.profile, "profile", "", "speed profile from plan calibrate (default: the stored one, for this machine only)")
	fs.StringVar(&p.probePath, "probe", "", "read the machine from a snapshot JSON (plan probe --json) instead of probing")
	fs.StringVar(&p.hostMargin, "host-margin", "", "host memory to keep free (default 1GiB)")
	fs.StringVar(&p.gpuMargin, "gpu-margin", "", "GPU memory to keep free on each GPU (default 1GiB)")
	fs.StringVar(&p.gpuOverhead, "gpu-overhead", "", "runtime overhead per GPU (default 512MiB)")
	p.cluster.add(fs)
	return p
}

// usageError is a bad flag value.
type usageError struct{ error }

// request turns the flags into a planner request; given flags are pinned.
func (p *planFlags) request() (planner.Request, error) {
	set := map[string]bool{}
	p.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	any := func(names ...string) bool {
		for _, n := range names {
			if set[n] {
				return true
			}
		}
		return false
	}
	var r planner.Request
	s := &r.Settings
	s.NCtx, s.NBatch, s.NUbatch, s.NParallel, s.Threads = p.ctx, p.batch, p.ubatch, p.parallel, p.threads
	r.Pinned.NCtx = any("c", "ctx-size")
	r.Pinned.NBatch = any("b", "batch-size")
	r.Pinned.NUbatch = any("ub", "ubatch-size")
	r.Pinned.NParallel = any("np", "parallel")
	r.Pinned.Threads = any("t", "threads")
	switch strings.ToLower(p.ngl) {
	case "auto", "":
	case "all", "-1":
		s.NGPULayers, r.Pinned.NGPULayers = 1<<20, true
	default:
		n, err := strconv.Atoi(p.ngl)
		if err != nil || n < 0 {
			return r, usageError{fmt.Errorf("-ngl %q: want a number, auto or all", p.ngl)}
		}
		s.NGPULayers, r.Pinned.NGPULayers = n, true
	}
	switch strings.ToLower(p.fa) {
	case "auto", "":
	case "on", "1", "true":
		s.FlashAttn, r.Pinned.FlashAttn = true, true
	case "off", "0", "false":
		s.FlashAttn, r.Pinned.FlashAttn = false, true
	default:
		return r, usageError{fmt.Errorf("-fa %q: want on, off or auto", p.fa)}
	}
	for _, kv := range []struct {
		v   string
		dst *string
		pin *bool
	}{{p.ctk, &s.CacheTypeK, &r.Pinned.CacheTypeK}, {p.ctv, &s.CacheTypeV, &r.Pinned.CacheTypeV}} {
		if kv.v == "" {
			continue
		}
		t, ok := gguf.ParseType(kv.v)
		if !ok {
			return r, usageError{fmt.Errorf("cache type %q: want f16, f32, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0 or q5_1", kv.v)}
		}
		*kv.dst, *kv.pin = t.String(), true
	}
	switch p.loadMode {
	case "":
	case "none":
		p.noMmap = true
	case "mmap":
		p.mmap = true
	case "mlock":
		p.mmap, p.mlock = true, true
	case "dio":
		return r, usageError{errors.New("--load-mode dio: direct I/O takes the same memory as none; plan with --load-mode none")}
	default:
		return r, usageError{fmt.Errorf("--load-mode %q: want none, mmap or mlock", p.loadMode)}
	}
	if vt, _ := gguf.ParseType(s.CacheTypeV); vt.BlockSize() > 1 && r.Pinned.FlashAttn && !s.FlashAttn {
		return r, usageError{fmt.Errorf("-ctv %s with -fa off: llama.cpp quantizes the V cache only with flash attention", s.CacheTypeV)}
	}
	if p.noMmap && p.mmap {
		return r, usageError{errors.New("--mmap and --no-mmap contradict each other")}
	}
	if p.noMmap || p.mmap {
		s.MMap, r.Pinned.MMap = p.mmap, true
	}
	s.MLock, r.Pinned.MLock = p.mlock, p.mlock
	s.NoRepack, r.Pinned.NoRepack = p.noRepack, p.noRepack
	s.NoKVOffload = p.nkvo
	if p.ts != "" {
		for _, part := range strings.Split(p.ts, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(part), 64)
			if err != nil || v < 0 {
				return r, usageError{fmt.Errorf("-ts %q: want proportions such as 3,1", p.ts)}
			}
			s.TensorSplit = append(s.TensorSplit, v)
		}
		r.Pinned.TensorSplit = true
	}
	for _, o := range p.overrides {
		pat, dev, ok := strings.Cut(o, "=")
		if !ok || pat == "" || dev == "" {
			return r, usageError{fmt.Errorf("-ot %q: want REGEX=DEVICE", o)}
		}
		s.Overrides = append(s.Overrides, planner.Override{Pattern: pat, Device: dev})
		r.Pinned.Overrides = true
	}
	rt, err := planner.ParseRuntime(p.runtime)
	if err != nil {
		return r, usageError{fmt.Errorf("--runtime %q: want llama.cpp, llama.cpp-b6529, ollama or ollama-engine", p.runtime)}
	}
	r.Runtime = rt
	r.OllamaEnv = planner.OllamaEnvFrom(getenv)
	r.OllamaEnv.OS = runtime.GOOS
	if p.diskBW != "" {
		v, err := probe.ParseSize(strings.TrimSuffix(p.diskBW, "/s"))
		if err != nil || v == 0 {
			return r, usageError{fmt.Errorf("--disk-bw %q: want bytes per second such as 1.7GB", p.diskBW)}
		}
		r.DiskBandwidth = float64(v)
	}
	r.MinCtx = p.minCtx
	r.AllowShrinkContext = !p.noShrink
	r.AllowQuantizedKV = !p.noQuantKV && !p.builtinEngine
	// The built-in engine streams what does not fit in memory (exec/stream.go).
	r.Settings.StreamWeights = p.builtinEngine
	for _, m := range []struct {
		v   string
		dst *uint64
	}{{p.hostMargin, &r.HostMarginBytes}, {p.gpuMargin, &r.GPUMarginBytes}, {p.gpuOverhead, &r.GPUOverheadBytes}} {
		if m.v == "" {
			continue
		}
		v, err := probe.ParseSize(m.v)
		if err != nil {
			return r, usageError{err}
		}
		*m.dst = v
	}
	hosts, err := p.cluster.parse(p)
	r.Hosts = hosts
	return r, err
}

// machine returns the snapshot to plan for: an assumed machine (--ram,
// --gpu), a snapshot file (--probe), or this machine probed now.
func (p *planFlags) machine(ctx context.Context, files []string) (*probe.Snapshot, error) {
	snap, err := p.snapshot(ctx, files)
	if err != nil || p.hostBW == "" {
		return snap, err
	}
	bw, err := probe.ParseSize(strings.TrimSuffix(p.hostBW, "/s"))
	if err != nil || bw == 0 {
		return nil, usageError{fmt.Errorf("--host-bw %q: want bytes per second such as 34GB", p.hostBW)}
	}
	snap.CPU.MemoryBandwidth = float64(bw)
	return snap, nil
}

func (p *planFlags) snapshot(ctx context.Context, files []string) (*probe.Snapshot, error) {
	switch {
	case p.unified != "":
		if p.ram != "" || len(p.gpus) > 0 || p.probePath != "" {
			return nil, usageError{errors.New("--unified describes the whole machine: give it without --ram, --gpu or --probe")}
		}
		ram, gpu, err := probe.ParseUnified(p.unified, p.wiredLimitMB)
		if err != nil {
			return nil, usageError{err}
		}
		d := probe.Description{RAMBytes: ram, Cores: p.cores, GPUs: []probe.GPU{gpu}, Arch: "arm64", Model: gpu.Name,
			Features: []string{"neon", "dotprod", "fp16", "i8mm", "bf16"}}
		if strings.Contains(gpu.Name, "M1") {
			d.Features = d.Features[:3] // I8MM and BF16 came with the M2
		}
		if p.cpuFeatures != "" {
			d.Features = strings.Split(strings.ToLower(strings.ReplaceAll(p.cpuFeatures, " ", "")), ",")
		}
		return probe.Describe(d), nil
	case p.ram != "" || len(p.gpus) > 0:
		if p.ram == "" {
			return nil, usageError{errors.New("--gpu describes an assumed machine: give its --ram too")}
		}
		ram, err := probe.ParseSize(p.ram)
		if err != nil {
			return nil, usageError{err}
		}
		d := probe.Description{RAMBytes: ram, Cores: p.cores}
		if p.cpuFeatures != "" {
			for _, f := range strings.Split(p.cpuFeatures, ",") {
				d.Features = append(d.Features, strings.ToLower(strings.TrimSpace(f)))
			}
		}
		for _, g := range p.gpus {
			gpu, err := probe.ParseGPU(g)
			if err != nil {
				return nil, usageError{err}
			}
			d.GPUs = append(d.GPUs, gpu)
		}
		return probe.Describe(d), nil
	case p.probePath != "":
		f, err := os.Open(p.probePath)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return probe.ReadSnapshot(f)
	}
	return probe.Probe(ctx, probe.Options{Files: files})
}

// plan opens the model and plans it.
func (p *planFlags) plan(ctx context.Context, model string) (*gguf.File, *planner.Plan, error) {
	req, err := p.request()
	if err != nil {
		return nil, nil, err
	}
	path := model
	if !isURL(model) {
		var om *ollama.Model
		if path, om, err = resolveModel(model); err != nil {
			return nil, nil, err
		}
		if om != nil {
			p.ollamaModel = om
			p.ollamaParams = applyOllamaParams(&req, om.Params)
			req.OllamaName = om.Name.Short()
		}
	}
	f, err := OpenModel(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	var files []string
	if !isURL(model) {
		for _, part := range f.Parts {
			files = append(files, part.Path)
		}
	}
	snap, err := p.machine(ctx, files)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	req.ModelPath = path
	if req.Speed, err = p.speedProfile(snap.Source == "probe"); err != nil {
		f.Close()
		return nil, nil, usageError{err}
	}
	p.snap, p.req = snap, req
	pl, err := planner.Make(ctx, f, snap, req)
	if pl == nil {
		f.Close()
		if errors.Is(err, planner.ErrOllamaCannot) {
			err = usageError{err}
		}
		return nil, nil, err
	}
	return f, pl, err
}

func isURL(s string) bool { return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") }

func runPlan(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pf := addPlanFlags(fs)
	asJSON := fs.Bool("json", false, "print the versioned JSON plan")
	printArgs := fs.Bool("print-args", false, "print only the llama.cpp arguments")
	argsStyle := fs.String("args-style", "", "how to spell loading in the llama.cpp arguments: classic (--no-mmap, --mlock) or load-mode (newer builds' --load-mode); default classic unless --load-mode is given")
	withOllama := fs.Bool("ollama", false, "also show what Ollama v0.17.4 would do on this machine and a plan for Ollama: API options, Modelfile and server environment")
	sweep := fs.Bool("sweep", false, "print a table of n_gpu_layers against memory and predicted speed")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: plan [flags] MODEL.gguf|URL|OLLAMA-NAME\n\nPlans how the model (a file, a URL, or a model in Ollama's store: llama3.1:8b) should run on this machine (or the one --ram/--gpu/--probe describe) without running anything.\nExit status: 0 fits, 3 does not fit, 2 usage, 1 other errors.\n\nflags:")
		printFlags(stderr, fs)
	}
	if err := fs.Parse(reorderFlags(fs, args)); err != nil {
		return ExitUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return ExitUsage
	}
	f, pl, err := pf.plan(ctx, fs.Arg(0))
	var ue usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "plan:", err)
		return ExitUsage
	case pl == nil:
		fmt.Fprintln(stderr, err)
		return ExitError
	}
	defer f.Close()
	style := planner.ArgsClassic
	switch *argsStyle {
	case "load-mode":
		style = planner.ArgsLoadMode
	case "":
		if pf.loadMode != "" {
			style = planner.ArgsLoadMode
		}
	case "classic":
	default:
		fmt.Fprintf(stderr, "plan: --args-style %q: want classic or load-mode\n", *argsStyle)
		return ExitUsage
	}
	pl.LlamaArgs = pl.LlamaCppArgs(style)
	var report *ollamaReport
	if *withOllama || pl.Runtime.IsOllama() {
		if report, err = pf.ollamaReport(ctx, f, pl); err != nil {
			fmt.Fprintln(stderr, err)
			return ExitError
		}
	}
	var rows []planner.SweepRow
	if *sweep && len(pl.Devices) > 1 && len(pl.Hosts) == 0 {
		if rows, err = planner.Sweep(ctx, f, pf.snap, pf.req, 12); err != nil {
			fmt.Fprintln(stderr, err)
			return ExitError
		}
	}
	switch {
	case *printArgs:
		fmt.Fprintln(stdout, strings.Join(pl.LlamaArgs, " "))
	case *asJSON:
		// The sweep rides along as an extra key of the same schema.
		doc := struct {
			*planner.Plan
			Sweep  []planner.SweepRow `json:"sweep,omitempty"`
			Ollama *ollamaReport      `json:"ollama,omitempty"`
		}{pl, rows, report}
		if err := writeJSON(stdout, doc); err != nil {
			fmt.Fprintln(stderr, err)
			return ExitError
		}
	default:
		if pf.ollamaModel != nil {
			fmt.Fprintln(stdout, ollamaHeader(pf.ollamaModel, pf.ollamaParams))
		}
		printPlan(stdout, pl)
		if report != nil {
			printOllamaReport(stdout, report)
		}
		switch {
		case *sweep && len(pl.Hosts) > 0:
			fmt.Fprintln(stdout, "\nsweep: not available for a plan over several hosts")
		case *sweep && len(pl.Devices) == 1:
			fmt.Fprintln(stdout, "\nsweep: no GPU to offload to")
		case *sweep:
			printSweep(stdout, pl, rows)
		}
	}
	if !pl.Fits {
		return ExitNoFit
	}
	return ExitOK
}

func printPlan(w io.Writer, p *planner.Plan) {
	s := p.Settings
	name := p.Model.Name
	if name == "" {
		name = p.Model.Path
	}
	fmt.Fprintf(w, "model     %s (%s, %d layers, %s of weights)\n", name, p.Model.Architecture, p.Model.Layers, units.Bytes(p.Model.TensorBytes))
	fmt.Fprintf(w, "runtime   %s: %s\n", p.Runtime, p.RuntimeProfile.Build)
	fmt.Fprintf(w, "settings  n_ctx %d, batch %d/%d, parallel %d, n_gpu_layers %d, flash_attn %v, KV %s/%s, mmap %v, mlock %v, threads %d",
		s.NCtx, s.NBatch, s.NUbatch, s.NParallel, s.NGPULayers, onOff(s.FlashAttn), s.CacheTypeK, s.CacheTypeV, onOff(s.MMap), onOff(s.MLock), s.Threads)
	if s.NoRepack {
		fmt.Fprint(w, ", no-repack")
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "device\tweights\tmapped\trepack\tKV\tcompute\toutput\toverhead\ttotal\tavailable\tfree after\t\t")
	for _, d := range p.Devices {
		mapped := "-"
		if d.MappedBytes > 0 {
			mapped = units.Bytes(d.MappedBytes)
		}
		avail := float64(max(d.AvailableBytes, 1))
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", d.Name, units.Bytes(d.WeightsBytes), mapped, units.Bytes(d.RepackBytes),
			units.Bytes(d.KVBytes), units.Bytes(d.ComputeBytes), units.Bytes(d.OutputBytes), units.Bytes(d.OverheadBytes),
			units.Bytes(d.TotalBytes), units.Bytes(d.AvailableBytes), units.Bytes(d.FreeAfterBytes),
			bar(float64(d.TotalBytes+d.MarginBytes)/avail, float64(d.ResidentBytes)/avail))
	}
	tw.Flush()
	fmt.Fprintln(w, "  (total = what must be allocated, with the margin it is # in the bar; mapped weights are page cache on top of it, = in the bar, paged in from disk where they do not fit)")
	fmt.Fprintln(w)
	if len(p.Hosts) > 0 {
		printHosts(w, p)
		fmt.Fprintln(w)
	}
	pr := p.Predicted
	fmt.Fprintf(w, "predicted load %.3g s, prefill %.3g tok/s, decode %.3g tok/s (bound by %s)\n", pr.LoadSeconds, pr.PrefillTokensPerSecond, pr.DecodeTokensPerSecond, pr.DecodeBound)
	for _, as := range pr.Assumptions {
		fmt.Fprintf(w, "  (%s)\n", as)
	}
	fmt.Fprintln(w, "\nwhy:")
	for _, r := range p.Reasons {
		fmt.Fprintf(w, "  %s = %s: %s\n", r.Setting, r.Choice, r.Why)
	}
	for _, wa := range p.Warnings {
		fmt.Fprintf(w, "warning: %s\n", wa)
	}
	fmt.Fprintln(w)
	if p.Fits {
		fmt.Fprintln(w, "FITS")
	} else {
		fmt.Fprintf(w, "DOES NOT FIT: %s\n", strings.TrimPrefix(p.NoFit.Error(), "planner: does not fit: "))
		for _, d := range p.NoFit.Devices {
			if d.ShortBytes > 0 {
				fmt.Fprintf(w, "  %s needs %s (at least %s with the fallbacks allowed), has %s\n", d.Name, units.Bytes(d.NeedBytes), units.Bytes(d.MinNeedBytes), units.Bytes(d.AvailableBytes))
			}
		}
	}
	if !p.Runtime.IsOllama() {
		fmt.Fprintf(w, "llama.cpp: %s\n", shellJoin(p.LlamaArgs))
	}
}

// bar draws a device's memory: # allocated (with the margin), = page cache
// the mapped weights want, . free; ! when the allocation does not fit.
func bar(alloc, cached float64) string {
	const width = 20
	a := int(alloc*width + 0.5)
	over := ""
	if a > width {
		a, over = width, "!"
	}
	a = max(a, 0)
	c := min(max(int((alloc+cached)*width+0.5)-a, 0), width-a)
	return "[" + strings.Repeat("#", a) + strings.Repeat("=", c) + strings.Repeat(".", width-a-c) + "]" + over
}

func printSweep(w io.Writer, p *planner.Plan, rows []planner.SweepRow) {
	fmt.Fprintln(w, "\nsweep:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "n_gpu_layers\tn_cpu_moe\t")
	for _, d := range p.Devices {
		fmt.Fprintf(tw, "%s\t", d.Name)
	}
	fmt.Fprintln(tw, "decode tok/s\tload s\tfits\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%d\t%d\t", r.NGPULayers, r.NCPUMoE)
		for _, b := range r.DeviceBytes {
			fmt.Fprintf(tw, "%s\t", units.Bytes(b))
		}
		fmt.Fprintf(tw, "%.2f\t%.1f\t%v\t\n", r.Decode, r.Load, r.Fits)
	}
	tw.Flush()
}

// shortFlags are llama.cpp's single-dash names.
var shortFlags = map[string]bool{"c": true, "b": true, "ub": true, "np": true, "t": true, "ngl": true, "fa": true,
	"ctk": true, "ctv": true, "ts": true, "ot": true, "nkvo": true, "p": true, "n": true, "s": true}

// printFlags prints the flags with their aliases on one line (flags that
// share a usage text are aliases), llama.cpp style: -c, --ctx-size.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	type group struct {
		names []string
		f     *flag.Flag
	}
	var groups []*group
	byUsage := map[string]*group{}
	fs.VisitAll(func(f *flag.Flag) {
		if g, ok := byUsage[f.Usage]; ok {
			g.names = append(g.names, f.Name)
			return
		}
		g := &group{names: []string{f.Name}, f: f}
		byUsage[f.Usage] = g
		groups = append(groups, g)
	})
	for _, g := range groups {
		sort.Slice(g.names, func(i, j int) bool { return len(g.names[i]) < len(g.names[j]) })
		for i, n := range g.names {
			if shortFlags[n] {
				g.names[i] = "-" + n
			} else {
				g.names[i] = "--" + n
			}
		}
		typ, usage := flag.UnquoteUsage(g.f)
		if typ != "" {
			typ = " " + typ
		}
		fmt.Fprintf(w, "  %s%s\n    \t%s", strings.Join(g.names, ", "), typ, usage)
		if d := g.f.DefValue; d != "" && d != "false" && d != "0" && d != "[]" {
			fmt.Fprintf(w, " (default %q)", d)
		}
		fmt.Fprintln(w)
	}
}

// shellJoin quotes the arguments that a POSIX shell would interpret, so the
// printed command line can be pasted.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n\\|&;()<>$`'\"*?[]#~!{}") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
