package planner

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/probe"
)

// SchemaVersion identifies the JSON layout of a Plan.
const SchemaVersion = "plan/v1"

// Default safety margins: what must stay free on each device after the plan
// (llama.cpp's --fit keeps 1024 MiB free per device by default).
const (
	DefaultHostMargin = 1 << 30
	DefaultGPUMargin  = 1 << 30
)

// Pins names the settings the user fixed: the planner never changes them.
type Pins struct {
	NCtx, NBatch, NUbatch, NParallel, NGPULayers, FlashAttn bool
	CacheTypeK, CacheTypeV, MMap, MLock, Threads, NoRepack  bool
	TensorSplit, Overrides                                  bool
}

// Request is what the caller wants; Settings holds the pinned values (and
// starting points for the rest).
type Request struct {
	Settings Settings
	Pinned   Pins
	// MinCtx is the smallest context acceptable when the context may shrink;
	// 0 means 2048 (or the wanted context if smaller).
	MinCtx             int
	AllowShrinkContext bool
	AllowQuantizedKV   bool
	HostMarginBytes    uint64 // 0 = DefaultHostMargin
	GPUMarginBytes     uint64 // 0 = DefaultGPUMargin
	Runtime            Runtime
	GPUOverheadBytes   uint64  // 0 = DefaultGPUOverhead
	DiskBandwidth      float64 // bytes/s for reading the model; 0 = from the filesystem
	// ModelPath is shown in the plan and the llama.cpp arguments.
	ModelPath string
}

// Plan is the placement a llama.cpp-family runtime should use, the memory it
// takes on every device, predictions, and the reason for every choice.
//
// Its JSON (schema "plan/v1", SchemaVersion) is stable: fields may be added,
// none renamed or removed without a new schema version. Sizes are bytes,
// speeds tokens per second, times seconds. Devices lists "CPU" first, then
// the GPUs as CUDA0, CUDA1, … (ROCm0, … for AMD). For the CPU, weights_bytes
// counts every host-placed weight, mapped or read; anon_weights_bytes is the
// part in anonymous memory and total_bytes what must be allocated, while
// resident_working_set_bytes is the page cache the mapped weights want on top
// of it. available_bytes is what the device has for the plan and
// free_after_bytes is available minus total (the margin is kept out of it by
// the search, not by this figure).
type Plan struct {
	Schema    string       `json:"schema"`
	Fits      bool         `json:"fits"`
	Model     ModelInfo    `json:"model"`
	Runtime   Runtime      `json:"runtime"`
	Settings  Settings     `json:"settings"`
	Devices   []PlanDevice `json:"devices"`
	Predicted Prediction   `json:"predicted"`
	Reasons   []Reason     `json:"reasons"`
	Warnings  []string     `json:"warnings"`
	LlamaArgs []string     `json:"llama_args"`
	// NoFit says why, when Fits is false.
	NoFit *NoFitError `json:"no_fit,omitempty"`

	breakdown *Breakdown
}

// ModelInfo describes the planned model.
type ModelInfo struct {
	Path         string `json:"path"`
	Name         string `json:"name,omitempty"`
	Architecture string `json:"architecture"`
	Layers       int    `json:"layers"`
	TensorBytes  uint64 `json:"tensor_bytes"`
	FileBytes    uint64 `json:"file_bytes"`
	Experts      uint64 `json:"experts,omitempty"`
	DataPresent  bool   `json:"data_present"`
}

// PlanDevice is one device's planned memory next to what it has.
type PlanDevice struct {
	DeviceMemory
	AvailableBytes uint64 `json:"available_bytes"`
	MarginBytes    uint64 `json:"margin_bytes"`
	FreeAfterBytes int64  `json:"free_after_bytes"` // available − total (negative: does not fit)
}

// Reason is one entry of the why-trail.
type Reason struct {
	Setting string `json:"setting"`
	Choice  string `json:"choice"`
	Why     string `json:"why"`
}

// Breakdown returns the memory model behind the plan.
func (p *Plan) Breakdown() *Breakdown { return p.breakdown }

func (p *Plan) why(setting, choice, format string, args ...any) {
	p.Reasons = append(p.Reasons, Reason{setting, choice, fmt.Sprintf(format, args...)})
}

// assumedFeatures are the CPU features of a machine whose CPU is unknown.
// They include AVX-512, on which current llama.cpp repacks the most weight
// types (the worst case for memory); speed is predicted for AVX2 only.
var assumedFeatures = []string{"avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl"}

// machine is the part of a snapshot the search uses.
type machine struct {
	hostAvail uint64
	gpus      []probe.GPU
	env       Env
	snap      *probe.Snapshot
	// tied: the model has no output.weight and projects logits with the
	// token embedding, which decode then reads whole every token.
	tied bool
	// Weight bytes per repeating layer, of its MoE experts, and of the
	// output layer: for first guesses in the searches.
	layerBytes, expertBytes []uint64
	outputBytes             uint64
	// dataPresent: the files hold the tensor data, so their page-cache
	// residency is the model's.
	dataPresent bool
	// assumedCPU: the CPU's features are unknown (see assumedFeatures).
	assumedCPU bool
	// memo holds the attempts already evaluated, by settings.
	memo map[string]*attempt
}

