package planner

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/probe"
)

// ErrOllamaCannot is returned for settings a runtime driven through Ollama
// cannot apply (tensor overrides, a tensor split, different K and V types…).
var ErrOllamaCannot = errors.New("Ollama cannot apply this setting")

// ollamaRequest adapts a request for a runtime driven through Ollama: the
// runner Ollama picks for the file, the settings only Ollama's options and
// environment can express, and Ollama's own defaults (its context, the
// server's parallel sequences) where the user pinned nothing.
func ollamaRequest(f *gguf.File, snap *probe.Snapshot, req Request) (Request, []Reason, error) {
	var reasons []Reason
	add := func(setting, choice, format string, args ...any) {
		reasons = append(reasons, Reason{setting, choice, fmt.Sprintf(format, args...)})
	}
	if req.Runtime == RuntimeOllama {
		r, why := OllamaRunnerFor(f, req.OllamaEnv)
		req.Runtime = r
		add("runtime", string(r), "%s", why)
	}
	s, pin := &req.Settings, &req.Pinned
	cannot := func(what string) error { return fmt.Errorf("planner: %s: %w", what, ErrOllamaCannot) }
	switch {
	case len(s.Overrides) > 0:
		return req, nil, cannot("tensor overrides (-ot): Ollama places whole layers only")
	case pin.TensorSplit:
		return req, nil, cannot("a tensor split (-ts): Ollama splits layers over the GPUs itself (llm/server.go createLayout)")
	case s.NoKVOffload:
		return req, nil, cannot("--nkvo: Ollama keeps each layer's cache with the layer")
	case s.MLock:
		return req, nil, cannot("--mlock: Ollama v0.17.4 has no use_mlock option (api.Runner)")
	case pin.CacheTypeK && pin.CacheTypeV && s.CacheTypeK != s.CacheTypeV:
		return req, nil, cannot("different K and V cache types: OLLAMA_KV_CACHE_TYPE sets both")
	}
	if pin.CacheTypeK != pin.CacheTypeV {
		// One type for both.
		if pin.CacheTypeK {
			s.CacheTypeV = s.CacheTypeK
		} else {
			s.CacheTypeK = s.CacheTypeV
		}
		pin.CacheTypeK, pin.CacheTypeV = true, true
	}
	kv := newOllamaKV(f)
	if !kv.supportsFlashAttention() {
		if pin.FlashAttn && s.FlashAttn {
			return req, nil, cannot("flash attention for this model: Ollama turns it off (fs/ggml SupportsFlashAttention: K and V head sizes differ, or embedding model or gemma2)")
		}
		if vt, _ := gguf.ParseType(s.CacheTypeV); pin.CacheTypeV && vt.BlockSize() > 1 {
			return req, nil, cannot("a quantized KV cache for this model: it needs flash attention, which Ollama turns off for it")
		}
		s.FlashAttn, pin.FlashAttn = false, true
		add("flash_attn", "off", "Ollama turns flash attention off for this model (fs/ggml SupportsFlashAttention: K and V head sizes %d and %d), so the KV cache stays f16", kv.headK, kv.headV)
	}
	if !req.Runtime.profile().mapsWeights() {
		if pin.MMap && s.MMap {
			return req, nil, cannot("mmap on Ollama's Go engine: it reads every weight into allocated buffers")
		}
		s.MMap, pin.MMap = false, true
		add("mmap", "off", "Ollama's Go engine reads every weight into buffers it allocates (ml/backend/ggml Backend.Load): use_mmap has no effect")
	}
	np := max(int(req.OllamaEnv.NumParallel), 1)
	if pin.NParallel {
		np = max(s.NParallel, 1)
	} else {
		s.NParallel, pin.NParallel = np, true
		add("n_parallel", fmt.Sprint(np), "the server's OLLAMA_NUM_PARALLEL (default 1): each sequence gets num_ctx cells")
	}
	want := s.NCtx
	if !pin.NCtx || want <= 0 {
		var vram uint64
		for _, g := range snap.GPUs {
			vram += g.TotalBytes - min(g.TotalBytes, req.OllamaEnv.GPUOverhead)
		}
		per := 4096
		switch {
		case req.OllamaEnv.ContextLength > 0:
			per = int(min(req.OllamaEnv.ContextLength, 1<<24))
		case vram >= 47<<30:
			per = 262144
		case vram >= 23<<30:
			per = 32768
		}
		want = per * np
		why := fmt.Sprintf("Ollama's default num_ctx for %s of VRAM (server/routes.go Serve)", human(vram))
		if req.OllamaEnv.ContextLength > 0 {
			why = "OLLAMA_CONTEXT_LENGTH"
		}
		if kv.train > 0 && uint64(per) > kv.train {
			want = int(kv.train) * np
			why += fmt.Sprintf(", cut to the training context %d as Ollama does (llm.NewLlamaServer)", kv.train)
		}
		s.NCtx = want
		add("n_ctx", fmt.Sprint(want), "not given: %s, shrunk below only if it does not fit", why)
	} else if kv.train > 0 && uint64(want/np) > kv.train {
		s.NCtx = int(kv.train) * np
		add("n_ctx", fmt.Sprint(s.NCtx), "num_ctx %d cut to the training context %d: Ollama does so before it starts the runner and sizes the KV cache for the cut value (llm.NewLlamaServer)", want/np, kv.train)
	}
	if s.NUbatch <= 0 {
		s.NUbatch = 512 // api.DefaultOptions num_batch
	}
	if !pin.NBatch {
		// llama.NewContextParams: n_batch = num_batch × parallel, n_ubatch =
		// num_batch; the engine runs one batch of num_batch.
		s.NBatch, pin.NBatch = s.NUbatch*np, true
		if req.Runtime == RuntimeOllamaEngine {
			s.NBatch = s.NUbatch
		}
		if !pin.NUbatch {
			add("num_batch", fmt.Sprint(s.NUbatch), "Ollama's default num_batch (api.DefaultOptions), its physical batch; reduced only if the compute buffers do not fit")
		}
	}
	return req, reasons, nil
}

