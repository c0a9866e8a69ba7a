package planner

import (
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
	o := p.OllamaOptions()
	// Ollama's runner takes num_batch as the physical batch and multiplies
	// num_ctx by the parallel sequences.
	if o["num_batch"] != 256 || o["num_ctx"] != 4096 || o["num_gpu"] != 20 || o["use_mmap"] != false || o["use_mlock"] != true || o["num_thread"] != 6 {
		t.Errorf("ollama options %v", o)
	}
	mf := p.Modelfile()
	for _, want := range []string{"FROM m.gguf\n", "PARAMETER num_ctx 4096\n", "PARAMETER use_mmap false\n", "OLLAMA_NUM_PARALLEL=2", "OLLAMA_KV_CACHE_TYPE=q8_0", "-ts -ot --no-repack"} {
		if !strings.Contains(mf, want) {
			t.Errorf("Modelfile lacks %q:\n%s", want, mf)
		}
	}
}
