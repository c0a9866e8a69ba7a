package planner

import (
	"fmt"
	"sort"
	"strings"

	"github.com/modelfit/modelfit/gguf"
)

// Runtime names the build a plan targets. llama.cpp's memory rules change
// between builds (which weights the CPU repacks, which layers -ngl
// offloads first, how n_ctx past the training context is handled), and
// Ollama adds rules of its own on top of the llama.cpp it vendors: each
// Runtime is a profile of those rules, every one keyed to the upstream
// change or the Ollama source that introduced it (see Profile).
type Runtime string

// The runtime profiles.
const (
	// RuntimeLlamaCpp is current upstream llama.cpp, build 10587 (commit
	// 3f545bec, August 2026), the build in ../shared/tools: the default.
	RuntimeLlamaCpp Runtime = "llama.cpp"
	// RuntimeLlamaCppB6529 is upstream build 6529 (commit 1eeb523c3,
	// September 2025), the build of the reference figures in
	// ../shared/ref/upstream.
	RuntimeLlamaCppB6529 Runtime = "llama.cpp-b6529"
	// RuntimeOllama is Ollama v0.17.4 running a model on its llama.cpp
	// runner (runner/llamarunner), that is the llama.cpp it vendors (commit
	// ec98e2002, 16 December 2025) built without CPU repacking, driven
	// through Ollama's options. For an architecture Ollama v0.17.4 runs on
	// its Go engine instead, Make switches to RuntimeOllamaEngine and says
	// so (OllamaRunnerFor).
	RuntimeOllama Runtime = "ollama"
	// RuntimeOllamaEngine is Ollama v0.17.4's own Go engine
	// (runner/ollamarunner, model/models/): the vendored ggml without
	// llama.cpp's loader. It never maps the file, places layers as Ollama's
	// scheduler lists them and sizes its own KV cache; its compute graph is
	// measured when it loads and is not modelled here (the plan says so).
	RuntimeOllamaEngine Runtime = "ollama-engine"
)

// change is one upstream llama.cpp change a runtime's memory depends on:
// the PR, its merge commit and date. Whether a build has it was checked
// with `git merge-base --is-ancestor COMMIT BUILD` on the upstream
// repository for b6529 (1eeb523c3), Ollama's ec98e2002 and b10587
// (3f545bec); for these the merge dates order the same way, so a profile
// compares dates.
type change struct {
	pr     int
	commit string
	date   string // YYYY-MM-DD
	what   string
}

func (c change) String() string {
	return fmt.Sprintf("llama.cpp PR #%d (%s, %s)", c.pr, c.commit, c.date)
}

// The changes the profiles tell apart.
var (
	// src/llama-model.cpp load_tensors: i_gpu_start = n_layer + 1 -
	// n_gpu_layers, the output layer counted first; before it
	// n_layer - n_gpu_layers, the last N repeating layers first and the
	// output only at N = n_layer + 1.
	changeOutputFirst = change{18148, "57c1e0564", "2025-12-18", "-ngl offloads the output layer first"}
	// src/llama-model-loader.cpp load_all_data: the pinned upload buffers
	// grow from 4 × 1 MiB to 4 × (64 MiB + 2 read alignments) for direct
	// I/O reads.
	changeDirectIO = change{18012, "4d4f4cacd", "2025-12-18", "no-mmap uploads stage through 4 × (64 MiB + 8 KiB) of pinned memory"}
	// tools/server (server-context.cpp): a slot's context is capped at
	// n_ctx_train ("the slot context exceeds the training context of the
	// model - capping"); the KV cache is still allocated for n_ctx.
	changeSlotCap = change{16736, "cd5e3b575", "2025-11-02", "llama-server caps a slot's context at the training context"}
	// src/llama-context.cpp: the graph is reserved for n_outputs_max
	// outputs (one per sequence by default) instead of a whole ubatch of
	// logits.
	changeOutputsMax = change{23861, "de6f727aa", "2026-06-01", "the graph reserves one output per sequence"}
	// src/llama-kv-cache.cpp: an MLA model keeps no V cache (its V is the
	// latent already in K).
	changeVLess = change{19067, "d9c6ce46f", "2026-01-25", "V-less cache for MLA models"}
)

// Profile describes a runtime: the build and where its rules come from.
type Profile struct {
	Runtime Runtime `json:"runtime"`
	// Build names the build: "llama.cpp b10587 (3f545bec, 2026-08-23)".
	Build string `json:"build"`
	// Ollama is set for the runtimes driven through Ollama: plans use only
	// what Ollama can express (no tensor overrides or split, one KV type,
	// flash attention and KV type from the server's environment).
	Ollama bool `json:"ollama"`
	// Notes are the profile's rules with their sources.
	Notes []string `json:"notes"`

	// llamaDate is the date of the llama.cpp source the build contains;
	// a change merged on or before it is in the build.
	llamaDate string
	// repacks: ggml-cpu is built with GGML_USE_CPU_REPACK.
	repacks bool
	// engine: Ollama's Go engine (no llama.cpp loader, context or server).
	engine bool
}