// Make plans file f on the machine in snap. It returns the plan, and when
// nothing fits also a *NoFitError (the plan then holds the nearest
// configuration, with Fits false). It does no I/O: everything it knows about
// the machine and the files is in snap.
func Make(ctx context.Context, f *gguf.File, snap *probe.Snapshot, req Request) (*Plan, error) {
	if snap == nil {
		return nil, fmt.Errorf("planner: no machine snapshot")
	}
	m := newModel(f)
	if m.nLayer <= 0 {
		return nil, fmt.Errorf("planner: %s: architecture %q has no block_count", req.ModelPath, m.h.Architecture)
	}
	mc, assumedCPU := newMachine(f, m, snap, req)
	p := &Plan{Schema: SchemaVersion, Runtime: mc.env.Runtime, Warnings: []string{}}
	p.Model = ModelInfo{Path: req.ModelPath, Name: f.Metadata.String("general.name"), Architecture: m.h.Architecture,
		Layers: m.nLayer, TensorBytes: uint64(f.TensorBytes()), Experts: m.h.ExpertCount, DataPresent: f.DataPresent()}
	for _, part := range f.Parts {
		p.Model.FileBytes += uint64(max(part.Size, part.DataEnd))
	}
	if assumedCPU {
		why := "the machine's CPU features are unknown: memory is planned for an x86-64 server CPU with AVX-512, on which current llama.cpp copies the most weight types (Q4_0, Q4_K, Q2_K, IQ4_NL, MXFP4) into a CPU_REPACK buffer, and speed for one with AVX2 only; give --cpu-features for another CPU"
		if mc.env.Runtime == RuntimeOllama {
			why = "the machine's CPU features are unknown: speed is predicted for an x86-64 CPU with AVX2; give --cpu-features for another CPU"
		}
		p.why("cpu", "x86-64 (assumed)", "%s", why)
	}
	s := initialSettings(m, mc, req, p)

	fit, wanted, least, err := search(ctx, m, mc, s, req)
	if err != nil {
		return nil, err
	}
	last := wanted
	if fit != nil {
		last = fit
		explainFallback(p, s, fit.s)
	}
	finish(p, m, mc, last, least, req)
	if !p.Fits {
		return p, p.NoFit
	}
	return p, nil
}

// newMachine gathers what the search needs from the snapshot and the
// model's layout; assumedCPU says the CPU's features were unknown.
func newMachine(f *gguf.File, m *model, snap *probe.Snapshot, req Request) (mc *machine, assumedCPU bool) {
	mc = &machine{hostAvail: snap.Memory.EffectiveAvailableBytes, gpus: snap.GPUs, snap: snap, tied: true, memo: map[string]*attempt{}, dataPresent: f.DataPresent()}
	mc.layerBytes, mc.expertBytes = make([]uint64, m.nLayer), make([]uint64, m.nLayer)
	for i := range m.tensors {
		t := &m.tensors[i]
		switch {
		case t.name == "output.weight":
			mc.tied = false
			mc.outputBytes += t.size
		case t.out:
			mc.outputBytes += t.size
		case t.layer >= 0:
			mc.layerBytes[t.layer] += t.size
			if t.exps {
				mc.expertBytes[t.layer] += t.size
			}
		}
	}
	mc.env = Env{CPUFeatures: snap.CPU.Features, CPUArch: snap.CPU.Arch, Runtime: orRuntime(req.Runtime), GPUOverheadBytes: req.GPUOverheadBytes}
	assumedCPU = len(snap.CPU.Features) == 0 && (snap.CPU.Arch == "" || snap.CPU.Arch == "amd64")
	if assumedCPU {
		// An assumed machine says nothing about its CPU: plan for a common
		// x86-64 server (AVX2), on which current llama.cpp repacks some
		// weight types into anonymous memory. Planning for a CPU that
		// repacks keeps the plan valid on one that does not.
		mc.env.CPUFeatures, mc.env.CPUArch = assumedFeatures, "amd64"
		mc.assumedCPU = true
	}
	for i, g := range snap.GPUs {
		mc.env.GPUs = append(mc.env.GPUs, gpuName(g, i))
		mc.env.GPUFree = append(mc.env.GPUFree, g.FreeBytes)
	}
	return mc, assumedCPU
}

func orRuntime(r Runtime) Runtime {
	if r == "" {
		return RuntimeLlamaCpp
	}
	return r
}

func gpuName(g probe.GPU, i int) string {
	if g.Vendor == "amd" {
		return fmt.Sprintf("ROCm%d", i)
	}
	return fmt.Sprintf("CUDA%d", i)
}

