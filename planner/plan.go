package planner

import (
	"context"
	"fmt"
	"math"
	"regexp"
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
	// Speed is this machine's measured speed profile (`plan calibrate`);
	// nil predicts with the reference machine's assumed constants.
	Speed *SpeedProfile
	// ModelPath is shown in the plan and the llama.cpp arguments.
	ModelPath string
	// OllamaName is the Ollama model name the file was resolved from: the
	// Modelfile's FROM line.
	OllamaName string
	// OllamaEnv is the Ollama server's environment, for the runtimes
	// driven through Ollama (flash attention, KV type, parallel sequences
	// and default context are server-wide there).
	OllamaEnv OllamaEnv
	// Hosts are other machines that lend their devices through
	// ggml-rpc-server: with any, the plan spans them (hosts.go).
	Hosts []Host
}

// Verdict is what a plan means for the user.
type Verdict string

// The three verdicts. A plan that runs paging weights from disk is a real
// outcome (a model larger than RAM runs from its mapping) but not the same as
// fitting in memory: decode then waits on the disk every token.
const (
	// VerdictFits: every buffer is allocated and every mapped weight a token
	// reads stays in RAM (or VRAM).
	VerdictFits Verdict = "fits"
	// VerdictPaging: the buffers are allocated, but part of the mapped host
	// weights every token reads does not fit in the RAM left and is read
	// from disk each token (Prediction.DiskBytesPerToken).
	VerdictPaging Verdict = "runs_paging"
	// VerdictNoFit: a buffer cannot be allocated (Plan.NoFit says which).
	VerdictNoFit Verdict = "does_not_fit"
)

// Limits of a Request's settings: sizes multiply into bytes, so values no
// runtime takes are refused rather than let the arithmetic wrap.
const (
	MaxContext     = 1 << 24 // n_ctx and n_batch, tokens
	MaxParallel    = 1 << 12 // sequences
	MaxThreads     = 1 << 12
	MaxGPULayers   = 1 << 20
	MaxTensorSplit = 16 // entries of -ts: llama.cpp's LLAMA_MAX_DEVICES
)

// check refuses settings out of range; the error wraps ErrInvalidRequest.
func (r *Request) check() error {
	for _, v := range []struct {
		name  string
		value int
		limit int
	}{{"n_ctx", r.Settings.NCtx, MaxContext}, {"n_batch", r.Settings.NBatch, MaxContext}, {"n_ubatch", r.Settings.NUbatch, MaxContext},
		{"n_parallel", r.Settings.NParallel, MaxParallel}, {"threads", r.Settings.Threads, MaxThreads}, {"n_gpu_layers", r.Settings.NGPULayers, MaxGPULayers}} {
		if v.value < 0 || v.value > v.limit {
			return fmt.Errorf("planner: %s %d out of range [0, %d]: %w", v.name, v.value, v.limit, ErrInvalidRequest)
		}
	}
	if r.Pinned.NBatch && r.Settings.NBatch == 0 {
		return fmt.Errorf("planner: n_batch 0: llama.cpp needs a logical batch of at least one token: %w", ErrInvalidRequest)
	}
	if n := len(r.Settings.TensorSplit); n > MaxTensorSplit {
		return fmt.Errorf("planner: tensor_split has %d entries, llama.cpp takes at most %d: %w", n, MaxTensorSplit, ErrInvalidRequest)
	}
	for _, v := range r.Settings.TensorSplit {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("planner: tensor_split %s: proportions must be finite and not negative: %w", fmtSplit(r.Settings.TensorSplit), ErrInvalidRequest)
		}
	}
	for _, o := range r.Settings.Overrides {
		if _, err := regexp.Compile(o.Pattern); err != nil {
			return fmt.Errorf("planner: override %q: %v: %w", o.Pattern, err, ErrInvalidRequest)
		}
	}
	return nil
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
	Schema string `json:"schema"`
	// Fits is true for both verdicts that run (VerdictFits, VerdictPaging).
	Fits    bool      `json:"fits"`
	Verdict Verdict   `json:"verdict"`
	Model   ModelInfo `json:"model"`
	Runtime Runtime   `json:"runtime"`
	// RuntimeProfile names the build and its rules with their sources.
	RuntimeProfile Profile      `json:"runtime_profile"`
	Settings       Settings     `json:"settings"`
	Devices        []PlanDevice `json:"devices"`
	Predicted      Prediction   `json:"predicted"`
	Reasons        []Reason     `json:"reasons"`
	Warnings       []string     `json:"warnings"`
	LlamaArgs      []string     `json:"llama_args"`
	// NoFit says why, when Fits is false.
	NoFit *NoFitError `json:"no_fit,omitempty"`
	// Hosts, for a plan over several machines: the head first, then every
	// host asked for, with its command and memory (hosts.go).
	Hosts []PlanHost `json:"hosts,omitempty"`

	breakdown *Breakdown
	// cpuMoE is k when the plan's one override keeps exactly the experts
	// llama.cpp's --n-cpu-moe k keeps on the CPU; LlamaCppArgs then says so.
	cpuMoE int
}