var profiles = map[Runtime]*Profile{
	RuntimeLlamaCpp: {
		Runtime: RuntimeLlamaCpp, Build: "llama.cpp b10587 (3f545bec, 2026-08-23)", llamaDate: "2026-08-23", repacks: true,
	},
	RuntimeLlamaCppB6529: {
		Runtime: RuntimeLlamaCppB6529, Build: "llama.cpp b6529 (1eeb523c3, 2025-09-21)", llamaDate: "2025-09-21", repacks: true,
	},
	RuntimeOllama: {
		Runtime: RuntimeOllama, Build: "Ollama v0.17.4, llama.cpp runner (vendored llama.cpp ec98e2002, 2025-12-16)", llamaDate: "2025-12-16", Ollama: true,
		// Ollama's CMakeLists.txt adds ml/backend/ggml/ggml/src without
		// ever setting GGML_CPU_REPACK, and ggml-cpu/CMakeLists.txt defines
		// GGML_USE_CPU_REPACK only under it (its cgo build sets neither):
		// no CPU_REPACK buffer in any Ollama runner.
		repacks: false,
	},
	RuntimeOllamaEngine: {
		Runtime: RuntimeOllamaEngine, Build: "Ollama v0.17.4, Go engine (ollamarunner, vendored ggml ec98e2002)", llamaDate: "2025-12-16", Ollama: true,
		repacks: false, engine: true,
	},
}

func init() {
	for _, p := range profiles {
		p.Notes = p.notes()
	}
}

// ParseRuntime returns the runtime a --runtime value names: llama.cpp (or
// b10587, upstream), llama.cpp-b6529 (or b6529), ollama, ollama-engine.
func ParseRuntime(s string) (Runtime, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "llama.cpp", "llamacpp", "upstream", "b10587", "llama.cpp-b10587":
		return RuntimeLlamaCpp, nil
	case "b6529", "llama.cpp-b6529":
		return RuntimeLlamaCppB6529, nil
	case "ollama", "ollama-llama.cpp":
		return RuntimeOllama, nil
	case "ollama-engine", "ollamarunner":
		return RuntimeOllamaEngine, nil
	}
	return "", fmt.Errorf("planner: unknown runtime %q: want one of %s", s, strings.Join(runtimeNames(), ", "))
}

func runtimeNames() []string {
	var out []string
	for r := range profiles {
		out = append(out, string(r))
	}
	sort.Strings(out)
	return out
}

// Profiles lists the runtime profiles, the default first.
func Profiles() []Profile {
	out := []Profile{*profiles[RuntimeLlamaCpp]}
	for _, n := range runtimeNames() {
		if Runtime(n) != RuntimeLlamaCpp {
			out = append(out, *profiles[Runtime(n)])
		}
	}
	return out
}

// Profile returns the runtime's profile; the zero Runtime is the default.
func (r Runtime) Profile() (Profile, bool) {
	p, ok := profiles[orRuntime(r)]
	if !ok {
		return Profile{}, false
	}
	return *p, true
}

// IsOllama reports whether the runtime is driven through Ollama.
func (r Runtime) IsOllama() bool { return r.profile().Ollama }

// profile returns the rules of r; an unknown runtime gets the default's
// (Make and ParseRuntime refuse unknown names before).
func (r Runtime) profile() *Profile {
	if p, ok := profiles[orRuntime(r)]; ok {
		return p
	}
	return profiles[RuntimeLlamaCpp]
}

func orRuntime(r Runtime) Runtime {
	if r == "" {
		return RuntimeLlamaCpp
	}
	return r
}

// has reports whether the build contains upstream change c.
func (p *Profile) has(c change) bool { return !p.engine && c.date <= p.llamaDate }

// hasGGML reports whether the build's ggml contains change c (the Go
// engine links the same vendored ggml as Ollama's llama.cpp runner).
func (p *Profile) hasGGML(c change) bool { return c.date <= p.llamaDate }

// outputFirst reports whether n_gpu_layers = N puts the output layer on a
// GPU before the repeating layers: upstream since PR #18148. Ollama's Go
// engine gets an explicit layer list from Ollama's scheduler, whose
// assignLayers (llm/server.go) drops the output layer first when not every
// layer fits ("prefer offloading layers other than the output layer"): the
// last N repeating layers, as the older llama.cpp rule.
func (p *Profile) outputFirst() bool { return p.has(changeOutputFirst) }

// mapsWeights reports whether the runtime can map the model file: Ollama's
// Go engine reads every tensor into buffers it allocates
// (ml/backend/ggml/ggml.go Backend.Load; LoadRequest.UseMmap is "not used
// with the Ollama engine", llm/server.go).
func (p *Profile) mapsWeights() bool { return !p.engine }

// pinnedStaging is the pinned host memory the loader allocates to upload
// weights read without mmap to GPUs: 4 buffers of 1 MiB, or 4 × (64 MiB +
// two read alignments of 4 KiB) since direct I/O loading (PR #18012). The
// Go engine uploads each tensor from a Go buffer instead (not counted: it
// is freed before the model runs).
func (p *Profile) pinnedStaging() uint64 {
	switch {
	case p.engine:
		return 0
	case p.has(changeDirectIO):
		return 4 * (64<<20 + 2*4096)
	}
	return 4 << 20
}