// initialSettings fills what the user did not pin with llama-server's
// defaults adapted to the machine, and explains each.
func initialSettings(m *model, mc *machine, req Request, p *Plan) Settings {
	s := req.Settings
	d := DefaultSettings()
	pin := req.Pinned
	if !pin.NCtx || s.NCtx <= 0 {
		want := s.NCtx
		if want <= 0 {
			want = int(min(max(m.h.ContextLength, 256), 4096))
			p.why("n_ctx", fmt.Sprint(want), "not given: llama-server's default (the training context %d) capped at 4096 to leave memory for the weights; pass -c to ask for more", m.h.ContextLength)
		}
		s.NCtx = padTo(want, 256)
	} else {
		s.NCtx = padTo(s.NCtx, 256)
		p.why("n_ctx", fmt.Sprint(s.NCtx), "pinned by the user (rounded up to a multiple of 256, as llama.cpp pads it)")
	}
	if s.NBatch <= 0 {
		s.NBatch = d.NBatch
	}
	if s.NUbatch <= 0 {
		s.NUbatch = d.NUbatch
	}
	s.NUbatch = min(s.NUbatch, s.NBatch)
	if !pin.NBatch && !pin.NUbatch {
		p.why("n_batch", fmt.Sprintf("%d/%d", s.NBatch, s.NUbatch), "llama-server's defaults: a logical batch of %d tokens in physical batches (ubatch) of %d; the compute buffers grow with the ubatch, which is the first thing given up when memory is short", s.NBatch, s.NUbatch)
	}
	if s.NParallel <= 0 {
		s.NParallel = 1
	}
	if !pin.NParallel {
		p.why("n_parallel", fmt.Sprint(s.NParallel), "one sequence; with -np N the sequences share the n_ctx cells of one KV cache")
	}
	if s.CacheTypeK == "" {
		s.CacheTypeK = "f16"
	}
	if s.CacheTypeV == "" {
		s.CacheTypeV = "f16"
	}
	if !pin.CacheTypeK && !pin.CacheTypeV {
		p.why("cache_type", s.CacheTypeK, "llama.cpp's default KV cache type; quantized to q8_0, then q4_0, only when the wanted context does not fit otherwise")
	}
	vt, _ := gguf.ParseType(s.CacheTypeV)
	switch {
	case !pin.FlashAttn && vt.BlockSize() > 1:
		s.FlashAttn = true
		p.why("flash_attn", "on", "a quantized V cache needs flash attention")
	case !pin.FlashAttn:
		s.FlashAttn = true
		p.why("flash_attn", "on", "llama.cpp's auto setting turns it on where supported: it shrinks the attention compute buffer (no n_ctx×n_ubatch×heads score matrix) and allows a quantized V cache")
	}
	if !pin.Threads || s.Threads <= 0 {
		cores := mc.snap.CPU.PhysicalCores
		if u := int(mc.snap.CPU.UsableCores); u > 0 && u < cores {
			cores = u
		}
		s.Threads = max(cores, 1)
		p.why("threads", fmt.Sprint(s.Threads), "physical cores usable under the CPU quota (%d physical, %g usable): decode is memory-bound and hyperthreads only add contention", mc.snap.CPU.PhysicalCores, mc.snap.CPU.UsableCores)
	}
	if !pin.MMap {
		s.MMap = true // decided in place()
	}
	return s
}

func kvChoices(s Settings, req Request) []string {
	out := []string{s.CacheTypeK}
	if req.AllowQuantizedKV && !req.Pinned.CacheTypeK && !req.Pinned.CacheTypeV && s.CacheTypeK == "f16" && s.CacheTypeV == "f16" && (!req.Pinned.FlashAttn || s.FlashAttn) {
		out = append(out, "q8_0", "q4_0")
	}
	return out
}

// minContext is the smallest context the search may shrink to.
func minContext(s Settings, req Request) int {
	minCtx := req.MinCtx
	if minCtx <= 0 {
		minCtx = 2048
	}
	return padTo(min(minCtx, s.NCtx), 256)
}

// search tries the wanted settings, then the fallbacks the request allows,
// in the order that costs the user least: a smaller ubatch (slower prefill
// only), then the longest context that fits (a multiple of 256, not below
// the minimum), then a quantized KV cache (q8_0, then q4_0). It returns the
// first attempt that fits (nil when none does), the attempt at the wanted
// settings, and the attempt that came closest (the least memory short).
func search(ctx context.Context, m *model, mc *machine, s Settings, req Request) (fit, wanted, least *attempt, err error) {
	try := func(kv string, nctx, ub int) (*attempt, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t := s
		t.NUbatch, t.NCtx = ub, nctx
		t.NBatch = max(t.NBatch, t.NUbatch)
		if kv != s.CacheTypeK {
			t.CacheTypeK, t.CacheTypeV, t.FlashAttn = kv, kv, true
		}
		a, err := place(m, mc, t, req)
		if err == nil && !a.fits && (least == nil || shortfall(a) < shortfall(least)) {
			least = a
		}
		return a, err
	}
	ubs := ubChoices(s, req)
	for _, kv := range kvChoices(s, req) {
		for _, ub := range ubs {
			a, err := try(kv, s.NCtx, ub)
			if err != nil {
				return nil, nil, nil, err
			}
			if wanted == nil {
				wanted = a
			}
			if a.fits {
				return a, wanted, nil, nil
			}
		}
		if !req.AllowShrinkContext || req.Pinned.NCtx {
			continue
		}
		// Memory grows with the context: binary search the longest that
		// fits with the smallest ubatch, then the largest ubatch there.
		smallest := ubs[len(ubs)-1]
		var best *attempt
		lo, hi := minContext(s, req)/256, s.NCtx/256-1
		for lo <= hi {
			mid := (lo + hi) / 2
			a, err := try(kv, mid*256, smallest)
			if err != nil {
				return nil, nil, nil, err
			}
			if a.fits {
				best, lo = a, mid+1
			} else {
				hi = mid - 1
			}
		}
		if best == nil {
			continue
		}
		for _, ub := range ubs[:len(ubs)-1] {
			a, err := try(kv, best.s.NCtx, ub)
			if err != nil {
				return nil, nil, nil, err
			}
			if a.fits {
				return a, wanted, nil, nil
			}
		}
		return best, wanted, nil, nil
	}
	return nil, wanted, least, nil
}

func ubChoices(s Settings, req Request) []int {
	out := []int{s.NUbatch}
	if req.Pinned.NUbatch {
		return out
	}
	for _, u := range []int{256, 128} {
		if u < s.NUbatch {
			out = append(out, u)
		}
	}
	return out
}

func explainFallback(p *Plan, want, got Settings) {
	if got.NUbatch != want.NUbatch {
		p.why("n_ubatch", fmt.Sprint(got.NUbatch), "reduced from %d so that the compute buffers fit (prefill is slower, decode is not)", want.NUbatch)
	}
	if got.NCtx != want.NCtx {
		p.why("n_ctx", fmt.Sprint(got.NCtx), "reduced from %d: the KV cache of the wanted context does not fit", want.NCtx)
	}
	if got.CacheTypeK != want.CacheTypeK {
		p.why("cache_type", got.CacheTypeK, "K and V cache quantized from %s to fit the context (needs flash attention)", want.CacheTypeK)
	}
}

