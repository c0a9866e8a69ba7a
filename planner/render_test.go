package planner

import (
	"errors"
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	p := &Plan{Model: ModelInfo{Path: "m.gguf"}, Settings: Settings{NCtx: 8192, NBatch: 2048, NUbatch: 256, NParallel: 2, NGPULayers: 20,
		FlashAttn: true, CacheTypeK: "q8_0", CacheTypeV: "q8_0", MMap: false, MLock: true, Threads: 6, NoRepack: true,
		TensorSplit: []float64{12, 8}, Overrides: []Override{{`blk\.0\.ffn_(up|down|gate)_exps`, "CPU"}}}}
	tests := []struct {
		style ArgsStyle
		want  string
	}{
		{ArgsClassic, `-m m.gguf -c 8192 -b 2048 -ub 256 -np 2 -t 6 -ngl 20 -fa on -ctk q8_0 -ctv q8_0 -ts 12,8 -ot blk\.0\.ffn_(up|down|gate)_exps=CPU --no-mmap --mlock --no-repack`},
		{ArgsLoadMode, `-m m.gguf -c 8192 -b 2048 -ub 256 -np 2 -t 6 -ngl 20 -fa on -ctk q8_0 -ctv q8_0 -ts 12,8 -ot blk\.0\.ffn_(up|down|gate)_exps=CPU --load-mode mlock --no-repack`},
	}
	for _, tt := range tests {
		if got := strings.Join(p.LlamaCppArgs(tt.style), " "); got != tt.want {
			t.Errorf("style %d:\n got %s\nwant %s", tt.style, got, tt.want)
		}
	}
	// Locking a mapping is mmap+mlock in the --load-mode spelling; plain
	// --mlock with mmap on in the classic one.
	mapped := *p
	mapped.Settings.MMap = true
	if got := strings.Join(mapped.LlamaCppArgs(ArgsLoadMode), " "); !strings.Contains(got, "--load-mode mmap+mlock") {
		t.Errorf("mmap and mlock: %s", got)
	}
	if got := strings.Join(mapped.LlamaCppArgs(ArgsClassic), " "); !strings.HasSuffix(got, "=CPU --mlock --no-repack") {
		t.Errorf("classic mmap and mlock: %s", got)
	}
	// A plan with tensor overrides and a split is not one Ollama can run.
	if _, err := p.OllamaOptions(); !errors.Is(err, ErrOllamaCannot) || !strings.Contains(err.Error(), "-ot") {
		t.Errorf("llama.cpp plan rendered for Ollama: %v", err)
	}
	if _, err := p.Modelfile(OllamaEnv{}); !errors.Is(err, ErrOllamaCannot) {
		t.Errorf("Modelfile of a llama.cpp plan: %v", err)
	}
	o := &Plan{Runtime: RuntimeOllama, Model: ModelInfo{Path: "/store/blobs/sha256-ab", OllamaName: "llama3.1:8b"}, Settings: Settings{NCtx: 8192, NBatch: 512, NUbatch: 256, NParallel: 2,
		NGPULayers: 20, FlashAttn: true, CacheTypeK: "q8_0", CacheTypeV: "q8_0", MMap: true, Threads: 6}}
	opts, err := o.OllamaOptions()
	// Ollama's runner takes num_batch as the physical batch and multiplies
	// num_ctx by the parallel sequences; v0.17.4 has no use_mlock.
	if err != nil || opts["num_batch"] != 256 || opts["num_ctx"] != 4096 || opts["num_gpu"] != 20 || opts["use_mmap"] != true || opts["num_thread"] != 6 || len(opts) != 5 {
		t.Errorf("ollama options %v, %v", opts, err)
	}
	mf, err := o.Modelfile(OllamaEnv{})
	want := "FROM llama3.1:8b\nPARAMETER num_ctx 4096\nPARAMETER num_batch 256\nPARAMETER num_gpu 20\nPARAMETER num_thread 6\nPARAMETER use_mmap true\n" +
		"# server-wide, set where `ollama serve` runs: OLLAMA_FLASH_ATTENTION=1 OLLAMA_KV_CACHE_TYPE=q8_0 OLLAMA_NUM_PARALLEL=2\n"
	if err != nil || mf != want {
		t.Errorf("Modelfile:\n%s\nwant\n%s", mf, want)
	}
	// Set already: nothing to change; the Go engine has no use_mmap.
	o.Runtime = RuntimeOllamaEngine
	if env := o.OllamaEnv(OllamaEnv{FlashAttention: "true", KVCacheType: "q8_0", NumParallel: 2}); len(env) != 0 {
		t.Errorf("env %v", env)
	}
	if opts, _ := o.OllamaOptions(); opts["use_mmap"] != nil {
		t.Errorf("engine options %v", opts)
	}
	// Flash attention as Ollama would run it: the engine's default is the
	// architecture's (fs/ggml FlashAttention), the llama.cpp runner's auto.
	for _, tt := range []struct {
		rt   Runtime
		arch string
		fa   bool
		env  OllamaEnv
		want string
	}{
		{RuntimeOllamaEngine, "llama", true, OllamaEnv{}, "OLLAMA_FLASH_ATTENTION=1"},
		{RuntimeOllamaEngine, "qwen3", true, OllamaEnv{}, ""},
		{RuntimeOllamaEngine, "qwen3", false, OllamaEnv{}, "OLLAMA_FLASH_ATTENTION=0"},
		{RuntimeOllama, "llama", true, OllamaEnv{}, ""},
		{RuntimeOllama, "llama", false, OllamaEnv{}, "OLLAMA_FLASH_ATTENTION=0"},
		{RuntimeOllama, "llama", true, OllamaEnv{FlashAttention: "0"}, "OLLAMA_FLASH_ATTENTION=1"},
	} {
		q := &Plan{Runtime: tt.rt, Model: ModelInfo{Architecture: tt.arch}, Settings: Settings{NParallel: 1, FlashAttn: tt.fa, CacheTypeK: "f16", CacheTypeV: "f16"}}
		if got := strings.Join(q.OllamaEnv(tt.env), " "); got != tt.want {
			t.Errorf("%s %s fa %v env %+v: %q, want %q", tt.rt, tt.arch, tt.fa, tt.env, got, tt.want)
		}
	}
}