// ollamaExpressible reports why the plan's settings are not what Ollama can
// apply, or "" when they are.
func (p *Plan) ollamaExpressible() string {
	s := p.Settings
	var bad []string
	if !p.Runtime.profile().Ollama {
		bad = append(bad, fmt.Sprintf("it targets %s, not Ollama (plan it with --runtime ollama)", p.Runtime))
	}
	if len(s.Overrides) > 0 {
		bad = append(bad, "tensor overrides (-ot)")
	}
	if len(s.TensorSplit) > 0 {
		bad = append(bad, "a tensor split (-ts)")
	}
	if s.NoKVOffload {
		bad = append(bad, "--nkvo")
	}
	if s.MLock {
		bad = append(bad, "--mlock")
	}
	if s.CacheTypeK != s.CacheTypeV {
		bad = append(bad, "different K and V cache types")
	}
	return strings.Join(bad, ", ")
}

// OllamaOptions renders the plan as Ollama request options (the API's
// "options" object): num_ctx per sequence, num_batch (Ollama's num_batch is
// the physical batch), num_gpu counted as Ollama counts layers (block_count
// + 1), num_thread, and use_mmap where the runner maps files. It refuses a
// plan that uses what Ollama cannot apply.
func (p *Plan) OllamaOptions() (map[string]any, error) {
	if why := p.ollamaExpressible(); why != "" {
		return nil, fmt.Errorf("planner: the plan is not for Ollama: %s: %w", why, ErrOllamaCannot)
	}
	s := p.Settings
	o := map[string]any{
		"num_ctx":    s.NCtx / max(s.NParallel, 1),
		"num_batch":  s.NUbatch,
		"num_gpu":    s.NGPULayers,
		"num_thread": s.Threads,
	}
	if p.Runtime.profile().mapsWeights() {
		o["use_mmap"] = s.MMap
	}
	return o, nil
}

// OllamaEnv returns the server environment the plan needs, as NAME=VALUE:
// flash attention and the KV cache type are server-wide in Ollama
// (OLLAMA_FLASH_ATTENTION, OLLAMA_KV_CACHE_TYPE), as are the parallel
// sequences (OLLAMA_NUM_PARALLEL). Variables that current already sets as
// needed are left out.
func (p *Plan) OllamaEnv(current OllamaEnv) []string {
	s := p.Settings
	var out []string
	kvt := strings.ToLower(s.CacheTypeK)
	cur := strings.ToLower(current.KVCacheType)
	if cur == "" {
		cur = "f16"
	}
	if kvt != cur {
		out = append(out, "OLLAMA_KV_CACHE_TYPE="+kvt)
	}
	// What flash attention Ollama runs with under current
	// (llm.NewLlamaServer): the engine takes the variable or the
	// architecture's default; the llama.cpp runner passes auto (on where
	// supported) when it is unset, and takes a quantized cache only with
	// it explicitly on.
	explicit := current.FlashAttention != "" && current.flashAttention(false)
	effective := current.FlashAttention == "" || explicit
	if p.Runtime == RuntimeOllamaEngine {
		effective = current.flashAttention(containsStr(ollamaFlashAttentionArchs, p.Model.Architecture))
		explicit = effective
	}
	switch {
	case s.FlashAttn && (!effective || kvt != "f16" && !explicit):
		out = append(out, "OLLAMA_FLASH_ATTENTION=1")
	case !s.FlashAttn && effective:
		out = append(out, "OLLAMA_FLASH_ATTENTION=0")
	}
	if np := max(s.NParallel, 1); uint64(np) != max(current.NumParallel, 1) {
		out = append(out, fmt.Sprintf("OLLAMA_NUM_PARALLEL=%d", np))
	}
	sort.Strings(out)
	return out
}