// attempt is one evaluated configuration.
type attempt struct {
	s       Settings
	b       *Breakdown
	fits    bool
	avail   []uint64 // per device: memory available for the plan
	margin  []uint64
	reasons []Reason
	warn    []string
	failDev int    // first device that does not fit, -1
	failWhy string // why, for NoFitError
}

func margins(mc *machine, req Request) (host, gpu uint64) {
	return orDefaultU(req.HostMarginBytes, DefaultHostMargin), orDefaultU(req.GPUMarginBytes, DefaultGPUMargin)
}

// check evaluates settings s: memory per device against what is available.
func check(m *model, mc *machine, s Settings, req Request) (a *attempt, err error) {
	// The searches revisit settings (the same n_gpu_layers with and without
	// MoE overrides, the winner again at the end): estimate each once.
	key := fmt.Sprint(s, req.HostMarginBytes, req.GPUMarginBytes)
	if a, ok := mc.memo[key]; ok {
		c := *a
		return &c, nil
	}
	b, err := m.estimate(s, mc.env)
	if err != nil {
		return nil, err
	}
	defer func() {
		if mc.memo != nil {
			c := *a
			mc.memo[key] = &c
		}
	}()
	hm, gm := margins(mc, req)
	a = &attempt{s: s, b: b, fits: true, failDev: -1}
	for d, dm := range b.Devices {
		avail, margin := mc.hostAvail, hm
		if d > 0 {
			avail, margin = mc.gpus[d-1].FreeBytes, gm
		}
		a.avail = append(a.avail, avail)
		a.margin = append(a.margin, margin)
		need := dm.TotalBytes
		if d == 0 && s.MLock {
			need += dm.ResidentBytes
		}
		if d == 0 {
			// A GPU with unified memory allocates from host RAM: the host
			// must hold its share too.
			for g, gpu := range mc.gpus {
				if gpu.UnifiedMemory {
					need += b.Devices[1+g].TotalBytes
				}
			}
		}
		if need+margin > avail && a.fits {
			a.fits, a.failDev = false, d
		}
	}
	return a, nil
}

// place decides n_gpu_layers (with the GPU split and MoE expert
// overrides), repacking and mmap for the fixed context settings in s.
func place(m *model, mc *machine, s Settings, req Request) (*attempt, error) {
	a, reasons, err := placeLayers(m, mc, s, req)
	if err != nil {
		return nil, err
	}
	add := func(setting, choice, format string, args ...any) {
		reasons = append(reasons, Reason{setting, choice, fmt.Sprintf(format, args...)})
	}
	// Repacking copies weights into anonymous memory: turn it off when the
	// copy is what breaks the fit, and place the layers again (the host
	// then has more room, which changes the predicted speeds).
	if !a.fits && a.failDev == 0 && a.b.Devices[0].RepackBytes > 0 && !req.Pinned.NoRepack {
		t := s
		t.NoRepack = true
		an, rn, err := placeLayers(m, mc, t, req)
		if err != nil {
			return nil, err
		}
		if an.fits {
			rb := a.b.Devices[0].RepackBytes
			a, reasons, s = an, rn, an.s
			add("no_repack", "on", "the CPU_REPACK copy of %s would not fit in host memory; without repacking llama.cpp computes on the mapped weights directly (somewhat slower prompt processing)", human(rb))
		}
	}
	// Repacking also takes RAM from the page cache the mapped weights need:
	// when the host then pages weights in from disk, keep whichever is
	// predicted faster.
	if cpu := a.b.Devices[0]; a.fits && a.s.MMap && cpu.RepackBytes > 0 && !a.s.NoRepack && !req.Pinned.NoRepack && pages(a) {
		t := a.s
		t.NoRepack = true
		an, rn, err := placeLayers(m, mc, t, req)
		if err != nil {
			return nil, err
		}
		if with, without := predict(m, mc, a, req).DecodeTokensPerSecond, predict(m, mc, an, req).DecodeTokensPerSecond; an.fits && without > with {
			a, reasons = an, rn
			add("no_repack", "on", "the CPU_REPACK copy of %s would take the RAM the mapped weights need and page more of them in from disk each token: %.3g tok/s without it against %.3g tok/s with it",
				human(cpu.RepackBytes), without, with)
		}
	}
	s = a.s
	// mmap: on unless the user pinned it. Without mmap every host weight is
	// anonymous memory, which is what breaks large models ("unable to
	// allocate CPU buffer"); with it the kernel pages weights in on demand.
	if !req.Pinned.MMap {
		noMap := s
		noMap.MMap = false
		an, err := check(m, mc, noMap, req)
		if err != nil {
			return nil, err
		}
		cpu := a.b.Devices[0]
		network := ""
		for _, fi := range mc.snap.Files {
			if isNetFS(fi.Filesystem) {
				network = fi.Filesystem
			}
		}
		// Every layer on the GPUs: the host keeps only the token embedding
		// (one row read per token).
		allOnGPU := len(mc.gpus) > 0 && s.NGPULayers >= m.nLayer+1 && len(s.Overrides) == 0
		switch {
		case allOnGPU && network != "" && an.fits:
			s.MMap, a = false, an
			add("mmap", "off", "every layer goes to the GPU(s) and the model is on a network filesystem (%s), where one sequential read beats page faults and leaves no page cache behind", network)
		case !an.fits && a.fits:
			add("mmap", "on", "host weights (%s) cannot all be allocated as anonymous memory next to the rest (without mmap the host would need %s, %s available); mapped, they are page cache the kernel can evict and page back in",
				human(cpu.WeightsBytes), human(an.b.Devices[0].TotalBytes+an.margin[0]), human(an.avail[0]))
		case residentFraction(mc) > 0.99:
			add("mmap", "on", "the file is already in the page cache: mapping it loads instantly and shares the pages")
		case allOnGPU:
			add("mmap", "on", "every layer goes to the GPU(s): the mapping is read once to upload them and keeps only the token embedding on the host (llama.cpp's default)")
		default:
			add("mmap", "on", "llama.cpp's default: host weights stay page cache (reclaimable, shared between processes) rather than anonymous memory")
		}
	}
	if s.MLock {
		cpu := a.b.Devices[0]
		if !a.fits && a.failDev == 0 {
			add("mlock", "on", "pinned by the user: %s of weights must be locked in RAM, which does not fit", human(cpu.ResidentBytes+cpu.AnonWeightsBytes))
		}
		if lim := mc.snap.Memory.MlockLimitBytes; lim != nil && *lim < cpu.ResidentBytes+cpu.AnonWeightsBytes {
			a.fits = false
			a.failDev = 0
			a.failWhy = fmt.Sprintf("--mlock needs %s locked but RLIMIT_MEMLOCK is %s (raise it with ulimit -l)", human(cpu.ResidentBytes+cpu.AnonWeightsBytes), human(*lim))
		}
	}
	a.s = s
	a.reasons = reasons
	return a, nil
}

