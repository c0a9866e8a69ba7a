package planner

import (
	"fmt"
	"strings"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/probe"
)

// OllamaDecision is what Ollama v0.17.4 itself does with a model on a
// machine, step by step as its source decides (each Rule names the
// function it mirrors), and what the load then takes on every device by
// this planner's memory model.
type OllamaDecision struct {
	// Runner is RuntimeOllama (its llama.cpp runner) or
	// RuntimeOllamaEngine (its Go engine).
	Runner      Runtime `json:"runner"`
	NumCtx      int     `json:"num_ctx"` // per sequence
	NumParallel int     `json:"num_parallel"`
	NumBatch    int     `json:"num_batch"`
	// FlashAttention is "on", "off" or "auto" (the llama.cpp runner
	// without OLLAMA_FLASH_ATTENTION: llama.cpp turns it on where the
	// device supports it, as this planner assumes).
	FlashAttention string `json:"flash_attention"`
	KVCacheType    string `json:"kv_cache_type"`
	// NumGPU is the layers Ollama puts on GPUs, counted as Ollama counts
	// them: TotalLayers = block_count + 1 (the output layer).
	NumGPU      int  `json:"num_gpu"`
	TotalLayers int  `json:"total_layers"`
	MMap        bool `json:"use_mmap"`
	// Settings are what the runner runs with, as llama.cpp settings.
	Settings Settings `json:"settings"`
	// Devices is what the load takes (this planner's estimate) next to
	// what each device has; nil when Ollama refuses before loading.
	Devices []PlanDevice `json:"devices,omitempty"`
	// Loads is false when Ollama refuses the load or the runner runs out
	// of memory; Failure then says how it fails.
	Loads   bool   `json:"loads"`
	Failure string `json:"failure,omitempty"`
	// Rules are Ollama's decisions with the source they mirror.
	Rules []Reason `json:"rules"`
	// NotModelled lists the figures this reproduction cannot take from
	// Ollama's source.
	NotModelled []string `json:"not_modelled,omitempty"`

	refused bool // refused before the mmap rule ran
}

// Summary is the decision in one sentence: how Ollama loads the model and
// whether that works.
func (d *OllamaDecision) Summary() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Ollama would load this on its %s with num_ctx %d, num_gpu %d of %d layers",
		map[Runtime]string{RuntimeOllama: "llama.cpp runner", RuntimeOllamaEngine: "Go engine"}[d.Runner], d.NumCtx, d.NumGPU, d.TotalLayers)
	if !d.refused {
		fmt.Fprintf(&sb, ", mmap %s", onOffStr(d.MMap))
	}
	if len(d.Devices) > 0 {
		cpu := d.Devices[0]
		fmt.Fprintf(&sb, ", needing %s of RAM with %s available", human(cpu.TotalBytes), human(cpu.AvailableBytes))
		if d.MMap && cpu.ResidentBytes > 0 {
			fmt.Fprintf(&sb, " (the %s of mapped weights it reads every token want page cache on top)", human(cpu.ResidentBytes))
		}
	}
	if d.Loads {
		sb.WriteString(": it loads")
	} else {
		sb.WriteString(": it fails with " + d.Failure)
	}
	return sb.String()
}