// Modelfile renders the plan as a Modelfile for `ollama create`: a FROM
// line (the Ollama model name the plan was made for, else the file) and
// PARAMETER lines for the options, with the server environment the plan
// needs as comments.
func (p *Plan) Modelfile(current OllamaEnv) (string, error) {
	o, err := p.OllamaOptions()
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	from := p.Model.OllamaName
	if from == "" {
		from = p.Model.Path
	}
	if from != "" {
		fmt.Fprintf(&sb, "FROM %s\n", from)
	}
	for _, k := range []string{"num_ctx", "num_batch", "num_gpu", "num_thread", "use_mmap"} {
		if v, ok := o[k]; ok {
			fmt.Fprintf(&sb, "PARAMETER %s %v\n", k, v)
		}
	}
	if env := p.OllamaEnv(current); len(env) > 0 {
		fmt.Fprintf(&sb, "# server-wide, set where `ollama serve` runs: %s\n", strings.Join(env, " "))
	}
	return sb.String(), nil
}

// OllamaFix returns the plan as what a user gives Ollama: the options (as
// stored with a model or sent with a request) and the server environment
// with the plan's changes applied to current.
func (p *Plan) OllamaFix(current OllamaEnv) (OllamaOptions, OllamaEnv, error) {
	o, err := p.OllamaOptions()
	if err != nil {
		return OllamaOptions{}, current, err
	}
	ip := func(k string) *int { v := o[k].(int); return &v }
	opts := OllamaOptions{NumCtx: ip("num_ctx"), NumBatch: ip("num_batch"), NumGPU: ip("num_gpu"), NumThread: ip("num_thread")}
	if v, ok := o["use_mmap"].(bool); ok {
		opts.UseMMap = &v
	}
	env := current
	for _, kv := range p.OllamaEnv(current) {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "OLLAMA_KV_CACHE_TYPE":
			env.KVCacheType = v
		case "OLLAMA_FLASH_ATTENTION":
			env.FlashAttention = v
		case "OLLAMA_NUM_PARALLEL":
			n, _ := strconv.ParseUint(v, 10, 64)
			env.NumParallel = n
		}
	}
	return opts, env, nil
}

// OllamaOptionsJSON is OllamaOptions as the JSON of an API request's
// "options".
func (p *Plan) OllamaOptionsJSON() (string, error) {
	o, err := p.OllamaOptions()
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(o)
	return string(b), err
}

// ollamaRefuses applies Ollama's own check to settings planned for its
// llama.cpp runner: verifyLayout (llm/server.go) refuses a load whose
// layers left on the CPU, by Ollama's estimate (fs/ggml GraphSize and the
// tensor sizes), exceed free memory plus swap, mapped or not. The Go
// engine's check uses what the runner reports, which the planner's own
// host total already is.
func ollamaRefuses(m *model, mc *machine, s Settings) string {
	if mc.env.Runtime != RuntimeOllama {
		return ""
	}
	if m.ollama == nil {
		kv := newOllamaKV(m.f)
		m.ollama = &kv
		m.ollamaGroups = ollamaGroupSizes(m.f)
	}
	np := max(s.NParallel, 1)
	kvt := ""
	if s.CacheTypeK != "f16" {
		kvt = s.CacheTypeK
	}
	cache, _, _ := ollamaGraphSize(m.f, *m.ollama, uint64(s.NCtx/np), uint64(s.NUbatch), np, kvt, s.FlashAttn)
	// ec98e2002 offloads the last n_gpu_layers repeating layers; the output
	// only with all of them.
	first := m.nLayer - min(s.NGPULayers, m.nLayer)
	var cpu uint64
	for i := 0; i < first; i++ {
		cpu += m.ollamaGroups[fmt.Sprintf("blk.%d", i)] + cache[i]
	}
	if s.NGPULayers <= m.nLayer {
		out, ok := m.ollamaGroups["output"]
		if !ok {
			out = m.ollamaGroups["token_embd"]
		}
		cpu += m.ollamaGroups["output_norm"] + out
	}
	free, swap := ollamaFreeMemory(mc.snap)
	if cpu > free+swap {
		more := (cpu - free - swap + 1<<30 - 1) >> 30
		return fmt.Sprintf("Ollama refuses the load: the layers it leaves on the CPU take %s by its own estimate, more than free memory and swap (%s), mapped or not (llm/server.go verifyLayout: \"model requires more system memory\"); Ollama counts free swap, so %d GiB more swap would let it load with use_mmap true", human(cpu), human(free+swap), more)
	}
	return ""
}