// placeLayers decides n_gpu_layers, the split over several GPUs and, for
// MoE models, which layers' experts stay on the CPU.
func placeLayers(m *model, mc *machine, s Settings, req Request) (*attempt, []Reason, error) {
	var reasons []Reason
	add := func(setting, choice, format string, args ...any) {
		reasons = append(reasons, Reason{setting, choice, fmt.Sprintf(format, args...)})
	}
	nGPU := len(mc.gpus)
	_, gm := margins(mc, req)
	autoSplit := nGPU > 1 && !req.Pinned.TensorSplit && len(s.TensorSplit) == 0
	switch {
	case nGPU == 0:
		s.NGPULayers = 0
	case req.Pinned.NGPULayers:
		s.NGPULayers = min(max(s.NGPULayers, 0), m.nLayer+1)
		if autoSplit {
			s.TensorSplit = roomSplit(mc, req)
			add("tensor_split", fmtSplit(s.TensorSplit), "the pinned layers shared in proportion to each GPU's free memory after its runtime overhead and margin")
		}
	case autoSplit:
		counts, order, err := fillGPUs(m, mc, s, req)
		if err != nil {
			return nil, nil, err
		}
		total := 0
		for _, c := range counts {
			total += int(c)
		}
		s.NGPULayers = total
		if total > 0 {
			s.TensorSplit = counts
			var parts []string
			for _, g := range order {
				parts = append(parts, fmt.Sprintf("%s %.0f", gpuName(mc.gpus[g], g), counts[g]))
			}
			add("tensor_split", fmtSplit(counts), "layers per GPU (llama.cpp reads -ts counts as proportions): as many layers on the GPUs as they hold with a %s margin, the faster GPUs taking all they can (%s); a slower or smaller GPU only takes what the faster ones cannot", human(gm), strings.Join(parts, ", "))
		}
		explainNGL(add, s.NGPULayers, m.nLayer, gm)
	default:
		// The most layers that fit: memory per GPU grows with n_gpu_layers.
		// Guess from the layer sizes what has to leave the GPU when all of
		// them do not fit, then search around the guess.
		ok := func(n int) (bool, error) {
			t := s
			t.NGPULayers = n
			a, err := check(m, mc, t, req)
			return err == nil && gpusFit(a), err
		}
		all := m.nLayer + 1
		t := s
		t.NGPULayers = all
		a, err := check(m, mc, t, req)
		if err != nil {
			return nil, nil, err
		}
		guess := all
		if g := a.b.Devices[1]; !gpusFit(a) {
			over := int64(g.TotalBytes+a.margin[1]) - int64(a.avail[1])
			if !mc.env.Runtime.outputFirst() {
				over -= int64(mc.outputBytes) // the output leaves the GPU first
			}
			guess = m.nLayer
			kvPerLayer := int64(g.KVBytes) / int64(max(len(g.Layers), 1))
			for il := 0; il < m.nLayer && over > 0; il++ {
				over -= int64(mc.layerBytes[il]) + kvPerLayer
				guess--
			}
		}
		lo, err := maxTrue(0, all, guess, ok)
		if err != nil {
			return nil, nil, err
		}
		lo = max(lo, 0)
		s.NGPULayers = lo
		explainNGL(add, lo, m.nLayer, gm)
	}
	if nGPU > 0 && req.Pinned.NGPULayers && s.NGPULayers > 0 && m.expertsN > 0 && !req.Pinned.Overrides {
		// The pinned layers do not fit whole: keep them and move experts
		// to the CPU, as the user's -ngl asks (llama.cpp's --fit gives up
		// here, #27872).
		if a, err := check(m, mc, s, req); err != nil {
			return nil, nil, err
		} else if !gpusFit(a) {
			if t, ok, err := moeOffload(m, mc, s, req, autoSplit, s.NGPULayers); err != nil {
				return nil, nil, err
			} else if ok {
				k := m.expertK[t.Overrides[0].Pattern]
				add("overrides", t.Overrides[0].Pattern+"="+t.Overrides[0].Device,
					"MoE: the pinned %d layers do not fit the GPU(s) whole; with the experts of the first %d layers on the CPU (llama.cpp's --n-cpu-moe %d) they do", s.NGPULayers, k, k)
				s = t
			}
		}
	}
	if nGPU > 0 && !req.Pinned.NGPULayers && m.expertsN > 0 && s.NGPULayers <= m.nLayer && !req.Pinned.Overrides {
		if t, ok, err := moeOffload(m, mc, s, req, autoSplit, m.nLayer+1); err != nil {
			return nil, nil, err
		} else if ok {
			plain := predictDecode(m, mc, s, req)
			moe := predictDecode(m, mc, t, req)
			if moe > plain {
				reasons = reasons[:len(reasons)-1]
				if autoSplit {
					reasons = reasons[:len(reasons)-1]
					add("tensor_split", fmtSplit(t.TensorSplit), "layers per GPU, filled from the last GPU down with the layers that keep their experts, each GPU taking what it holds with the margin; the first GPU also takes the layers whose experts stay on the CPU")
				}
				add("n_gpu_layers", fmt.Sprint(t.NGPULayers), "every layer's attention and shared weights on the GPU(s); %d whole layers alone would fit", s.NGPULayers)
				add("overrides", t.Overrides[0].Pattern+"="+t.Overrides[0].Device,
					"MoE: attention and shared weights of every layer on the GPU and the experts of the first %d layers on the CPU (llama.cpp's --n-cpu-moe %d) predicts %.1f tok/s against %.1f tok/s for %d whole layers",
					m.expertK[t.Overrides[0].Pattern], m.expertK[t.Overrides[0].Pattern], moe, plain, s.NGPULayers)
				s = t
			} else {
				add("overrides", "none", "MoE: keeping the experts of some layers on the CPU to fit every layer's attention on the GPU predicts %.1f tok/s, no better than %.1f tok/s for %d whole layers", moe, plain, s.NGPULayers)
			}
		}
	}
	a, err := check(m, mc, s, req)
	return a, reasons, err
}