// outputsMax reports whether the graph is reserved for one output per
// sequence rather than a ubatch of logits (PR #23861).
func (p *Profile) outputsMax() bool { return p.has(changeOutputsMax) }

// notes renders the profile's rules for the plan.
func (p *Profile) notes() []string {
	var n []string
	switch {
	case p.engine:
		n = append(n, "layers: Ollama's scheduler lists them, the last N repeating layers and the output only when every layer fits (llm/server.go assignLayers); num_gpu counts block_count+1 layers")
	case p.has(changeOutputFirst):
		n = append(n, "-ngl N offloads the output layer first, then the last N-1 repeating layers ("+changeOutputFirst.String()+")")
	default:
		n = append(n, "-ngl N offloads the last N repeating layers; the output layer only at N = n_layer+1 (before "+changeOutputFirst.String()+")")
	}
	if p.repacks {
		var rs []string
		seen := map[int]bool{}
		for _, arch := range []string{"amd64", "arm64"} {
			for _, r := range repackRules[arch] {
				if p.hasGGML(r.since) && !seen[r.since.pr] {
					seen[r.since.pr] = true
					rs = append(rs, fmt.Sprintf("#%d", r.since.pr))
				}
			}
		}
		n = append(n, "CPU weights of some types are copied into a CPU_REPACK buffer (ggml-cpu/repack.cpp rules from PRs "+strings.Join(rs, ", ")+")")
	} else {
		n = append(n, "no CPU_REPACK buffer: Ollama builds ggml-cpu without GGML_CPU_REPACK (CMakeLists.txt)")
	}
	if !p.mapsWeights() {
		n = append(n, "never maps the file: every host weight is allocated (ml/backend/ggml/ggml.go Backend.Load); use_mmap has no effect")
	}
	switch {
	case p.Ollama:
		n = append(n, "num_ctx above the training context is cut to it before the runner starts, and the KV cache sized for the cut value (llm/server.go NewLlamaServer)")
	case p.has(changeSlotCap):
		n = append(n, "n_ctx above the training context: each slot is capped at it but the KV cache is still sized for n_ctx ("+changeSlotCap.String()+")")
	default:
		n = append(n, "n_ctx above the training context is used as given (a warning only; "+changeSlotCap.String()+" later caps slots)")
	}
	if p.engine {
		n = append(n, "compute graph: measured by the engine when it loads (ollamarunner reserveWorstCaseGraph); not modelled here, llama.cpp's figure for the same model and batch stands in")
	}
	return n
}

// engineCacheCells sizes the Go engine's caches as kvcache.Causal.Init
// does: a full-attention cache of every sequence's num_ctx, padded to 256
// (ml/backend/ggml CacheConfig); a sliding-window cache of each sequence's
// window (one cell more with several sequences) plus one batch, padded,
// unless that is no smaller than the full cache. gpt-oss keeps 4096 cells
// per sequence for its window (NewSWAMemCache in model/models/gptoss).
func engineCacheCells(h gguf.HParams, nCtx, nSeq, batch int) cells {
	capacity := nCtx / nSeq
	c := cells{nCtx: padTo(nSeq*capacity, 256), seq: capacity}
	if h.SlidingWindow == 0 {
		return c
	}
	window := int(min(h.SlidingWindow, 1<<30))
	mem := window
	if h.Architecture == "gpt-oss" || h.Architecture == "gptoss" {
		mem = 4096
	}
	if nSeq > 1 {
		mem = max(mem, window+1)
	}
	if mem >= capacity {
		c.swa, c.swaSeq = c.nCtx, capacity
		return c
	}
	c.swa = padTo(nSeq*mem+batch, 256)
	c.swaSeq = min(mem+batch, capacity)
	return c
}

// kvRowsFor is kvRows as the runtime caches: Ollama's Go engine stores what
// each model's Forward puts in its cache, which for a deepseek2 file
// without the MLA key lengths (model/models/deepseek2: isMLA false) is the
// full per-head keys and values, head_count_kv × key_length and ×
// value_length (what llama.cpp caches for such a file too, see kvRows).
func (m *model) kvRowsFor(p *Profile, il int, kt, vt gguf.Type, fa bool, rt Runtime) (k, v uint64, err error) {
	h := &m.h
	if !p.engine || h.Architecture != "deepseek2" || h.KVLoraRank == 0 || h.KeyLengthMLA != 0 {
		return m.kvRows(il, kt, vt, fa, rt)
	}
	nkv := h.HeadCountKV.At(il)
	k, okK := kt.RowBytes(nkv * h.KeyLength)
	v, okV := vt.RowBytes(nkv * h.ValueLength)
	if !okK || !okV || h.KeyLength%kt.BlockSize() != 0 || h.ValueLength%vt.BlockSize() != 0 {
		return 0, 0, fmt.Errorf("planner: layer %d: K cache %s or V cache %s does not divide the head sizes %d and %d: %w", il, kt, vt, h.KeyLength, h.ValueLength, ErrBadCacheType)
	}
	return k, v, nil
}
