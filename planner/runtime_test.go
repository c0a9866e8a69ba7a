package planner

import (
	"bytes"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/ggufwrite"
)

// Which build contains which change, as `git merge-base --is-ancestor`
// answers on the upstream repository (b6529 = 1eeb523c3, Ollama v0.17.4's
// vendored ec98e2002, b10587 = 3f545bec). The profiles compare merge dates;
// this table keeps them honest.
func TestProfilesContainTheirChanges(t *testing.T) {
	type in struct{ b6529, ollama, current bool }
	tests := []struct {
		c    change
		want in
	}{
		{prRepackQ4_0, in{true, true, true}},
		{prRepackQ4_K, in{true, true, true}},
		{prRepackQ2_K, in{true, true, true}},
		{prRepackIQ4NLx8, in{true, true, true}},
		{prRepackQ4_KI8mm, in{false, true, true}},
		{prRepackQ4_KDot, in{false, true, true}},
		{prRepackQ8_0, in{false, false, true}},
		{prRepackQ5_KI8mm, in{false, false, true}},
		{prRepackQ6_KI8mm, in{false, false, true}},
		{prRepackQ6_KDot, in{false, false, true}},
		{prRepackQ5_KDot, in{false, false, true}},
		{prRepackMXFP4, in{false, false, true}},
		{changeOutputFirst, in{false, false, true}},
		{changeDirectIO, in{false, false, true}},
		{changeSlotCap, in{false, true, true}},
		{changeOutputsMax, in{false, false, true}},
		{changeVLess, in{false, false, true}},
	}
	for _, tt := range tests {
		got := in{profiles[RuntimeLlamaCppB6529].hasGGML(tt.c), profiles[RuntimeOllama].hasGGML(tt.c), profiles[RuntimeLlamaCpp].hasGGML(tt.c)}
		if got != tt.want {
			t.Errorf("PR #%d (%s): in b6529/ec98e2002/b10587 = %v, want %v", tt.c.pr, tt.c.what, got, tt.want)
		}
	}
	// The Go engine shares the vendored ggml but none of llama.cpp's
	// loader or server rules.
	if e := profiles[RuntimeOllamaEngine]; e.has(changeSlotCap) || !e.hasGGML(prRepackQ4_KDot) {
		t.Error("engine profile: llama.cpp rules leak into it or its ggml date is wrong")
	}
}

func TestParseRuntime(t *testing.T) {
	for in, want := range map[string]Runtime{"": RuntimeLlamaCpp, "llama.cpp": RuntimeLlamaCpp, "b10587": RuntimeLlamaCpp,
		"b6529": RuntimeLlamaCppB6529, "llama.cpp-b6529": RuntimeLlamaCppB6529, "Ollama": RuntimeOllama, "ollama-engine": RuntimeOllamaEngine} {
		if got, err := ParseRuntime(in); err != nil || got != want {
			t.Errorf("ParseRuntime(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseRuntime("vllm"); err == nil || !strings.Contains(err.Error(), "ollama-engine") {
		t.Errorf("unknown runtime: %v", err)
	}
	ps := Profiles()
	if len(ps) != 4 || ps[0].Runtime != RuntimeLlamaCpp {
		t.Fatalf("profiles %v", ps)
	}
	for _, p := range ps {
		if p.Build == "" || len(p.Notes) < 3 {
			t.Errorf("%s: build %q notes %v", p.Runtime, p.Build, p.Notes)
		}
		if p.Ollama != (p.Runtime == RuntimeOllama || p.Runtime == RuntimeOllamaEngine) {
			t.Errorf("%s: Ollama %v", p.Runtime, p.Ollama)
		}
	}
	if n := strings.Join(profiles[RuntimeLlamaCppB6529].Notes, " "); !strings.Contains(n, "last N repeating") || strings.Contains(n, "#19738") {
		t.Errorf("b6529 notes: %s", n)
	}
	if n := strings.Join(profiles[RuntimeLlamaCpp].Notes, " "); !strings.Contains(n, "#19738") || !strings.Contains(n, "#18148") {
		t.Errorf("current notes: %s", n)
	}
}

// The Go engine's caches, as kvcache.Causal.Init sizes them.
func TestEngineCacheCells(t *testing.T) {
	h := func(arch string, window uint64) gguf.HParams {
		return gguf.HParams{Architecture: arch, SlidingWindow: window}
	}
	tests := []struct {
		h                    gguf.HParams
		nCtx, nSeq, batch    int
		full, swa, swaPerSeq int
	}{
		{h("llama", 0), 5000, 2, 512, 5120, 0, 0},
		{h("gemma3", 1024), 32768, 1, 512, 32768, 1536, 1536},
		{h("gemma3", 1024), 32768, 2, 512, 32768, 2816, 1537},
		{h("gpt-oss", 128), 32768, 1, 512, 32768, 4608, 4608},
		{h("gemma3", 8192), 4096, 1, 512, 4096, 4096, 4096},
	}
	for _, tt := range tests {
		c := engineCacheCells(tt.h, tt.nCtx, tt.nSeq, tt.batch)
		if c.nCtx != tt.full || c.swa != tt.swa || c.swaSeq != tt.swaPerSeq {
			t.Errorf("%s window %d, n_ctx %d × %d: %+v", tt.h.Architecture, tt.h.SlidingWindow, tt.nCtx, tt.nSeq, c)
		}
	}
}

// A DeepSeek file converted before MLA-aware GGUFs: llama.cpp (current,
// and ec98e2002 as vendored in Ollama: llama_hparams::n_embd_k_gqa is
// n_embd_head_k × n_head_kv, with no deepseek2 override) and Ollama's Go
// engine both cache the full per-head K and V; the generated zoo measures
// it for current llama.cpp (deepseek-v3-legacy).
func TestEngineDeepSeekCache(t *testing.T) {
	a := "deepseek2"
	b, err := ggufwrite.Encode([]ggufwrite.KV{{Key: "general.architecture", Value: a}, {Key: a + ".block_count", Value: uint32(1)},
		{Key: a + ".embedding_length", Value: uint32(64)}, {Key: a + ".attention.head_count", Value: uint32(16)},
		{Key: a + ".attention.head_count_kv", Value: uint32(16)}, {Key: a + ".attention.key_length", Value: uint32(192)},
		{Key: a + ".attention.value_length", Value: uint32(128)}, {Key: a + ".attention.kv_lora_rank", Value: uint32(512)},
		{Key: a + ".rope.dimension_count", Value: uint32(64)}, {Key: a + ".vocab_size", Value: uint32(100)}},
		[]ggufwrite.Tensor{{Name: "blk.0.attn_q.weight", Type: gguf.TypeF32, Shape: []uint64{64, 64}, Data: make([]byte, 64*64*4)}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	s := DefaultSettings()
	s.NCtx = 1024
	for rt, want := range map[Runtime][2]uint64{RuntimeLlamaCpp: {16 * 192 * 2, 16 * 128 * 2}, RuntimeOllama: {16 * 192 * 2, 16 * 128 * 2}, RuntimeOllamaEngine: {16 * 192 * 2, 16 * 128 * 2}} {
		e, err := Estimate(f, s, Env{Runtime: rt})
		if err != nil {
			t.Fatal(err)
		}
		if l := e.Layers[0]; l.KBytes != 1024*want[0] || l.VBytes != 1024*want[1] {
			t.Errorf("%s: K %d V %d per layer, want %d and %d", rt, l.KBytes, l.VBytes, 1024*want[0], 1024*want[1])
		}
	}
}