func explainNGL(add func(setting, choice, format string, args ...any), ngl, nLayer int, margin uint64) {
	switch {
	case ngl == nLayer+1:
		add("n_gpu_layers", fmt.Sprint(ngl), "every layer and the output fit on the GPU(s) with the margin")
	case ngl == 0:
		add("n_gpu_layers", "0", "not even one layer fits on the GPU(s) next to the runtime overhead and margin")
	default:
		add("n_gpu_layers", fmt.Sprint(ngl), "the most whole layers that fit on the GPU(s) with a %s margin; one more would not", human(margin))
	}
}

// roomSplit shares layers in proportion to what each GPU has free after its
// runtime overhead and margin.
func roomSplit(mc *machine, req Request) []float64 {
	_, gm := margins(mc, req)
	ts := make([]float64, len(mc.gpus))
	for i, g := range mc.gpus {
		room := int64(g.FreeBytes) - int64(orDefaultU(req.GPUOverheadBytes, DefaultGPUOverhead)) - int64(gm)
		ts[i] = math.Round(float64(max(room, 0))/(1<<30)*100) / 100
	}
	return ts
}

// fillGPUs gives each GPU a number of layers (llama.cpp's -ts takes counts
// as proportions). Two fills are compared: GPUs in order of bandwidth (then
// free memory), each taking as many layers as it holds; and, when that
// leaves layers on the CPU, llama.cpp's back-to-front fill with the most
// layers it places. The fill with more layers wins and is then polished.
// It returns the counts in device order and the speed order.
func fillGPUs(m *model, mc *machine, s Settings, req Request) ([]float64, []int, error) {
	n := len(mc.gpus)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := mc.gpus[order[i]], mc.gpus[order[j]]
		if a.BandwidthBytes != b.BandwidthBytes {
			return a.BandwidthBytes > b.BandwidthBytes
		}
		return a.FreeBytes > b.FreeBytes
	})
	fits := func(counts []float64) (bool, error) {
		t := s
		t.NGPULayers = 0
		for _, c := range counts {
			t.NGPULayers += int(c)
		}
		t.TensorSplit = counts
		if t.NGPULayers == 0 {
			return true, nil
		}
		a, err := check(m, mc, t, req)
		if err != nil {
			return false, err
		}
		return gpusFit(a), nil
	}
	// fill gives the GPUs in seq, one after the other, the most layers each
	// holds, then takes layers back from the last ones filled until all fit
	// (layers shift between GPUs as later counts grow).
	fill := func(seq []int) ([]float64, int, error) {
		counts := make([]float64, n)
		left := m.nLayer + 1
		for _, g := range seq {
			lo, hi := 0, left
			for lo < hi {
				mid := (lo + hi + 1) / 2
				counts[g] = float64(mid)
				ok, err := fits(counts)
				if err != nil {
					return nil, 0, err
				}
				if ok {
					lo = mid
				} else {
					hi = mid - 1
				}
			}
			counts[g] = float64(lo)
			left -= lo
		}
		for k := n - 1; k >= 0; k-- {
			for g := seq[k]; counts[g] > 0; counts[g]-- {
				ok, err := fits(counts)
				if err != nil {
					return nil, 0, err
				}
				if ok {
					return counts, m.nLayer + 1 - left, nil
				}
				left++
			}
		}
		return counts, m.nLayer + 1 - left, nil
	}
	bySpeed, nSpeed, err := fill(order)
	if err != nil {
		return nil, nil, err
	}
	counts := bySpeed
	if nSpeed < m.nLayer+1 {
		// Filling one GPU after the other can strand layers: adding one to
		// a later GPU hands it the top unit (the output layer) and shifts
		// a layer down onto a full GPU. llama.cpp's back-to-front fill does
		// not; search the most layers it places.
		n, err := maxTrue(nSpeed+1, m.nLayer+1, nSpeed+1, func(n int) (bool, error) {
			_, ok, err := fillBack(m, mc, s, req, n)
			return ok, err
		})
		if err != nil {
			return nil, nil, err
		}
		if n > nSpeed {
			if c, ok, err := fillBack(m, mc, s, req, n); err != nil {
				return nil, nil, err
			} else if ok {
				counts = c
			}
		}
	}
	// Polish: layers differ in size (Q4_K_M keeps some at Q6_K), so a GPU
	// may take one more once another took the heavier top layers; and
	// layers move from slower to faster GPUs while they fit.
	total := 0
	for _, c := range counts {
		total += int(c)
	}
	for changed := true; changed; {
		changed = false
		for _, g := range order {
			for total < m.nLayer+1 {
				counts[g]++
				ok, err := fits(counts)
				if err != nil {
					return nil, nil, err
				}
				if !ok {
					counts[g]--
					break
				}
				total++
				changed = true
			}
		}
		for i, fast := range order {
			for k := n - 1; k > i; k-- {
				slow := order[k]
				if mc.gpus[slow].BandwidthBytes >= mc.gpus[fast].BandwidthBytes {
					continue
				}
				for counts[slow] > 0 {
					counts[slow]--
					counts[fast]++
					ok, err := fits(counts)
					if err != nil {
						return nil, nil, err
					}
					if !ok {
						counts[slow]++
						counts[fast]--
						break
					}
					changed = true
				}
			}
		}
	}
	return counts, order, nil
}