// ModelInfo describes the planned model.
type ModelInfo struct {
	Path         string `json:"path"`
	Name         string `json:"name,omitempty"`
	OllamaName   string `json:"ollama_name,omitempty"`
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
	if err := req.check(); err != nil {
		return nil, err
	}
	if len(f.Tensors) == 0 {
		return nil, fmt.Errorf("planner: %s has no tensors (a vocabulary-only file?): nothing to place", req.ModelPath)
	}
	m := newModel(f)
	if m.nLayer <= 0 {
		return nil, fmt.Errorf("planner: %s: architecture %q has no block_count", req.ModelPath, m.h.Architecture)
	}
	// A tensor whose shape contradicts the hyperparameters would be sized
	// from the shape (144 TiB from one bad dimension): llama.cpp's loader
	// refuses such a file, and so does the planner.
	if err := f.CheckShapes(); err != nil {
		return nil, fmt.Errorf("planner: %s: %w", req.ModelPath, err)
	}
	if _, ok := profiles[orRuntime(req.Runtime)]; !ok {
		_, err := ParseRuntime(string(req.Runtime))
		return nil, err
	}
	var ollamaReasons []Reason
	if orRuntime(req.Runtime).profile().Ollama {
		var err error
		if req, ollamaReasons, err = ollamaRequest(f, snap, req); err != nil {
			return nil, err
		}
	}
	mc, assumedCPU := newMachine(f, m, snap, req)
	p := &Plan{Schema: SchemaVersion, Runtime: mc.env.Runtime, RuntimeProfile: *mc.env.Runtime.profile(), Warnings: []string{}, Reasons: ollamaReasons}
	p.Model = ModelInfo{Path: req.ModelPath, Name: f.Metadata.String("general.name"), OllamaName: req.OllamaName, Architecture: m.h.Architecture,
		Layers: m.nLayer, TensorBytes: uint64(f.TensorBytes()), Experts: m.h.ExpertCount, DataPresent: f.DataPresent()}
	for _, part := range f.Parts {
		p.Model.FileBytes += uint64(max(part.Size, part.DataEnd))
	}
	if w := m.computeWarning(); w != "" {
		p.Warnings = append(p.Warnings, w)
	}
	if assumedCPU {
		why := "the machine's CPU features are unknown: memory is planned for an x86-64 server CPU with AVX-512, on which current llama.cpp copies the most weight types (Q4_0, Q4_K, Q2_K, IQ4_NL, MXFP4) into a CPU_REPACK buffer, and speed for one with AVX2 only; give --cpu-features for another CPU"
		if !mc.env.Runtime.profile().repacks {
			why = "the machine's CPU features are unknown: speed is predicted for an x86-64 CPU with AVX2; give --cpu-features for another CPU"
		}
		p.why("cpu", "x86-64 (assumed)", "%s", why)
	}
	if len(req.Hosts) > 0 {
		return makeCluster(ctx, p, f, m, mc, req)
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
		mc.env.GPUHostMapped = append(mc.env.GPUHostMapped, g.Vendor == "apple")
	}
	return mc, assumedCPU
}

func gpuName(g probe.GPU, i int) string {
	switch g.Vendor {
	case "amd":
		return fmt.Sprintf("ROCm%d", i)
	case "apple":
		return fmt.Sprintf("MTL%d", i)
	}
	return fmt.Sprintf("CUDA%d", i)
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
		free := int64(a.avail[d]) - int64(dm.TotalBytes)
		if d == 0 {
			free -= int64(a.unified) // what a GPU sharing the RAM takes of it
		}
		p.Devices = append(p.Devices, PlanDevice{DeviceMemory: dm, AvailableBytes: a.avail[d], MarginBytes: a.margin[d], FreeAfterBytes: free})
	}
	cpu := a.b.Devices[0]
	unifiedNotes(p, mc, mc.env.Runtime)
	if a.s.MMap && cpu.ResidentBytes > 0 {
		room := int64(a.avail[0]) - int64(hostCommitted(mc, a.b)) - int64(a.margin[0])
		if room < int64(cpu.ResidentBytes) {
			miss := cpu.ResidentBytes - uint64(max(room, 0))
			p.Warnings = append(p.Warnings, fmt.Sprintf("the mapped host weights (%s) exceed the RAM left after the other buffers and the margin (%s): it runs, but %s of them cannot stay in the page cache, so %.0f%% of the host weights every token reads come from disk and decode is bound by the disk's read speed",
				human(cpu.ResidentBytes), human(uint64(max(room, 0))), human(miss), 100*float64(miss)/float64(cpu.ResidentBytes)))
		}
	}
	if w := trainingContextWarning(m, mc.env.Runtime.profile(), a); w != "" {
		p.Warnings = append(p.Warnings, w)
	}
	if !p.Model.DataPresent {
		p.Warnings = append(p.Warnings, "the file holds only the header (or is truncated): this plan is for the complete model; it cannot be run from this file")
	}
	if cpu.RepackBytes > 0 && !a.s.NoRepack {
		p.Reasons = append(p.Reasons, Reason{"repack", "on", fmt.Sprintf("llama.cpp copies %s of CPU weights (%s) into a CPU_REPACK buffer of anonymous memory for faster matrix kernels; counted in the host total", human(cpu.RepackBytes), repackTypeList(m, mc))})
	}
	serverCacheNote(p, mc.env.Runtime)
	p.Predicted = predict(m, mc, a, req)
	p.cpuMoE = nCPUMoE(m, a.s)
	p.LlamaArgs = p.LlamaCppArgs(ArgsClassic)
	// The verdict follows the prediction: paging is whatever the speed
	// model says decode reads from disk.
	switch {
	case !a.fits:
		p.Verdict = VerdictNoFit
		p.NoFit = noFit(m, mc, a, least, req)
	case p.Predicted.DiskBytesPerToken > 0:
		p.Verdict = VerdictPaging
	default:
		p.Verdict = VerdictFits
	}
	p.Reasons = mergeReasons(p.Reasons)
}