func onOffStr(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// DecideOllama reproduces Ollama v0.17.4's decisions for file f on the
// machine in snap, given the server's environment and the user's options
// (stored with the model or sent with the request): the runner, the
// context, batch and parallel sequences, flash attention and KV type, the
// layers on the GPUs and mmap; then it estimates what the load takes and
// says whether it fails and how.
func DecideOllama(f *gguf.File, snap *probe.Snapshot, env OllamaEnv, opts OllamaOptions) (*OllamaDecision, error) {
	if snap == nil {
		return nil, fmt.Errorf("planner: no machine snapshot")
	}
	m := newModel(f)
	if m.nLayer <= 0 || len(m.tensors) == 0 {
		return nil, fmt.Errorf("planner: %s: no layers to place", f.Architecture())
	}
	kv := newOllamaKV(f)
	d := &OllamaDecision{TotalLayers: m.nLayer + 1}
	rule := func(setting, choice, format string, args ...any) {
		d.Rules = append(d.Rules, Reason{setting, choice, fmt.Sprintf(format, args...)})
	}
	runner, why := OllamaRunnerFor(f, env)
	d.Runner = runner
	engine := runner == RuntimeOllamaEngine
	rule("runner", string(runner), "%s", why)

	// Context: the request's or Modelfile's num_ctx, else
	// OLLAMA_CONTEXT_LENGTH, else the VRAM tier (server/routes.go Serve:
	// 262144 from 47 GiB of VRAM, 32768 from 23 GiB, else 4096).
	var vram uint64
	for _, g := range snap.GPUs {
		vram += g.TotalBytes - min(g.TotalBytes, env.GPUOverhead)
	}
	switch {
	case opts.NumCtx != nil:
		d.NumCtx = *opts.NumCtx
		rule("num_ctx", fmt.Sprint(d.NumCtx), "the model's or the request's num_ctx (server.modelOptions)")
	case env.ContextLength > 0:
		d.NumCtx = int(min(env.ContextLength, 1<<30))
		rule("num_ctx", fmt.Sprint(d.NumCtx), "OLLAMA_CONTEXT_LENGTH (api.DefaultOptions)")
	default:
		d.NumCtx = 4096
		switch {
		case vram >= 47<<30:
			d.NumCtx = 262144
		case vram >= 23<<30:
			d.NumCtx = 32768
		}
		rule("num_ctx", fmt.Sprint(d.NumCtx), "Ollama's default for %s of VRAM (server/routes.go Serve: 4k below 23 GiB, 32k below 47 GiB, else 256k)", human(vram))
	}
	d.NumCtx = max(d.NumCtx, 4) // sched.GetRunner
	if kv.train > 0 && uint64(d.NumCtx) > kv.train {
		rule("num_ctx", fmt.Sprint(kv.train), "cut from %d to the training context (llm.NewLlamaServer: \"requested context size too large for model\"); the KV cache is sized for the cut value", d.NumCtx)
		d.NumCtx = int(kv.train)
	}
	d.NumParallel = max(int(env.NumParallel), 1)
	single := []string{"mllama", "qwen3vl", "qwen3vlmoe", "qwen35", "qwen35moe", "qwen3next", "lfm2", "lfm2moe", "nemotron_h", "nemotron_h_moe"}
	if d.NumParallel > 1 && (kv.embedding || containsStr(single, kv.arch)) {
		rule("num_parallel", "1", "OLLAMA_NUM_PARALLEL=%d is not used for this model (server/sched.go Scheduler.load)", d.NumParallel)
		d.NumParallel = 1
	}
	d.NumBatch = 512
	if opts.NumBatch != nil {
		d.NumBatch = *opts.NumBatch
	}
	d.NumBatch = max(min(d.NumBatch, d.NumCtx), 1) // llm.NewLlamaServer
	if !engine && kv.embedding && d.NumBatch < d.NumCtx {
		d.NumBatch = d.NumCtx // llamaServer.Load: embedding models
	}

	// Flash attention and the KV type (llm.NewLlamaServer).
	fa := env.flashAttention(containsStr(ollamaFlashAttentionArchs, kv.arch))
	faSet := env.FlashAttention != ""
	if fa && !ollamaGPUsSupportFA(snap.GPUs) {
		fa = false
		rule("flash_attention", "off", "a GPU of compute capability 7.2 lacks it (ml.FlashAttentionSupported)")
	}
	if fa && !kv.supportsFlashAttention() {
		fa = false
		rule("flash_attention", "off", "Ollama does not support it for this model: K and V head sizes %d and %d differ, or an embedding model or gemma2 (fs/ggml SupportsFlashAttention)", kv.headK, kv.headV)
	}
	kvct := strings.ToLower(env.KVCacheType)
	quantized := kvct != "" && kvct != "f16" && kvct != "f32" && kvct != "bf16"
	supported := kvct == "" || kvct == "f16" || kvct == "q8_0" || kvct == "q4_0" // fs/ggml SupportsKVCacheType
	d.FlashAttention, d.KVCacheType = "off", "f16"
	switch {
	case engine && fa:
		d.FlashAttention = "on"
	case !engine && faSet && fa:
		d.FlashAttention = "on"
	case !engine && !faSet:
		d.FlashAttention = "auto"
	}
	// The engine takes the type with flash attention on; the llama.cpp
	// runner takes an unquantized type always, a quantized one only with
	// flash attention explicitly enabled.
	if kvct != "" && supported && (d.FlashAttention == "on" || !engine && !quantized) {
		d.KVCacheType = kvct
	}
	if kvct != "" && kvct != d.KVCacheType {
		why := "unsupported type (fs/ggml SupportsKVCacheType: f16, q8_0, q4_0)"
		if supported && quantized {
			why = "a quantized cache needs OLLAMA_FLASH_ATTENTION=1 and flash attention for this model"
		}
		rule("kv_cache_type", d.KVCacheType, "OLLAMA_KV_CACHE_TYPE=%s is ignored: %s (llm.NewLlamaServer)", kvct, why)
	} else if kvct != "" {
		rule("kv_cache_type", d.KVCacheType, "OLLAMA_KV_CACHE_TYPE")
	}
	rule("flash_attention", d.FlashAttention, "%s", map[string]string{
		"on":   "OLLAMA_FLASH_ATTENTION or the architecture's default (fs/ggml FlashAttention), and supported",
		"off":  "not on by default for this architecture (fs/ggml FlashAttention) or turned off",
		"auto": "OLLAMA_FLASH_ATTENTION unset: the llama.cpp runner passes auto, which llama.cpp turns on where the device supports it",
	}[d.FlashAttention])

	threads := snap.CPU.PhysicalCores
	if opts.NumThread != nil && *opts.NumThread > 0 {
		threads = *opts.NumThread
	}
	s := Settings{NCtx: d.NumCtx * d.NumParallel, NBatch: d.NumBatch * d.NumParallel, NUbatch: d.NumBatch, NParallel: d.NumParallel,
		FlashAttn: d.FlashAttention != "off", CacheTypeK: d.KVCacheType, CacheTypeV: d.KVCacheType, Threads: max(threads, 1)}
	if engine {
		s.NBatch = d.NumBatch // ollamarunner: one batch of num_batch shared by the sequences
	}
	numGPU := -1
	if opts.NumGPU != nil {
		numGPU = *opts.NumGPU
	}
	hostFree, swap := ollamaFreeMemory(snap)
	gpus := ollamaGPUs(snap)
	menv := Env{CPUFeatures: snap.CPU.Features, CPUArch: snap.CPU.Arch, Runtime: runner}
	for i, g := range snap.GPUs {
		menv.GPUs = append(menv.GPUs, gpuName(g, i))
		menv.GPUFree = append(menv.GPUFree, g.FreeBytes)
	}
	if engine {
		d.NotModelled = append(d.NotModelled, "the Go engine's compute graph: Ollama measures it at load (ollamarunner reserveWorstCaseGraph); llama.cpp's compute buffer for the same model and batch stands in for it")
		rule("use_mmap", "off", "the Go engine reads every weight into buffers it allocates (ml/backend/ggml Backend.Load); use_mmap is not used (llm/server.go LoadRequest)")
	}
	var assign olAssign
	var err error
	if engine {
		assign, err = d.engineLayout(m, s, menv, gpus, numGPU, env, hostFree, swap, rule)
	} else {
		assign, err = d.llamaLayout(f, m, kv, s, gpus, numGPU, env, opts, hostFree, swap, rule)
	}
	if err != nil {
		return nil, err
	}
	d.NumGPU = assign.sum()
	s.MMap = d.MMap
	s.NGPULayers = d.NumGPU
	if len(snap.GPUs) > 1 && d.NumGPU > 0 {
		s.TensorSplit = make([]float64, len(snap.GPUs))
		for _, g := range assign {
			s.TensorSplit[g.id] += float64(len(g.layers))
		}
	}
	d.Settings = s
	if d.Failure != "" {
		return d, nil
	}
	b, err := m.estimate(s, menv)
	if err != nil {
		return nil, err
	}
	d.Loads = true
	for i, dm := range b.Devices {
		avail := hostFree
		if i > 0 {
			avail = snap.GPUs[i-1].FreeBytes
		}
		d.Devices = append(d.Devices, PlanDevice{DeviceMemory: dm, AvailableBytes: avail, FreeAfterBytes: int64(avail) - int64(dm.TotalBytes)})
		if dm.TotalBytes <= avail || !d.Loads {
			continue
		}
		d.Loads = false
		switch {
		case i > 0:
			d.Failure = fmt.Sprintf("%s out of memory: %s needed, %s free (\"unable to allocate %s buffer\")", dm.Name, human(dm.TotalBytes), human(avail), dm.Name)
		default:
			buf := "CPU"
			if len(snap.GPUs) > 0 && !s.MMap && !engine {
				// llama-model.cpp make_cpu_buft_list: host weights go to the
				// first GPU's pinned host buffer type.
				buf = strings.TrimRight(menv.GPUs[0], "0123456789") + "_Host"
			}
			d.Failure = fmt.Sprintf("\"unable to allocate %s buffer\": %s of RAM needed, %s available (or, where the kernel lets the allocation through, the OOM killer ends the runner while it reads the weights)", buf, human(dm.TotalBytes), human(avail))
		}
	}
	return d, nil
}

func containsStr(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// ollamaGPUsSupportFA is ml.FlashAttentionSupported for the probe's GPUs:
// every CUDA GPU but compute capability 7.2, every ROCm GPU.
func ollamaGPUsSupportFA(gs []probe.GPU) bool {
	for _, g := range gs {
		if g.Vendor == "nvidia" && g.ComputeCapability == "7.2" {
			return false
		}
	}
	return true
}

// ollamaFreeMemory is discover's view of host memory: MemAvailable, or
// with a cgroup v2 limit the limit minus the usage (discover/cpu_linux.go
// getCPUMemByCgroups), and the free swap.
func ollamaFreeMemory(snap *probe.Snapshot) (free, swap uint64) {
	free = snap.Memory.AvailableBytes
	if l := snap.Memory.CgroupLimitBytes; l != nil && snap.Memory.CgroupVersion == 2 {
		free = *l - min(*l, snap.Memory.CgroupUsageBytes)
	}
	if snap.Source == "described" {
		free = snap.Memory.EffectiveAvailableBytes
	}
	return free, snap.Memory.SwapFreeBytes
}

func ollamaGPUs(snap *probe.Snapshot) []olGPU {
	var out []olGPU
	for i, g := range snap.GPUs {
		lib := "CUDA"
		if g.Vendor == "amd" {
			lib = "ROCm"
		}
		out = append(out, olGPU{id: i, library: lib, free: g.FreeBytes, integrated: g.UnifiedMemory})
	}
	return out
}

// layout runs Ollama's layout and records when Ollama would never finish
// it.
func (d *OllamaDecision) layout(sizes []uint64, gpus []olGPU, numGPU int, env OllamaEnv, backoff float32) (olAssign, bool) {
	a, stuck := olLayout(sizes, gpus, numGPU, env.GPUOverhead, env.SchedSpread, backoff)
	if stuck {
		d.Failure, d.refused = fmt.Sprintf("no answer: the scheduler never finishes placing the layers (llm/server.go findBestFit bisects a float32 capacity factor to a 1e-6 gap, which float32 cannot resolve above 16: num_gpu %d asks a GPU for more than 16 times what it holds)", numGPU), true
		d.Rules = append(d.Rules, Reason{"num_gpu", fmt.Sprint(numGPU), "forced beyond what the GPUs hold: Ollama's layout search does not terminate"})
	}
	return a, stuck
}

// ruleNumGPU explains the layout's layer count.
func (d *OllamaDecision) ruleNumGPU(a olAssign, numGPU, nGPU int, rule func(string, string, string, ...any)) {
	if nGPU == 0 {
		return
	}
	why := "as many as fit"
	if numGPU >= 0 {
		why = "num_gpu given by the user, forced"
	}
	rule("num_gpu", fmt.Sprint(a.sum()), "layers on the GPU(s) of %d, %s (llm/server.go createLayout: greedyFit from the last layer down, the output layer left out first when not all fit)", d.TotalLayers, why)
}

// olVerify is verifyLayout's host check (requireFull false, not darwin):
// what stays on the CPU must fit in free memory plus free swap.
func olVerify(cpuSize, free, swap uint64) string {
	if cpuSize > free+swap {
		return fmt.Sprintf("\"model requires more system memory (%s) than is available (%s)\" (llm/server.go verifyLayout)", human(cpuSize), human(free+swap))
	}
	return ""
}

// llamaLayout reproduces llamaServer.Load: Ollama's own estimate (fs/ggml
// GraphSize and the tensor sizes), the layout loop and the mmap rule.
func (d *OllamaDecision) llamaLayout(f *gguf.File, m *model, kv ollamaKV, s Settings, gpus []olGPU, numGPU int, env OllamaEnv, opts OllamaOptions,
	hostFree, swap uint64, rule func(string, string, string, ...any)) (olAssign, error) {
	cache, partial, full := ollamaGraphSize(f, kv, uint64(d.NumCtx), uint64(d.NumBatch), d.NumParallel, d.KVCacheType, d.FlashAttention == "on")
	groups := ollamaGroupSizes(f)
	sizes := make([]uint64, m.nLayer+1)
	var kvTotal uint64
	for i := 0; i < m.nLayer; i++ {
		sizes[i] = groups[fmt.Sprintf("blk.%d", i)] + cache[i]
		kvTotal += cache[i]
	}
	out, ok := groups["output"]
	if !ok {
		out = groups["token_embd"]
	}
	sizes[m.nLayer] = groups["output_norm"] + out
	if partial == 0 {
		gqa := kv.heads / max(kv.headsKVMin, 1)
		partial = gqa * kvTotal / 6
	}
	if full == 0 {
		full = partial
	}
	if blk0, ok := groups["blk.0"]; ok {
		// "Use the size of one layer as a buffer".
		for i := range gpus {
			gpus[i].free -= min(gpus[i].free, blk0+cache[0])
		}
	}
	var a olAssign
	for {
		prev := a
		var stuck bool
		if a, stuck = d.layout(sizes, gpus, numGPU, env, 0); stuck {
			return a, nil
		}
		if len(a) <= len(prev) {
			break
		}
		for _, g := range a {
			for j := range gpus {
				if gpus[j].id == g.id {
					gpus[j].graph = max(partial, full)
				}
			}
		}
	}
	var cpuSize, total uint64
	for i, sz := range sizes {
		total += sz
		if a.on(i) < 0 {
			cpuSize += sz
		}
	}
	graph := full
	if a.sum() < len(sizes) {
		graph = partial
	}
	total += graph * uint64(len(a))
	d.ruleNumGPU(a, numGPU, len(gpus), rule)
	if len(a) > 0 {
		rule("estimate", human(total), "Ollama's own estimate of the load: %s of layers and KV by its sizes (fs/ggml GraphSize), a graph of %s on each GPU used (%s offload)",
			human(total-graph*uint64(len(a))), human(graph), map[bool]string{true: "full", false: "partial"}[a.sum() == len(sizes)])
	} else {
		rule("estimate", human(total), "Ollama's own estimate of the load: layers and KV by its sizes (fs/ggml GraphSize)")
	}
	if fail := olVerify(cpuSize, hostFree, swap); fail != "" {
		d.Failure, d.refused = fail, true
		rule("load", "refused", "the layers left on the CPU (%s by Ollama's estimate) exceed free memory and swap (%s)", human(cpuSize), human(hostFree+swap))
		return a, nil
	}
	// The mmap rule (llamaServer.Load): Linux with less free memory than
	// the estimate (ollama/ollama#10104), a CPU-only load or Windows with
	// CUDA turn it off unless the user set use_mmap.
	d.MMap = true
	goos := env.goos()
	switch {
	case opts.UseMMap != nil && !*opts.UseMMap:
		d.MMap = false
		rule("use_mmap", "off", "use_mmap false in the model's or the request's options")
	case opts.UseMMap != nil:
		rule("use_mmap", "on", "use_mmap true in the model's or the request's options: Ollama's rule is skipped")
	case goos == "linux" && hostFree < total:
		d.MMap = false
		rule("use_mmap", "off", "free memory (%s) is less than Ollama's estimate of the load (%s): llamaServer.Load turns mmap off (ollama/ollama#10104), so every host weight must be allocated", human(hostFree), human(total))
	case len(gpus) == 0:
		d.MMap = false
		rule("use_mmap", "off", "a CPU-only load: llamaServer.Load turns mmap off so that the weights are allocated, not page cache")
	case goos == "windows" && gpus[0].library == "CUDA":
		d.MMap = false
		rule("use_mmap", "off", "Windows with CUDA: llamaServer.Load turns mmap off")
	default:
		rule("use_mmap", "on", "the llama.cpp runner maps the file by default (llamaServer.Load)")
	}
	return a, nil
}

// engineLayout reproduces ollamaServer.Load: a layout from no memory
// information (every layer on the GPUs), then the runner's reports of what
// that layout takes, until the layout repeats or stops shrinking; an
// allocation that fails backs off the free memory by 10% at a time. The
// runner's reports are this planner's estimate for the engine.
func (d *OllamaDecision) engineLayout(m *model, s Settings, menv Env, gpus []olGPU, numGPU int, env OllamaEnv, hostFree, swap uint64,
	rule func(string, string, string, ...any)) (olAssign, error) {
	zero := make([]uint64, m.nLayer+1)
	a, stuck := d.layout(zero, gpus, numGPU, env, 0)
	if stuck {
		return a, nil
	}
	seen := map[string]bool{}
	var backoff float32
	for range 64 {
		t := s
		t.NGPULayers = a.sum()
		if len(menv.GPUs) > 1 {
			t.TensorSplit = make([]float64, len(menv.GPUs))
			for _, g := range a {
				t.TensorSplit[g.id] += float64(len(g.layers))
			}
		}
		b, err := m.estimate(t, menv)
		if err != nil {
			return nil, err
		}
		// The runner's memory report: per layer its weights and cache on
		// its device, the input weights and every device's graph.
		sizes := make([]uint64, m.nLayer+1)
		for il, l := range b.Layers {
			sizes[il] = l.WeightsBytes + l.KBytes + l.VBytes + l.StateBytes
		}
		var input uint64
		for i := range m.tensors {
			if t := &m.tensors[i]; t.layer < 0 {
				if t.out {
					sizes[m.nLayer] += t.size
				} else {
					input += t.size
				}
			}
		}
		if m.tied != nil {
			sizes[m.nLayer] += m.tied.size
		}
		gs := append([]olGPU(nil), gpus...)
		for j := range gs {
			gs[j].graph = b.Devices[1+gs[j].id].ComputeBytes
		}
		seen[a.key()] = true
		next, stuck := d.layout(sizes, gs, numGPU, env, backoff)
		if stuck {
			return next, nil
		}
		if !seen[next.key()] && next.sum() <= a.sum() {
			a = next
			continue
		}
		cpuSize := input + b.Devices[0].ComputeBytes
		for il, sz := range sizes {
			if a.on(il) < 0 {
				cpuSize += sz
			}
		}
		d.ruleNumGPU(a, numGPU, len(gpus), rule)
		if fail := olVerify(cpuSize, hostFree, swap); fail != "" {
			d.Failure = fail
			rule("load", "refused", "what the engine keeps on the CPU (%s: weights, cache and graph by this planner's estimate) exceeds free memory and swap (%s)", human(cpuSize), human(hostFree+swap))
			return a, nil
		}
		fits := true
		for i := range menv.GPUs {
			if b.Devices[1+i].TotalBytes > menv.GPUFree[i] {
				fits = false
			}
		}
		if fits {
			return a, nil
		}
		d.Rules = d.Rules[:len(d.Rules)-1] // the layout is tried again
		if numGPU >= 0 {
			d.Failure = fmt.Sprintf("\"memory layout cannot be allocated with num_gpu = %d\" (llm/server.go ollamaServer.Load)", numGPU)
			return a, nil
		}
		if backoff > 1 {
			d.Failure = "\"memory layout cannot be allocated\" (llm/server.go ollamaServer.Load)"
			return a, nil
		}
		backoff += 0.1
		clear(seen)
		if a, stuck = d.layout(sizes, gs, numGPU, env, backoff); stuck {
			return a, nil
		}
	}
	return a, nil
}