// fillBack offloads n layers (the output layer counted first or last as
// the runtime does) and fills the GPUs from the back, each taking the top
// units it holds and the first GPU the rest; ok is false when that does
// not fit.
func fillBack(m *model, mc *machine, s Settings, req Request, n int) ([]float64, bool, error) {
	nGPU := len(mc.gpus)
	counts := make([]float64, nGPU)
	t := s
	t.NGPULayers, t.TensorSplit = n, counts
	devFits := func(d int) (bool, error) {
		a, err := check(m, mc, t, req)
		if err != nil {
			return false, err
		}
		return a.b.Devices[1+d].TotalBytes+a.margin[1+d] <= a.avail[1+d], nil
	}
	left := n
	for d := nGPU - 1; d > 0; d-- {
		c, err := maxTrue(0, left, left/(d+1), func(c int) (bool, error) {
			counts[d], counts[0] = float64(c), float64(left-c)
			return devFits(d)
		})
		if err != nil {
			return nil, false, err
		}
		counts[d] = float64(max(c, 0))
		left -= max(c, 0)
	}
	counts[0] = float64(left)
	t.TensorSplit = append([]float64(nil), counts...)
	a, err := check(m, mc, t, req)
	if err != nil {
		return nil, false, err
	}
	return t.TensorSplit, gpusFit(a), nil
}

// maxTrue returns the largest n in [lo, hi] for which ok holds, ok being
// true up to some n and false after it; lo-1 when it holds nowhere. It
// starts at guess and gallops away from it, so a good guess costs few
// calls.
func maxTrue(lo, hi, guess int, ok func(int) (bool, error)) (int, error) {
	t, f := lo-1, hi+1 // ok(t) holds (or t is below the range); ok(f) does not
	g := min(max(guess, lo), hi)
	good, err := ok(g)
	if err != nil {
		return 0, err
	}
	if good {
		t = g
		for step := 1; t < hi; step *= 2 {
			n := min(t+step, hi)
			if good, err = ok(n); err != nil {
				return 0, err
			}
			if !good {
				f = n
				break
			}
			t = n
		}
	} else {
		f = g
		for step := 1; f > lo; step *= 2 {
			n := max(f-step, lo)
			if good, err = ok(n); err != nil {
				return 0, err
			}
			if good {
				t = n
				break
			}
			f = n
		}
	}
	for f-t > 1 {
		mid := (t + f) / 2
		if good, err = ok(mid); err != nil {
			return 0, err
		}
		if good {
			t = mid
		} else {
			f = mid
		}
	}
	return t, nil
}

// pages reports whether the mapped host weights do not all fit in the RAM
// left, so that decode reads some of them from disk.
func pages(a *attempt) bool {
	cpu := a.b.Devices[0]
	return a.s.MMap && cpu.ResidentBytes > 0 && int64(a.avail[0])-int64(cpu.TotalBytes)-int64(a.margin[0]) < int64(cpu.ResidentBytes)
}

// shortfall is how many bytes the devices lack in all.
func shortfall(a *attempt) uint64 {
	var short uint64
	for d, dm := range a.b.Devices {
		if need := dm.TotalBytes + a.margin[d]; need > a.avail[d] {
			short += need - a.avail[d]
		}
	}
	return short
}

func gpusFit(a *attempt) bool {
	for d := 1; d < len(a.b.Devices); d++ {
		if a.b.Devices[d].TotalBytes+a.margin[d] > a.avail[d] {
			return false
		}
	}
	return true
}