// mergeReasons keeps one entry per setting, where it first appeared, with
// the final choice; when the choice changed on the way, the explanations
// follow one another and the entry says what the setting started as.
func mergeReasons(rs []Reason) []Reason {
	idx := map[string]int{}
	first := map[string]string{}
	var out []Reason
	for _, r := range rs {
		i, ok := idx[r.Setting]
		if !ok {
			idx[r.Setting] = len(out)
			first[r.Setting] = r.Choice
			out = append(out, r)
			continue
		}
		prev := &out[i]
		if r.Why != prev.Why && !strings.Contains(prev.Why, r.Why) {
			prev.Why += "; then " + r.Why
		}
		prev.Choice = r.Choice
	}
	for i := range out {
		r := &out[i]
		if f := first[r.Setting]; f != r.Choice && !strings.Contains(r.Why, "from "+f) {
			r.Why = fmt.Sprintf("started as %s: %s", f, r.Why)
		}
	}
	return out
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
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

// nCPUMoE returns k when s's one override is the planner's pattern for the
// experts of layers 0..k-1 on the CPU and llama.cpp's --n-cpu-moe k matches
// the same tensors: its pattern (common/common.h llm_ffn_exps_block_regex)
// also takes gate_up and chexps tensors, so the model must have none.
func nCPUMoE(m *model, s Settings) int {
	if len(s.Overrides) != 1 || s.Overrides[0].Device != "CPU" {
		return 0
	}
	k, ok := m.expertK[s.Overrides[0].Pattern]
	if !ok || k <= 0 || s.Overrides[0].Pattern != cpuMoEPattern(k) {
		return 0
	}
	for i := range m.tensors {
		if n := m.tensors[i].name; strings.Contains(n, "gate_up_exps") || strings.Contains(n, "_chexps") {
			return 0
		}
	}
	return k
}

// trainingContextWarning says what the runtime does when each sequence's
// context exceeds the model's training context: current llama-server caps
// a slot at it (PR #16736) while the KV cache keeps every cell of n_ctx;
// older builds use the context as given. Ollama cuts num_ctx itself before
// the runner starts (the plan never exceeds it there).
func trainingContextWarning(m *model, prof *Profile, a *attempt) string {
	train := m.h.ContextLength
	np := max(a.s.NParallel, 1)
	if a.s.KVUnified {
		np = 1 // every slot may use all of n_ctx
	}
	perSeq := uint64(a.s.NCtx / np)
	if train == 0 || perSeq <= train || prof.Ollama {
		return ""
	}
	if !prof.has(changeSlotCap) {
		return fmt.Sprintf("each sequence's context (%d) exceeds the model's training context (%d): %s uses it as given and only warns (\"possible training context overflow\"); past %d tokens the output degrades unless the model's RoPE scaling was trained for it",
			perSeq, train, prof.Build, train)
	}
	var unused uint64
	for _, l := range a.b.Layers {
		if l.KVCells == a.b.NCtx {
			unused += (l.KBytes + l.VBytes) / perSeq * (perSeq - train)
		}
	}
	return fmt.Sprintf("each sequence's context (%d) exceeds the model's training context (%d): llama-server caps every slot at %d (%s) but still allocates the KV cache for n_ctx %d, so about %s of it is never used; ask for -c %d",
		perSeq, train, train, changeSlotCap, a.s.NCtx, human(unused), int(train)*np)
}
