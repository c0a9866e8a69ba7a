package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/units"
	"github.com/modelfit/modelfit/ollama"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/probe"
)

func init() {
	commands["plan"] = command{run: runPlan, summary: "the dry run (default): how MODEL should be placed, and why"}
	defaultCommand = "plan"
}

// planFlags are the flags of the dry run, shared with `plan run` (and any
// command that plans). Names follow llama.cpp's, and so do the values: a
// flag given is pinned, read as llama.cpp reads it.
type planFlags struct {
	set                                   *flagSet
	ctx, batch, ubatch, parallel, threads int
	minCtx, cores                         int
	ngl, fa, ctk, ctv, ts, runtime        string
	noMmap, mmap, mlock, noRepack, nkvo   bool
	noShrink, noQuantKV                   bool
	overrides, gpus                       multiFlag
	ram, probePath, hostMargin, gpuMargin string
	gpuOverhead, hostBW, diskBW, loadMode string
	cpuFeatures                           string
	minTokS                               float64
	timeout                               time.Duration
	profile, unified                      string
	wiredLimitMB                          uint64
	// builtinEngine is set by `plan run`: the pure-Go engine has no
	// quantized KV cache, so the planner must not choose one to fit.
	builtinEngine bool
	// llamaServer is set by the commands that start llama-server: it
	// reserves one logits row per slot, not one per ubatch token
	// (n_outputs_max, tools/server/server-context.cpp, PR 23861), so its
	// compute buffer is smaller than llama-cli's.
	llamaServer bool
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

// addPlanFlags defines the plan flags on s.
func addPlanFlags(s *flagSet) *planFlags {
	p := &planFlags{set: s}
	s.intVar(&p.ctx, 0, groupModel, "N", "context in tokens; 0: the training context (default: it, <= 4096)", "-c", "--ctx-size")
	s.intVar(&p.batch, 0, groupModel, "N", "logical batch, capped at the context (default 2048)", "-b", "--batch-size")
	s.intVar(&p.ubatch, 0, groupModel, "N", "physical batch, capped at the batch; 0: the batch (default 512)", "-ub", "--ubatch-size")
	s.intVar(&p.parallel, 0, groupModel, "N", "sequences sharing the context (default 1)", "-np", "--parallel")
	s.intVar(&p.threads, 0, groupModel, "N", "CPU threads; <= 0: all logical CPUs (default: physical cores)", "-t", "--threads")
	s.stringVar(&p.ngl, "auto", groupModel, "N|auto|all", "layers on GPUs; -1: auto, <= -2: all", "-ngl", "--gpu-layers", "--n-gpu-layers")
	s.stringVar(&p.fa, "auto", groupModel, "on|off|auto", "flash attention", "-fa", "--flash-attn")
	s.stringVar(&p.ctk, "", groupModel, "TYPE", "K cache: f16, bf16, f32, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1", "-ctk", "--cache-type-k")
	s.stringVar(&p.ctv, "", groupModel, "TYPE", "V cache type (quantized only with flash attention)", "-ctv", "--cache-type-v")
	s.stringVar(&p.ts, "", groupModel, "N0,N1,...", "share of the offloaded layers per GPU, e.g. 3,1", "-ts", "--tensor-split")
	s.add(&p.overrides, groupModel, "REGEX=DEV", "tensors matching REGEX on DEV, e.g. exps=CPU (repeatable)", "-ot", "--override-tensor")
	s.boolVar(&p.nkvo, groupModel, "keep the KV cache on the host", "-nkvo", "--no-kv-offload")
	s.stringVar(&p.runtime, "", groupModel, "RT", "llama.cpp (default), llama.cpp-b6529, ollama, ollama-engine", "--runtime")

	s.boolVar(&p.noMmap, groupMemory, "read the weights into memory instead of mapping the file", "--no-mmap")
	s.boolVar(&p.mmap, groupMemory, "map the file (pins mmap on)", "--mmap")
	s.boolVar(&p.mlock, groupMemory, "lock the weights in RAM", "--mlock")
	s.stringVar(&p.loadMode, "", groupMemory, "MODE", "newer llama.cpp's none (--no-mmap), mmap or mlock", "--load-mode")
	s.boolVar(&p.noRepack, groupMemory, "do not repack CPU weights into a CPU_REPACK copy", "--no-repack")
	s.boolVar(&p.noShrink, groupMemory, "never shrink the context to make the model fit", "--no-shrink")
	s.boolVar(&p.noQuantKV, groupMemory, "never quantize the KV cache to make the model fit", "--no-quant-kv")
	s.intVar(&p.minCtx, 0, groupMemory, "N", "smallest context the planner may shrink to (default 2048)", "--min-ctx")
	s.stringVar(&p.hostMargin, "", groupMemory, "SIZE", "host memory to keep free (default 1GiB)", "--host-margin")
	s.stringVar(&p.gpuMargin, "", groupMemory, "SIZE", "memory to keep free on each GPU (default 1GiB)", "--gpu-margin")
	s.stringVar(&p.gpuOverhead, "", groupMemory, "SIZE", "runtime overhead per GPU (default 512MiB)", "--gpu-overhead")

	s.stringVar(&p.ram, "", groupMachine, "SIZE", "plan for an assumed machine with this RAM, e.g. 200GiB", "--ram")
	s.add(&p.gpus, groupMachine, "[NAME=]SIZE[@FREE][:BW]", "assumed GPU, e.g. H100=80GiB:3350GB/s (repeatable)", "--gpu")
	s.intVar(&p.cores, 0, groupMachine, "N", "physical cores of the assumed machine (default 8)", "--cores")
	s.stringVar(&p.cpuFeatures, "", groupMachine, "LIST", "CPU features of the assumed machine, e.g. avx2,avx512f", "--cpu-features")
	s.stringVar(&p.hostBW, "", groupMachine, "RATE", "measured host memory bandwidth, e.g. 34GB/s", "--host-bw")
	s.stringVar(&p.diskBW, "", groupMachine, "RATE", "measured read speed of the model's disk, e.g. 1.7GB/s", "--disk-bw")
	s.stringVar(&p.unified, "", groupMachine, "[CHIP=]SIZE[:BW]", "an assumed Apple Silicon Mac, e.g. \"M2 Ultra=192GiB\" (no --ram)", "--unified")
	s.add((*uint64Value)(&p.wiredLimitMB), groupMachine, "MB", "with --unified: sysctl iogpu.wired_limit_mb (default: macOS's 2/3 or 3/4 of RAM)", "--wired-limit-mb")
	s.stringVar(&p.profile, "", groupMachine, "FILE", "speed profile from plan calibrate (default: the stored one, this machine only)", "--profile")
	s.stringVar(&p.probePath, "", groupMachine, "FILE", "the machine from a snapshot (plan probe --json)", "--probe")

	p.cluster.add(s)

	s.floatVar(&p.minTokS, 0, groupOutput, "X", "exit 3 when the predicted decode speed is below X tok/s", "--min-tok-s")
	s.durationVar(&p.timeout, gguf.DefaultRemoteTimeout, groupNetwork, "bound on fetching a URL's header (and on each phase)", "--timeout")
	return p
}

// usageError is a bad flag value or argument: exit 2.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// request turns the flags into a planner request with llama.cpp's reading
// of each value; a value llama.cpp refuses, or that cannot be right, is a
// usage error.
func (p *planFlags) request() (planner.Request, error) {
	given := p.set.given
	var r planner.Request
	s := &r.Settings
	if given("c") {
		if p.ctx < 0 || p.ctx > planner.MaxContext {
			return r, usagef("-c %d: want 0 (the training context) or a context of up to %d tokens", p.ctx, planner.MaxContext)
		}
		s.NCtx, r.Pinned.NCtx = p.ctx, true
	}
	if given("b") {
		if p.batch <= 0 || p.batch > planner.MaxContext {
			return r, usagef("-b %d: want a logical batch of 1 to %d tokens", p.batch, planner.MaxContext)
		}
		s.NBatch, r.Pinned.NBatch = p.batch, true
	}
	if given("ub") {
		if p.ubatch < 0 || p.ubatch > planner.MaxContext {
			return r, usagef("-ub %d: want 0 (the batch) or a physical batch of up to %d tokens", p.ubatch, planner.MaxContext)
		}
		s.NUbatch, r.Pinned.NUbatch = p.ubatch, true
	}
	if given("np") {
		if p.parallel <= 0 || p.parallel > planner.MaxParallel {
			return r, usagef("-np %d: want 1 to %d sequences (llama-server's -1, auto, is 4 sequences sharing the cache: give -np 4)", p.parallel, planner.MaxParallel)
		}
		s.NParallel, r.Pinned.NParallel = p.parallel, true
	}
	if given("t") {
		if p.threads > planner.MaxThreads {
			return r, usagef("-t %d: want at most %d threads", p.threads, planner.MaxThreads)
		}
		s.Threads, r.Pinned.Threads = max(p.threads, 0), true // <= 0: every logical CPU, as llama.cpp
	}
	switch v := strings.ToLower(strings.TrimSpace(p.ngl)); v {
	case "auto", "":
	case "all":
		s.NGPULayers, r.Pinned.NGPULayers = planner.MaxGPULayers, true
	default:
		n, err := strconv.ParseInt(v, 10, 64)
		switch {
		case err != nil && !errors.Is(err, strconv.ErrRange):
			return r, usagef("-ngl %q: want a number, auto or all", p.ngl)
		case n == -1: // common/arg.cpp: -1 is auto
		case n <= -2: // and <= -2 all
			s.NGPULayers, r.Pinned.NGPULayers = planner.MaxGPULayers, true
		default:
			s.NGPULayers, r.Pinned.NGPULayers = int(min(n, planner.MaxGPULayers)), true
		}
	}
	switch strings.ToLower(p.fa) { // common/arg.cpp is_truthy, is_falsey, is_autoy
	case "auto", "-1", "":
	case "on", "1", "true", "enabled":
		s.FlashAttn, r.Pinned.FlashAttn = true, true
	case "off", "0", "false", "disabled":
		s.FlashAttn, r.Pinned.FlashAttn = false, true
	default:
		return r, usagef("-fa %q: want on, off or auto", p.fa)
	}
	for _, kv := range []struct {
		flag, v string
		dst     *string
		pin     *bool
	}{{"-ctk", p.ctk, &s.CacheTypeK, &r.Pinned.CacheTypeK}, {"-ctv", p.ctv, &s.CacheTypeV, &r.Pinned.CacheTypeV}} {
		if kv.v == "" {
			continue
		}
		t, ok := gguf.ParseType(kv.v)
		if !ok || !kvCacheType(t) {
			return r, usagef("%s %q: want f16, bf16, f32, q8_0, q4_0, q4_1, iq4_nl, q5_0 or q5_1", kv.flag, kv.v)
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
		return r, usagef("--load-mode dio: direct I/O takes the same memory as none; plan with --load-mode none")
	default:
		return r, usagef("--load-mode %q: want none, mmap or mlock", p.loadMode)
	}
	if vt, _ := gguf.ParseType(s.CacheTypeV); vt.BlockSize() > 1 && r.Pinned.FlashAttn && !s.FlashAttn {
		return r, usagef("-ctv %s with -fa off: llama.cpp quantizes the V cache only with flash attention", s.CacheTypeV)
	}
	if p.noMmap && p.mmap {
		return r, usagef("--mmap and --no-mmap contradict each other")
	}
	if p.noMmap || p.mmap {
		s.MMap, r.Pinned.MMap = p.mmap, true
	}
	s.MLock, r.Pinned.MLock = p.mlock, p.mlock
	s.NoRepack, r.Pinned.NoRepack = p.noRepack, p.noRepack
	s.NoKVOffload = p.nkvo
	if p.ts != "" {
		// common/arg.cpp splits on , and /.
		parts := strings.FieldsFunc(p.ts, func(r rune) bool { return r == ',' || r == '/' })
		if len(parts) == 0 || len(parts) > planner.MaxTensorSplit {
			return r, usagef("-ts %q: want 1 to %d proportions such as 3,1", p.ts, planner.MaxTensorSplit)
		}
		for _, part := range parts {
			v, err := strconv.ParseFloat(strings.TrimSpace(part), 64)
			if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
				return r, usagef("-ts %q: want proportions such as 3,1", p.ts)
			}
			s.TensorSplit = append(s.TensorSplit, v)
		}
		r.Pinned.TensorSplit = true
	}
	for _, o := range p.overrides {
		pat, dev, ok := strings.Cut(o, "=")
		if !ok || pat == "" || dev == "" {
			return r, usagef("-ot %q: want REGEX=DEVICE, e.g. exps=CPU", o)
		}
		if _, err := regexp.Compile(pat); err != nil {
			return r, usagef("-ot %q: the pattern is not a regular expression: %v", o, err)
		}
		s.Overrides = append(s.Overrides, planner.Override{Pattern: pat, Device: dev})
		r.Pinned.Overrides = true
	}
	rt, err := planner.ParseRuntime(p.runtime)
	if err != nil {
		return r, usagef("--runtime %q: want llama.cpp, llama.cpp-b6529, ollama or ollama-engine", p.runtime)
	}
	r.Runtime = rt
	r.OllamaEnv = planner.OllamaEnvFrom(getenv)
	r.OllamaEnv.OS = runtime.GOOS
	if p.diskBW != "" {
		v, err := probe.ParseSize(strings.TrimSuffix(p.diskBW, "/s"))
		if err != nil || v == 0 {
			return r, usagef("--disk-bw %q: want bytes per second such as 1.7GB/s", p.diskBW)
		}
		r.DiskBandwidth = float64(v)
	}
	if given("min-ctx") && (p.minCtx <= 0 || p.minCtx > planner.MaxContext) {
		return r, usagef("--min-ctx %d: want 1 to %d tokens", p.minCtx, planner.MaxContext)
	}
	if p.minTokS < 0 || math.IsNaN(p.minTokS) || math.IsInf(p.minTokS, 0) {
		return r, usagef("--min-tok-s %v: want a speed of 0 or more tokens per second", p.minTokS)
	}
	r.MinCtx = p.minCtx
	r.AllowShrinkContext = !p.noShrink
	r.AllowQuantizedKV = !p.noQuantKV && !p.builtinEngine
	// The built-in engine streams what does not fit in memory (exec/stream.go).
	r.Settings.StreamWeights = p.builtinEngine
	if p.llamaServer {
		r.Settings.NOutputsMax = max(p.parallel, 1)
	}
	for _, m := range []struct {
		flag, v string
		dst     *uint64
	}{{"--host-margin", p.hostMargin, &r.HostMarginBytes}, {"--gpu-margin", p.gpuMargin, &r.GPUMarginBytes}, {"--gpu-overhead", p.gpuOverhead, &r.GPUOverheadBytes}} {
		if m.v == "" {
			continue
		}
		v, err := probe.ParseSize(m.v)
		if err != nil {
			return r, usagef("%s %q: want a size such as 1GiB or 512MiB", m.flag, m.v)
		}
		*m.dst = v
	}
	hosts, err := p.cluster.parse(p)
	r.Hosts = hosts
	return r, err
}

// kvCacheType reports whether llama.cpp takes t for the KV cache
// (common/arg.cpp kv_cache_types).
func kvCacheType(t gguf.Type) bool {
	switch t {
	case gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ4_1, gguf.TypeIQ4_NL, gguf.TypeQ5_0, gguf.TypeQ5_1:
		return true
	}
	return false
}

// machine returns the snapshot to plan for: an assumed machine (--ram,
// --gpu), a snapshot file (--probe), or this machine probed now.
func (p *planFlags) machine(ctx context.Context, files []string) (*probe.Snapshot, error) {
	var bw uint64
	if p.hostBW != "" {
		var err error
		if bw, err = probe.ParseSize(strings.TrimSuffix(p.hostBW, "/s")); err != nil || bw == 0 {
			return nil, usagef("--host-bw %q: want bytes per second such as 34GB/s", p.hostBW)
		}
	}
	snap, err := p.snapshot(ctx, files)
	if err != nil || bw == 0 {
		return snap, err
	}
	snap.CPU.MemoryBandwidth = float64(bw)
	return snap, nil
}

func (p *planFlags) snapshot(ctx context.Context, files []string) (*probe.Snapshot, error) {
	switch {
	case p.unified != "":
		if p.ram != "" || len(p.gpus) > 0 || p.probePath != "" {
			return nil, usagef("--unified describes the whole machine: give it without --ram, --gpu or --probe")
		}
		ram, gpu, err := probe.ParseUnified(p.unified, p.wiredLimitMB)
		if err != nil {
			return nil, usageError{err}
		}
		if p.cores < 0 || p.cores > planner.MaxThreads {
			return nil, usagef("--cores %d: want 1 to %d", p.cores, planner.MaxThreads)
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
	case p.ram != "" || len(p.gpus) > 0 || p.set.given("cores", "cpu-features"):
		if p.ram == "" {
			return nil, usagef("--gpu, --cores and --cpu-features describe an assumed machine: give its --ram too")
		}
		if p.probePath != "" {
			return nil, usagef("--probe and --ram both describe the machine: give one")
		}
		ram, err := probe.ParseSize(p.ram)
		if err != nil || ram == 0 {
			return nil, usagef("--ram %q: want a size such as 64GiB", p.ram)
		}
		if p.cores < 0 || p.cores > planner.MaxThreads {
			return nil, usagef("--cores %d: want 1 to %d", p.cores, planner.MaxThreads)
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
				return nil, usagef("--gpu %q: %v", g, err)
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

// plan opens the model and plans it. A request the planner refuses is a
// usage error.
func (p *planFlags) plan(ctx context.Context, model string, stderr io.Writer) (*gguf.File, *planner.Plan, error) {
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
	f, err := OpenModel(ctx, path, p.timeout, stderr)
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
		if errors.Is(err, planner.ErrInvalidRequest) || errors.Is(err, planner.ErrOllamaCannot) {
			err = usageError{err}
		}
		return nil, nil, err
	}
	return f, pl, err
}

// slow says why a plan that runs is below --min-tok-s ("" when it is not).
func (p *planFlags) slow(pl *planner.Plan) string {
	if p.minTokS <= 0 || !pl.Fits || pl.Predicted.DecodeTokensPerSecond >= p.minTokS {
		return ""
	}
	return fmt.Sprintf("predicted decode %s tok/s is below --min-tok-s %s", units.Number(pl.Predicted.DecodeTokensPerSecond), strconv.FormatFloat(p.minTokS, 'f', -1, 64))
}

// planHelp is what the dry run does, for `plan -h`.
const planHelp = `Plans how the model should run on this machine (or the one --ram/--gpu/--probe describe)
without loading it: placement, memory on every device, predicted speed, a reason for every
choice, and the llama.cpp arguments. Verdicts: fits in memory; runs paging weights from disk
(with the disk's share of every token and the predicted speed); does not fit.
Exit status: 0 runs, 3 does not fit (or is below --min-tok-s), 2 usage, 1 other errors.`

func runPlan(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	set := newFlagSet("plan", planHelp, "plan [flags] MODEL.gguf|URL|OLLAMA-NAME", "plan COMMAND [flags] ...  (plan COMMAND -h for its flags)")
	set.extra = printCommands
	pf := addPlanFlags(set)
	var asJSON, printArgs, withOllama, sweep bool
	var argsStyle string
	set.boolVar(&asJSON, groupOutput, "print the versioned JSON plan", "--json")
	set.boolVar(&printArgs, groupOutput, "print only the llama.cpp arguments", "--print-args")
	set.stringVar(&argsStyle, "", groupOutput, "STYLE", "loading spelled classic (--no-mmap, --mlock) or load-mode", "--args-style")
	set.boolVar(&withOllama, groupOutput, "also what Ollama v0.17.4 would do, and a plan for Ollama", "--ollama")
	set.boolVar(&sweep, groupOutput, "also print n_gpu_layers (n_cpu_moe) against memory and speed", "--sweep")
	if code, ok := set.parse(args, stdout, stderr); !ok {
		return code
	}
	switch set.fs.NArg() {
	case 0:
		return set.usageError(stderr, "no model given: plan MODEL.gguf or a URL")
	case 1:
	default:
		return set.usageError(stderr, "one model at a time, got %d: %s", set.fs.NArg(), strings.Join(set.fs.Args(), " "))
	}
	style := planner.ArgsClassic
	switch argsStyle {
	case "load-mode":
		style = planner.ArgsLoadMode
	case "":
		if pf.loadMode != "" {
			style = planner.ArgsLoadMode
		}
	case "classic":
	default:
		return set.usageError(stderr, "--args-style %q: want classic or load-mode", argsStyle)
	}
	f, pl, code := pf.planOrReport(ctx, set, set.fs.Arg(0), stderr)
	if pl == nil {
		return code
	}
	defer f.Close()
	pl.LlamaArgs = pl.LlamaCppArgs(style)
	var report *ollamaReport
	var err error
	if withOllama || pl.Runtime.IsOllama() {
		if report, err = pf.ollamaReport(ctx, f, pl); err != nil {
			fmt.Fprintln(stderr, "plan:", err)
			return ExitError
		}
	}
	var rows []planner.SweepRow
	if sweep && len(pl.Devices) > 1 && len(pl.Hosts) == 0 {
		if rows, err = planner.Sweep(ctx, f, pf.snap, pf.req, 12); err != nil {
			fmt.Fprintln(stderr, "plan:", err)
			return ExitError
		}
	}
	switch {
	case printArgs:
		fmt.Fprintln(stdout, strings.Join(pl.LlamaArgs, " "))
	case asJSON:
		// The sweep rides along as an extra key of the same schema.
		doc := struct {
			*planner.Plan
			Sweep  []planner.SweepRow `json:"sweep,omitempty"`
			Ollama *ollamaReport      `json:"ollama,omitempty"`
		}{pl, rows, report}
		if err := writeJSON(stdout, doc); err != nil {
			fmt.Fprintln(stderr, "plan:", err)
			return ExitError
		}
	default:
		if pf.ollamaModel != nil {
			h := ollamaHeader(pf.ollamaModel, pf.ollamaParams)
			(&wrapper{w: stdout, width: textWidth}).para("ollama    ", "          ", strings.TrimPrefix(h, "ollama    "))
		}
		printPlan(stdout, pl)
		if report != nil {
			printOllamaReport(stdout, report)
		}
		switch {
		case sweep && len(pl.Hosts) > 0:
			fmt.Fprintln(stdout, "\nsweep: not available for a plan over several hosts")
		case sweep && len(pl.Devices) == 1:
			fmt.Fprintln(stdout, "\nsweep: no GPU to offload to")
		case sweep:
			printSweep(stdout, pl, rows)
		}
	}
	if !pl.Fits {
		return ExitNoFit
	}
	if why := pf.slow(pl); why != "" {
		fmt.Fprintln(stderr, "plan:", why)
		return ExitNoFit
	}
	return ExitOK
}

// planOrReport plans model with the flags given. When there is no plan it
// has said why the command's way (a usage error exits 2, anything else 1)
// and returns the exit status.
func (p *planFlags) planOrReport(ctx context.Context, set *flagSet, model string, stderr io.Writer) (*gguf.File, *planner.Plan, int) {
	f, pl, err := p.plan(ctx, model, stderr)
	var ue usageError
	switch {
	case errors.As(err, &ue):
		return nil, nil, set.usageError(stderr, "%v", err)
	case pl == nil:
		fmt.Fprintf(stderr, "%s: %v\n", set.cmd, err)
		return nil, nil, ExitError
	}
	return f, pl, 0
}

// localOnly refuses, as a usage error, a plan over several hosts in a
// command that runs the plan on this machine (plan cluster runs those).
func localOnly(set *flagSet, pl *planner.Plan, stderr io.Writer) (int, bool) {
	if len(pl.Hosts) > 0 {
		return set.usageError(stderr, "runs a plan on this machine only; run a plan over hosts with plan cluster or the printed commands"), false
	}
	return 0, true
}