// moeOffload offloads ngl layers and moves the expert tensors of the first
// k layers to the CPU, for the smallest k with which the GPU(s) fit.
func moeOffload(m *model, mc *machine, s Settings, req Request, autoSplit bool, ngl int) (Settings, bool, error) {
	t := s
	t.NGPULayers = ngl
	fits := func(k int) (bool, error) {
		t.Overrides = []Override{{Pattern: m.expertPattern(k), Device: "CPU"}}
		if autoSplit {
			// The first k layers lose their experts: a proportional split
			// would leave the first GPUs nearly empty. Fill from the back
			// with the layers that keep theirs.
			c, ok, err := fillBack(m, mc, t, req, ngl)
			if ok {
				t.TensorSplit = c
			}
			return ok, err
		}
		a, err := check(m, mc, t, req)
		return err == nil && gpusFit(a), err
	}
	// GPU memory falls as k grows: guess the smallest k that fits from the
	// experts' sizes (one GPU) and search around it.
	guess := m.nLayer / 2
	if len(mc.gpus) == 1 {
		t.Overrides = nil
		a, err := check(m, mc, t, req)
		if err != nil {
			return s, false, err
		}
		over := int64(a.b.Devices[1].TotalBytes+a.margin[1]) - int64(a.avail[1])
		guess = 0
		for ; guess < m.nLayer && over > 0; guess++ {
			over -= int64(mc.expertBytes[guess])
		}
	}
	j, err := maxTrue(0, m.nLayer-1, m.nLayer-max(guess, 1), func(j int) (bool, error) { return fits(m.nLayer - j) })
	if err != nil || j < 0 {
		return s, false, err
	}
	if _, err := fits(m.nLayer - j); err != nil {
		return s, false, err
	}
	return t, true, nil
}

// expertPattern returns the llama.cpp -ot pattern matching the expert
// tensors of layers 0..k-1 (as --n-cpu-moe k does), and remembers it so
// the estimate matches it without the regexp.
func (m *model) expertPattern(k int) string {
	for p, n := range m.expertK {
		if n == k {
			return p
		}
	}
	p := cpuMoEPattern(k)
	m.expertK[p] = k
	return p
}

// cpuMoEPattern is the -ot pattern of llama.cpp's --n-cpu-moe k: the
// up, down and gate expert tensors of layers 0..k-1.
func cpuMoEPattern(k int) string {
	if k == 1 {
		return `blk\.0\.ffn_(up|down|gate)_exps`
	}
	return fmt.Sprintf(`blk\.(%s)\.ffn_(up|down|gate)_exps`, layerAlternation(k))
}

func layerAlternation(k int) string {
	parts := make([]string, k)
	for i := range parts {
		parts[i] = fmt.Sprint(i)
	}
	return strings.Join(parts, "|")
}

// residentFraction is the share of the model's files in the page cache; 0
// when unknown, or when the files hold only the header of the model planned.
func residentFraction(mc *machine) float64 {
	if !mc.dataPresent {
		return 0
	}
	var size, res int64
	for _, f := range mc.snap.Files {
		size += f.SizeBytes
		if f.ResidentBytes == nil {
			return 0
		}
		res += *f.ResidentBytes
	}
	if size == 0 {
		return 0
	}
	return float64(res) / float64(size)
}

// finish fills the plan from the chosen (or nearest) attempt.
func finish(p *Plan, m *model, mc *machine, a, least *attempt, req Request) {
	p.Fits = a.fits
	p.Settings = a.s
	p.breakdown = a.b
	p.Reasons = append(p.Reasons, a.reasons...)
	for d, dm := range a.b.Devices {
		p.Devices = append(p.Devices, PlanDevice{DeviceMemory: dm, AvailableBytes: a.avail[d], MarginBytes: a.margin[d],
			FreeAfterBytes: int64(a.avail[d]) - int64(dm.TotalBytes)})
	}
	cpu := a.b.Devices[0]
	if a.s.MMap && cpu.ResidentBytes > 0 {
		room := int64(a.avail[0]) - int64(cpu.TotalBytes) - int64(a.margin[0])
		if room < int64(cpu.ResidentBytes) {
			miss := cpu.ResidentBytes - uint64(max(room, 0))
			p.Warnings = append(p.Warnings, fmt.Sprintf("the mapped host weights (%s) exceed the RAM left after the other buffers and the margin (%s): it runs, but %s of them cannot stay in the page cache, so %.0f%% of the host weights every token reads come from disk and decode is bound by the disk's read speed",
				human(cpu.ResidentBytes), human(uint64(max(room, 0))), human(miss), 100*float64(miss)/float64(cpu.ResidentBytes)))
		}
	}
	if !p.Model.DataPresent {
		p.Warnings = append(p.Warnings, "the file holds only the header (or is truncated): this plan is for the complete model; it cannot be run from this file")
	}
	if mc.env.Runtime == RuntimeLlamaCpp && cpu.RepackBytes > 0 && !a.s.NoRepack {
		p.Reasons = append(p.Reasons, Reason{"repack", "on", fmt.Sprintf("current llama.cpp copies %s of CPU weights (%s) into a CPU_REPACK buffer of anonymous memory for faster matrix kernels; counted in the host total", human(cpu.RepackBytes), repackTypeList(m, mc))})
	}
	p.Predicted = predict(m, mc, a, req)
	p.LlamaArgs = p.LlamaCppArgs(ArgsClassic)
	if !a.fits {
		p.NoFit = noFit(m, mc, a, least, req)
	}
}

func repackTypeList(m *model, mc *machine) string {
	var names []string
	rt := repackTypes(mc.env)
	seen := map[gguf.Type]bool{}
	for i := range m.tensors {
		t := &m.tensors[i]
		if rt[t.typ] && !seen[t.typ] && repackable(t) {
			seen[t.typ] = true
			names = append(names, t.typ.String())
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func fmtSplit(ts []float64) string {
	parts := make([]string, len(ts))
	for i, v := range ts {
		parts[i] = strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strings.Join(parts, ",")
}

// human renders bytes in GiB/MiB for reasons and errors.
func human(b uint64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%d B", b)
}
