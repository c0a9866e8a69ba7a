package planner

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/ggufwrite"
	"github.com/modelfit/modelfit/internal/testutil"
)

func TestOllamaEnvFrom(t *testing.T) {
	env := map[string]string{"OLLAMA_FLASH_ATTENTION": "yes-please", "OLLAMA_KV_CACHE_TYPE": `"q8_0"`, "OLLAMA_CONTEXT_LENGTH": " 8192 ",
		"OLLAMA_NUM_PARALLEL": "x", "OLLAMA_NEW_ENGINE": "0", "OLLAMA_GPU_OVERHEAD": "1073741824"}
	e := OllamaEnvFrom(func(k string) string { return env[k] })
	// envconfig: an unparsable boolean is true, an unparsable number the
	// default; quotes and spaces are trimmed.
	if !e.flashAttention(false) || e.KVCacheType != "q8_0" || e.ContextLength != 8192 || e.NumParallel != 0 || e.NewEngine || e.GPUOverhead != 1<<30 {
		t.Errorf("%+v", e)
	}
	if (OllamaEnv{}).flashAttention(true) != true || (OllamaEnv{FlashAttention: "false"}).flashAttention(true) {
		t.Error("FlashAttention defaults")
	}
}

// header builds a header-only file with the given metadata.
func header(t *testing.T, arch string, kvs ...ggufwrite.KV) *gguf.File {
	t.Helper()
	all := append([]ggufwrite.KV{{Key: "general.architecture", Value: arch}, {Key: arch + ".block_count", Value: uint32(1)},
		{Key: arch + ".embedding_length", Value: uint32(64)}, {Key: arch + ".attention.head_count", Value: uint32(4)}}, kvs...)
	b, err := ggufwrite.Encode(all, []ggufwrite.Tensor{{Name: "blk.0.attn_q.weight", Type: gguf.TypeF32, Shape: []uint64{64, 64}, Data: make([]byte, 64*64*4)}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestOllamaRunnerFor(t *testing.T) {
	pre := func(p string) ggufwrite.KV { return ggufwrite.KV{Key: "tokenizer.ggml.pre", Value: p} }
	tok := func(m string) ggufwrite.KV { return ggufwrite.KV{Key: "tokenizer.ggml.model", Value: m} }
	tests := []struct {
		name string
		f    *gguf.File
		env  OllamaEnv
		want Runtime
		why  string
	}{
		{"deepseek-v3", deepseek(t), OllamaEnv{}, RuntimeOllamaEngine, "OllamaEngineRequired"},
		{"deepseek-llm tokenizer", header(t, "deepseek2", pre("deepseek-llm")), OllamaEnv{}, RuntimeOllama, "deepseek-v3 pre-tokenizer"},
		{"llama", header(t, "llama", tok("gpt2")), OllamaEnv{}, RuntimeOllama, "llama.cpp runner"},
		{"llama, new engine", header(t, "llama", tok("gpt2")), OllamaEnv{NewEngine: true}, RuntimeOllamaEngine, "OLLAMA_NEW_ENGINE"},
		{"llama bert tokenizer, new engine", header(t, "llama", tok("bert")), OllamaEnv{NewEngine: true}, RuntimeOllama, `no "bert" tokenizer`},
		{"qwen3", header(t, "qwen3", tok("gpt2")), OllamaEnv{}, RuntimeOllamaEngine, "Go engine"},
		{"phi3, new engine", header(t, "phi3"), OllamaEnv{NewEngine: true}, RuntimeOllama, "no model for phi3"},
		{"qwen2 beta", header(t, "qwen2", ggufwrite.KV{Key: "general.name", Value: "Qwen2-beta-7B"}), OllamaEnv{NewEngine: true}, RuntimeOllama, "Qwen2-beta"},
		{"gemma3 embedding", header(t, "gemma3", ggufwrite.KV{Key: "gemma3.pooling_type", Value: uint32(1)}), OllamaEnv{}, RuntimeOllamaEngine, "Go engine"},
	}
	for _, tt := range tests {
		got, why := OllamaRunnerFor(tt.f, tt.env)
		if got != tt.want || !strings.Contains(why, tt.why) {
			t.Errorf("%s: %s (%s), want %s (%q)", tt.name, got, why, tt.want, tt.why)
		}
	}
}

// The layout mirrors llm/server.go: from the last layer down, and when not
// every layer fits, the output layer is the one left out.
func TestOllamaLayout(t *testing.T) {
	gib := uint64(1 << 30)
	sizes := []uint64{10 * gib, 10 * gib, 10 * gib, 10 * gib, 5 * gib} // four blocks and the output
	one := []olGPU{{id: 0, library: "CUDA", free: 35*gib + ollamaMinimumMemory}}
	tests := []struct {
		name   string
		gpus   []olGPU
		numGPU int
		want   [][]int // per GPU in layer order
	}{
		{"all fit", []olGPU{{id: 0, library: "CUDA", free: 46*gib + ollamaMinimumMemory}}, -1, [][]int{{0, 1, 2, 3, 4}}},
		{"output left out", one, -1, [][]int{{1, 2, 3}}},
		{"requested 2", one, 2, [][]int{{2, 3}}},
		{"requested beyond the GPU, forced", one, 5, [][]int{{0, 1, 2, 3, 4}}},
		{"requested 0", one, 0, nil}, // an empty list, as assignLayers returns
		{"two GPUs", []olGPU{{id: 0, library: "CUDA", free: 25*gib + ollamaMinimumMemory}, {id: 1, library: "CUDA", free: 25*gib + ollamaMinimumMemory}}, -1,
			[][]int{{0, 1}, {2, 3, 4}}},
	}
	for _, tt := range tests {
		a, stuck := olLayout(sizes, tt.gpus, tt.numGPU, 0, false, 0)
		if stuck {
			t.Errorf("%s: stuck", tt.name)
		}
		var got [][]int
		for _, g := range a {
			got = append(got, append([]int{}, g.layers...))
		}
		if len(got) != len(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
			continue
		}
		for i := range got {
			if !equalInts(got[i], tt.want[i]) {
				t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
			}
		}
	}
	// Overhead and the graph come off the free memory first.
	if a, _ := olLayout(sizes, []olGPU{{id: 0, library: "CUDA", free: 35*gib + ollamaMinimumMemory, graph: 6 * gib}}, -1, 0, false, 0); a.sum() != 2 {
		t.Errorf("with a 6 GiB graph: %d layers, want 2", a.sum())
	}
	// A num_gpu asking a GPU for more than 16 times what it holds: Ollama's
	// float32 bisection never reaches its 1e-6 gap (checked against
	// llm/server.go's own assignLayers, which does not return either).
	if _, stuck := olLayout(sizes, []olGPU{{id: 0, library: "CUDA", free: 2*gib + ollamaMinimumMemory}}, 5, 0, false, 0); !stuck {
		t.Error("45 GiB forced onto 2 GiB: Ollama's search does not end, the reproduction should say so")
	}
}

// Ollama sizes its llama.cpp runner's cache with its own defaults: f16
// unless a quantized type is on, K and V per head from the header, and
// the context times the parallel sequences.
func TestOllamaGraphSizeCache(t *testing.T) {
	f := deepseek(t)
	kv := newOllamaKV(f)
	cache, partial, full := ollamaGraphSize(f, kv, 4096, 512, 2, "", false)
	// DeepSeek-V3 (MLA file): one KV head, key 576, value 512.
	if want := uint64(4096*2) * (576 + 512) * 2; cache[0] != want || len(cache) != 61 {
		t.Errorf("cache %d (%d layers), want %d", cache[0], len(cache), want)
	}
	if q, _, _ := ollamaGraphSize(f, kv, 4096, 512, 2, "q8_0", false); q[0] != cache[0]/2 {
		t.Errorf("q8_0 cache %d, want half of %d", q[0], cache[0])
	}
	if partial <= full || full < 4*512*(3*7168+129280) {
		t.Errorf("graphs partial %d full %d", partial, full)
	}
	if kv.supportsFlashAttention() {
		t.Error("Ollama supports flash attention only for equal K and V head sizes")
	}
}

// The seed scenario on Ollama: DeepSeek-V3 Q2_K (227 GiB) on 200 GiB of
// RAM and one 80 GiB GPU. Ollama v0.17.4 runs it on its Go engine, which
// never maps the file, at its default context for 80 GiB of VRAM cut to
// the training context: the CPU's share exceeds the RAM and Ollama refuses
// the load. The plan for Ollama fits, and Ollama's own rules accept it.
func TestOllamaSeedScenario(t *testing.T) {
	f := deepseek(t)
	snap := machine80(200 << 30)
	d, err := DecideOllama(f, snap, OllamaEnv{}, OllamaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Runner != RuntimeOllamaEngine || d.NumCtx != 163840 || d.MMap || d.FlashAttention != "off" || d.Loads ||
		!strings.Contains(d.Failure, "model requires more system memory") || len(d.NotModelled) == 0 {
		t.Fatalf("Ollama's decision: %+v", d)
	}
	p, err := Make(context.Background(), f, snap, Request{Runtime: RuntimeOllama, OllamaName: "deepseek-v3:671b-q2_K"})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Fits || p.Runtime != RuntimeOllamaEngine || p.Settings.MMap || len(p.Settings.Overrides) > 0 || len(p.Settings.TensorSplit) > 0 || p.Settings.NGPULayers == 0 {
		t.Fatalf("plan for Ollama: fits %v runtime %s settings %+v", p.Fits, p.Runtime, p.Settings)
	}
	opts, env, err := p.OllamaFix(OllamaEnv{})
	if err != nil {
		t.Fatal(err)
	}
	check, err := DecideOllama(f, snap, env, opts)
	if err != nil || !check.Loads || check.NumGPU != p.Settings.NGPULayers {
		t.Fatalf("Ollama with the plan's options: %+v, %v", check, err)
	}
	mf, _ := p.Modelfile(OllamaEnv{})
	if !strings.HasPrefix(mf, "FROM deepseek-v3:671b-q2_K\n") || strings.Contains(mf, "use_mmap") || strings.Contains(mf, "-ot") {
		t.Errorf("Modelfile:\n%s", mf)
	}
}

// Ollama's mmap rule (ollama/ollama#10104) on its llama.cpp runner: less
// free memory than its estimate turns mmap off. With swap, Ollama's own
// check passes, but the weights left on the host no longer fit the RAM:
// the load fails where use_mmap true (the plan's fix) runs.
func TestOllamaMMapRule(t *testing.T) {
	f, err := gguf.Open(testutil.Path("zoo", "mixtral-8x7b-Q4_K_M.header.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	snap := machine80(19 << 30)
	snap.GPUs[0].TotalBytes, snap.GPUs[0].FreeBytes = 8<<30, 8<<30
	snap.Memory.SwapFreeBytes = 8 << 30
	d, err := DecideOllama(f, snap, OllamaEnv{}, OllamaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Runner != RuntimeOllama || d.MMap || d.NumGPU == 0 || d.NumGPU >= d.TotalLayers || d.Loads || !strings.Contains(d.Failure, "unable to allocate CUDA_Host buffer") {
		t.Fatalf("decision: %s\n%+v", d.Summary(), d.Rules)
	}
	// The layers llama.cpp ec98e2002 offloads for num_gpu N are the last N
	// repeating ones: the output stays on the host.
	if got := d.Devices[1].Layers; len(got) != d.NumGPU || got[len(got)-1] != 31 || d.Settings.NGPULayers != d.NumGPU {
		t.Errorf("GPU layers %v for num_gpu %d", got, d.NumGPU)
	}
	yes := true
	d2, err := DecideOllama(f, snap, OllamaEnv{}, OllamaOptions{UseMMap: &yes})
	if err != nil || !d2.MMap || !d2.Loads {
		t.Fatalf("use_mmap true: %s", d2.Summary())
	}
	p, err := Make(context.Background(), f, snap, Request{Runtime: RuntimeOllama})
	if err != nil || !p.Settings.MMap || p.Runtime != RuntimeOllama {
		t.Fatalf("plan: %v %+v", err, p.Settings)
	}
	if o, err := p.OllamaOptions(); err != nil || o["use_mmap"] != true {
		t.Errorf("options %v %v", o, err)
	}
}

// Server-wide settings: a quantized KV cache only with flash attention
// explicitly on, as llm.NewLlamaServer decides for the llama.cpp runner.
func TestOllamaKVTypeEnv(t *testing.T) {
	f, err := gguf.Open(testutil.Path("zoo", "mixtral-8x7b-Q4_K_M.header.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	snap := machine80(64 << 30)
	d, err := DecideOllama(f, snap, OllamaEnv{KVCacheType: "q8_0"}, OllamaOptions{})
	if err != nil || d.KVCacheType != "f16" || d.FlashAttention != "auto" || !hasRule(d.Rules, "kv_cache_type", "OLLAMA_FLASH_ATTENTION=1") {
		t.Errorf("q8_0 without flash attention: %+v %v", d, err)
	}
	d, err = DecideOllama(f, snap, OllamaEnv{KVCacheType: "q8_0", FlashAttention: "1"}, OllamaOptions{})
	if err != nil || d.KVCacheType != "q8_0" || d.FlashAttention != "on" || d.Settings.CacheTypeV != "q8_0" {
		t.Errorf("q8_0 with flash attention: %+v %v", d, err)
	}
	if d, _ := DecideOllama(f, snap, OllamaEnv{KVCacheType: "q5_1", FlashAttention: "1"}, OllamaOptions{}); d.KVCacheType != "f16" {
		t.Errorf("unsupported type kept: %s", d.KVCacheType)
	}
	// A pinned num_ctx above the training context is cut, as Ollama does.
	n := 100000
	if d, _ := DecideOllama(f, snap, OllamaEnv{}, OllamaOptions{NumCtx: &n}); d.NumCtx != 32768 {
		t.Errorf("num_ctx %d, want the training context", d.NumCtx)
	}
}

// What Ollama cannot apply is refused, not rendered.
func TestOllamaRequestRefuses(t *testing.T) {
	f := deepseek(t)
	snap := machine80(200 << 30)
	for name, req := range map[string]Request{
		"overrides": {Settings: Settings{Overrides: []Override{{Pattern: "exps", Device: "CPU"}}}, Pinned: Pins{Overrides: true}},
		"split":     {Settings: Settings{TensorSplit: []float64{1}}, Pinned: Pins{TensorSplit: true}},
		"mmap":      {Settings: Settings{MMap: true}, Pinned: Pins{MMap: true}},
		"fa":        {Settings: Settings{FlashAttn: true}, Pinned: Pins{FlashAttn: true}},
	} {
		req.Runtime = RuntimeOllama
		if _, err := Make(context.Background(), f, snap, req); !errors.Is(err, ErrOllamaCannot) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func hasRule(rs []Reason, setting, text string) bool {
	for _, r := range rs {
		if r.Setting == setting && strings.Contains(r.Why, text) {
			return true
		}
	}
	return false
}

// A plan for Ollama must pass Ollama's own check too: its llama.cpp
// runner refuses a load whose CPU layers (by its estimate) exceed free
// memory and swap, mapped or not; swap is what lets it through.
func TestOllamaPlanPassesOllamasCheck(t *testing.T) {
	f, err := gguf.Open(testutil.Path("zoo", "mixtral-8x7b-Q4_K_M.header.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	snap := machine80(16 << 30)
	snap.GPUs[0].TotalBytes, snap.GPUs[0].FreeBytes = 8<<30, 8<<30
	p, err := Make(context.Background(), f, snap, Request{Runtime: RuntimeOllama})
	var nf *NoFitError
	if !errors.As(err, &nf) || p.Fits || !strings.Contains(nf.Reason, "Ollama refuses the load") || !strings.Contains(nf.Reason, "6 GiB more swap") {
		t.Fatalf("without swap: %v", err)
	}
	snap.Memory.SwapFreeBytes = 6 << 30
	p, err = Make(context.Background(), f, snap, Request{Runtime: RuntimeOllama})
	if err != nil || !p.Fits || !p.Settings.MMap {
		t.Fatalf("with 6 GiB of swap: %v %+v", err, p.Settings)
	}
	opts, env, _ := p.OllamaFix(OllamaEnv{})
	if d, err := DecideOllama(f, snap, env, opts); err != nil || !d.Loads || !d.MMap {
		t.Errorf("Ollama with the plan's options: %s", d.Summary())
	}
}

func BenchmarkDecideOllama(b *testing.B) {
	f := deepseek(b)
	snap := machine80(200 << 30)
	for b.Loop() {
		if _, err := DecideOllama(f, snap, OllamaEnv{}, OllamaOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPlanOllama(b *testing.B) {
	f := deepseek(b)
	snap := machine80(200 << 30)
	for b.Loop() {
		if _, err := Make(context.Background(), f, snap, Request{Runtime: RuntimeOllama}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestOllamaSweep(t *testing.T) {
	rows, err := Sweep(context.Background(), deepseek(t), machine80(200<<30), Request{Runtime: RuntimeOllama}, 4)
	if err != nil || len(rows) == 0 {
		t.Fatalf("%v, %d rows", err, len(rows))
	}
	for _, r := range rows {
		if r.NCPUMoE != 0 {
			t.Errorf("row with experts on the CPU, which Ollama cannot do: %+v", r)
		}
	}
}
