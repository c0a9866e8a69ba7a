package planner

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/units"
)

// initialSettings fills what the user did not pin with llama-server's
// defaults adapted to the machine, reads pinned values as llama.cpp reads
// them (-c 0 is the training context, -ub 0 the batch, -t 0 every logical
// CPU), and explains each.
func initialSettings(m *model, mc *machine, req Request, p *Plan) Settings {
	s := req.Settings
	d := DefaultSettings()
	pin := req.Pinned
	train := int(min(m.h.ContextLength, MaxContext))
	switch {
	case pin.NCtx && s.NCtx == 0 && train > 0:
		// llama-context.cpp: n_ctx = params.n_ctx == 0 ? n_ctx_train : params.n_ctx
		s.NCtx = padTo(train, 256)
		p.why("n_ctx", fmt.Sprint(s.NCtx), "-c 0 asks for the training context (%d), as llama.cpp reads it", m.h.ContextLength)
	case pin.NCtx && s.NCtx == 0:
		s.NCtx = d.NCtx
		p.why("n_ctx", fmt.Sprint(s.NCtx), "-c 0 asks for the training context, which the file does not give (llama.cpp refuses to load it: n_ctx and n_ctx_train cannot both be zero); planned with %d", d.NCtx)
	case pin.NCtx:
		want := s.NCtx
		s.NCtx = padTo(s.NCtx, 256)
		if s.NCtx != want {
			p.why("n_ctx", fmt.Sprint(s.NCtx), "pinned by the user: -c %d rounded up to a multiple of 256, as llama.cpp pads it", want)
		} else {
			p.why("n_ctx", fmt.Sprint(s.NCtx), "pinned by the user")
		}
	default:
		want := s.NCtx
		if want <= 0 {
			want = int(min(max(m.h.ContextLength, 256), 4096))
			p.why("n_ctx", fmt.Sprint(want), "not given: llama-server's default (the training context %d) capped at 4096 to leave memory for the weights; pass -c to ask for more", m.h.ContextLength)
		}
		s.NCtx = padTo(want, 256)
	}
	if s.NBatch <= 0 {
		s.NBatch = d.NBatch
	}
	// llama-context.cpp: with causal attention n_batch = min(n_ctx, n_batch),
	// and n_ubatch = min(n_batch, n_ubatch or n_batch when 0).
	var batchWhy, ubatchWhy string
	if s.NBatch > s.NCtx {
		batchWhy = fmt.Sprintf("%d capped at the context, as llama.cpp caps the logical batch", s.NBatch)
		s.NBatch = s.NCtx
	}
	switch {
	case pin.NUbatch && s.NUbatch == 0:
		s.NUbatch = s.NBatch
		ubatchWhy = "-ub 0 means the logical batch, as llama.cpp reads it"
	case s.NUbatch <= 0:
		s.NUbatch = min(d.NUbatch, s.NBatch)
	case s.NUbatch > s.NBatch:
		ubatchWhy = fmt.Sprintf("%d capped at the logical batch, as llama.cpp caps the physical batch", s.NUbatch)
		s.NUbatch = s.NBatch
	}
	if batchWhy == "" {
		batchWhy = "pinned by the user"
		if !pin.NBatch {
			batchWhy = fmt.Sprintf("llama-server's default logical batch of %d tokens", d.NBatch)
		}
	}
	p.why("n_batch", fmt.Sprint(s.NBatch), "%s", batchWhy)
	if ubatchWhy == "" {
		ubatchWhy = "pinned by the user"
		if !pin.NUbatch {
			ubatchWhy = fmt.Sprintf("llama-server's default physical batch of %d tokens; the compute buffers grow with it, and it is the first thing given up when memory is short", d.NUbatch)
		}
	}
	p.why("n_ubatch", fmt.Sprint(s.NUbatch), "%s", ubatchWhy)
	if s.NParallel <= 0 {
		s.NParallel = 1
	}
	if !pin.NParallel {
		p.why("n_parallel", fmt.Sprint(s.NParallel), "one sequence; with -np N the sequences share the n_ctx cells of one KV cache")
	} else {
		p.why("n_parallel", fmt.Sprint(s.NParallel), "pinned by the user: %d sequences share the n_ctx cells of one KV cache (%d each)", s.NParallel, s.NCtx/s.NParallel)
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
	logical := max(mc.snap.CPU.LogicalCores, mc.snap.CPU.PhysicalCores, 1)
	switch {
	case pin.Threads && s.Threads <= 0:
		// common/arg.cpp: n_threads <= 0 becomes std::thread::hardware_concurrency().
		s.Threads = logical
		p.why("threads", fmt.Sprint(s.Threads), "-t 0 or less: llama.cpp then uses every logical CPU (std::thread::hardware_concurrency)")
	case pin.Threads:
		p.why("threads", fmt.Sprint(s.Threads), "pinned by the user")
	default:
		cores := mc.snap.CPU.PhysicalCores
		if u := int(mc.snap.CPU.UsableCores); u > 0 && u < cores {
			cores = u
		}
		s.Threads = max(cores, 1)
		p.why("threads", fmt.Sprint(s.Threads), "physical cores usable under the CPU quota (%d physical, %s usable): decode is memory-bound and hyperthreads only add contention", mc.snap.CPU.PhysicalCores, strconv.FormatFloat(mc.snap.CPU.UsableCores, 'f', -1, 64))
	}
	if s.Threads > logical {
		p.Warnings = append(p.Warnings, fmt.Sprintf("%d threads on %d logical CPUs: threads beyond the CPUs wait for one another at every layer, and decode gets slower, not faster", s.Threads, logical))
	}
	nGPU := len(mc.gpus)
	switch {
	case len(s.TensorSplit) == 0:
	case nGPU == 0:
		p.why("tensor_split", "none", "no GPU: -ts %s has nothing to split (llama.cpp ignores it)", fmtSplit(s.TensorSplit))
		s.TensorSplit = nil
	case allZero(s.TensorSplit):
		p.why("tensor_split", "none", "-ts %s is all zeros, which llama.cpp reads as no split given (by free memory)", fmtSplit(s.TensorSplit))
		s.TensorSplit = nil
	case len(s.TensorSplit) > nGPU:
		p.why("tensor_split", fmtSplit(s.TensorSplit[:nGPU]), "-ts %s has %d entries for %d GPU(s): llama.cpp uses the first %d", fmtSplit(s.TensorSplit), len(s.TensorSplit), nGPU, nGPU)
		s.TensorSplit = s.TensorSplit[:nGPU]
	}
	if !pin.MMap {
		s.MMap = true // decided in place()
	}
	return s
}

func allZero(xs []float64) bool {
	for _, x := range xs {
		if x != 0 {
			return false
		}
	}
	return true
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
	unified uint64 // host memory the unified-memory GPUs' buffers take
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
					a.unified += b.Devices[1+g].TotalBytes
				}
			}
		}
		if need+margin > avail && a.fits {
			a.fits, a.failDev = false, d
		}
	}
	if why := ollamaRefuses(m, mc, s); why != "" && a.fits {
		a.fits, a.failDev, a.failWhy = false, 0, why
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
	if cpu := a.b.Devices[0]; a.fits && a.s.MMap && cpu.RepackBytes > 0 && !a.s.NoRepack && !req.Pinned.NoRepack && pages(mc, a) {
		t := a.s
		t.NoRepack = true
		an, rn, err := placeLayers(m, mc, t, req)
		if err != nil {
			return nil, err
		}
		if with, without := predict(m, mc, a, req).DecodeTokensPerSecond, predict(m, mc, an, req).DecodeTokensPerSecond; an.fits && without > with {
			a, reasons = an, rn
			add("no_repack", "on", "the CPU_REPACK copy of %s would take the RAM the mapped weights need and page more of them in from disk each token: %s tok/s without it against %s tok/s with it",
				human(cpu.RepackBytes), units.Number(without), units.Number(with))
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
		igpu, noMmap := igpuNoMmap(mc)
		switch {
		case noMmap:
			s.MMap, a = false, an
			add("mmap", "off", "%s", igpu)
		case allOnGPU && network != "" && an.fits:
			s.MMap, a = false, an
			add("mmap", "off", "every layer goes to the GPU(s) and the model is on a network filesystem (%s), where one sequential read beats page faults and leaves no page cache behind", network)
		case !an.fits && a.fits:
			add("mmap", "on", "host weights (%s) cannot all be allocated as anonymous memory next to the rest (without mmap the host would need %s, %s available); mapped, they are page cache the kernel can evict and page back in",
				human(cpu.WeightsBytes), human(hostCommitted(mc, an.b)+an.margin[0]), human(an.avail[0]))
		case residentFraction(mc) > 0.99:
			add("mmap", "on", "the file is already in the page cache: mapping it loads instantly and shares the pages")
		case len(mc.gpus) > 0 && mc.env.hostMapped(1):
			add("mmap", "on", "llama.cpp's default, and what Metal wants: the GPU uses the mapped file's pages in place (no copy), so the weights take the RAM once")
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
	// Ollama splits the layers over the GPUs itself (llm/server.go
	// createLayout): a plan for it cannot set the split.
	autoSplit := nGPU > 1 && !req.Pinned.TensorSplit && len(s.TensorSplit) == 0 && !mc.env.Runtime.profile().Ollama
	switch {
	case nGPU == 0:
		if req.Pinned.NGPULayers && s.NGPULayers > 0 {
			add("n_gpu_layers", "0", "no GPU: -ngl %d has nothing to offload to (llama.cpp ignores it with a warning)", s.NGPULayers)
		}
		s.NGPULayers = 0
	case req.Pinned.NGPULayers:
		switch asked := s.NGPULayers; {
		case asked > m.nLayer+1:
			add("n_gpu_layers", fmt.Sprint(m.nLayer+1), "-ngl %d asks for more than the model has: all %d layers and the output", asked, m.nLayer)
		default:
			add("n_gpu_layers", fmt.Sprint(asked), "pinned by the user")
		}
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
			if !mc.env.Runtime.profile().outputFirst() {
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
func pages(mc *machine, a *attempt) bool {
	cpu := a.b.Devices[0]
	return a.s.MMap && cpu.ResidentBytes > 0 && int64(a.avail[0])-int64(hostCommitted(mc, a.b))-int64(a.margin[0]) < int64(cpu.ResidentBytes)
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
