package planner

import (
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/layouts"
)

// What llama.cpp build 10587 reserves for the zoo layouts on the CPU:
// `llama-fit-params -m F --fit-print on -v -c CTX -ub UB -b max(UB,2048)
// -fa on|off -ctk K -ctv V -np NP` on the header truncated to the full file
// size, "sched_reserve: CPU compute buffer size" in MiB (two decimals).
var computeRef = []struct {
	file        string
	ctx, ub, np int
	fa          bool
	k, v        string
	mib         float64
}{
	{"deepseek-v3-Q2_K.header.gguf", 4096, 512, 1, true, "f16", "f16", 412.01},
	{"deepseek-v3-Q2_K.header.gguf", 4096, 512, 1, false, "f16", "f16", 1440.01},
	{"deepseek-v3-Q2_K.header.gguf", 32768, 512, 1, false, "f16", "f16", 8648.01},
	{"deepseek-v3-Q2_K.header.gguf", 8192, 2048, 1, true, "q8_0", "q8_0", 1664.04},
	{"deepseek-v3-Q2_K.header.gguf", 8192, 4096, 2, true, "f16", "f16", 3296.08},
	{"deepseek-v3-Q2_K.header.gguf", 2048, 32, 1, true, "f16", "f16", 25.63},
	{"mixtral-8x7b-Q4_K_M.header.gguf", 4096, 512, 1, true, "f16", "f16", 204.01},
	{"mixtral-8x7b-Q4_K_M.header.gguf", 32768, 512, 1, true, "f16", "f16", 232.01},
	{"mixtral-8x7b-Q4_K_M.header.gguf", 32768, 512, 1, false, "f16", "f16", 2156.01},
	{"mixtral-8x7b-Q4_K_M.header.gguf", 8192, 128, 1, false, "q4_0", "f16", 141.06},
	{"mixtral-8x7b-Q4_K_M.header.gguf", 65536, 1024, 1, true, "q8_0", "q4_0", 512.17},
	{"mixtral-8x7b-Q4_K_M.header.gguf", 16384, 512, 4, true, "f16", "f16", 204.01},
	{"llama-3.1-8b-Q4_K_M.header.gguf", 4096, 512, 1, true, "f16", "f16", 266.50},
	{"llama-3.1-8b-Q4_K_M.header.gguf", 32768, 512, 1, false, "f16", "f16", 2156.01},
	{"gemma-2-9b-Q4_K_M.header.gguf", 32768, 512, 1, false, "f16", "f16", 1150.01},
	{"gemma-2-9b-Q4_K_M.header.gguf", 8192, 2048, 1, true, "q8_0", "q8_0", 2084.01},
	{"qwen2.5-0.5b-Q8_0.header.gguf", 32768, 512, 1, false, "f16", "f16", 969.26},
	{"qwen2.5-0.5b-Q8_0.header.gguf", 8192, 4096, 2, true, "f16", "f16", 2402.02},
}

// The simulated graph reserves what llama.cpp does, to its log's rounding.
func TestComputeGraphMatchesLlamaCpp(t *testing.T) {
	for _, r := range computeRef {
		f, ok := openRef(r.file)
		if !ok {
			t.Logf("%s not available (shared data)", r.file)
			continue
		}
		s := DefaultSettings()
		s.NCtx, s.NUbatch, s.NBatch, s.NParallel = r.ctx, r.ub, max(r.ub, 2048), r.np
		s.FlashAttn, s.CacheTypeK, s.CacheTypeV = r.fa, r.k, r.v
		b, err := Estimate(f, s, Env{})
		if err != nil {
			t.Errorf("%+v: %v", r, err)
			continue
		}
		cpu := b.Devices[0]
		got := float64(cpu.ComputeBytes) / (1 << 20)
		if got < r.mib-0.005 || got >= r.mib+0.005 {
			t.Errorf("%s ctx %d ub %d np %d fa %v %s/%s: %.3f MiB, llama.cpp %.2f", r.file, r.ctx, r.ub, r.np, r.fa, r.k, r.v, got, r.mib)
		}
		if cpu.ComputeLowBytes > cpu.ComputeBytes || cpu.ComputeHighBytes < cpu.ComputeBytes {
			t.Errorf("%s: range [%d, %d] misses the point %d", r.file, cpu.ComputeLowBytes, cpu.ComputeHighBytes, cpu.ComputeBytes)
		}
	}
}

// The reduced graph (reducedLayers) has the full graph's peak.
func TestReducedLayers(t *testing.T) {
	names := []string{"deepseek-v3-Q2_K.header.gguf", "mixtral-8x7b-Q4_K_M.header.gguf", "llama-3.1-8b-Q4_K_M.header.gguf",
		"gemma-2-9b-Q4_K_M.header.gguf", "qwen2.5-0.5b-Q8_0.header.gguf", "synth-llama-gqa-Q4_K_M.gguf"}
	checked := 0
	for _, name := range names {
		f, ok := openRef(name)
		if !ok {
			continue
		}
		m := newModel(f)
		sim := m.sim()
		ws := new(workspace)
		full := sim.gm.allLayers()
		if len(sim.layers) == len(full) && m.nLayer > 8 {
			t.Errorf("%s: %d layers not reduced", name, m.nLayer)
		}
		for _, s := range []Settings{
			{NCtx: 4096, NUbatch: 512, NBatch: 2048, NParallel: 1, FlashAttn: true},
			{NCtx: 32768, NUbatch: 512, NBatch: 2048, NParallel: 1},
			{NCtx: 8192, NUbatch: 2048, NBatch: 2048, NParallel: 2, FlashAttn: true, CacheTypeK: "q8_0", CacheTypeV: "q8_0"},
			{NCtx: 2048, NUbatch: 64, NBatch: 2048, NParallel: 1, CacheTypeK: "q4_0"},
		} {
			for _, rt := range []Runtime{RuntimeLlamaCpp, RuntimeOllama, RuntimeLlamaCppB6529} {
				c := cacheCells(m.h, s.NCtx, s.NParallel, s.NUbatch)
				ub := reserveBatch(s, rt, s.NUbatch, s.NBatch, c)
				a, okA := sim.gm.simulate(&ws.c, &ws.ga, sim.build, ub, sim.layers)
				b, okB := sim.gm.simulate(&ws.c, &ws.ga, sim.build, ub, full)
				if !okA || !okB || a != b {
					t.Errorf("%s %s %+v: reduced %d, full %d", name, rt, s, a, b)
				}
				checked++
			}
		}
	}
	if checked == 0 {
		t.Skip("no layout available")
	}
}

// A file without the tensors its graph multiplies by is not simulated
// (and not a panic): the estimate falls back to the approximation.
func TestComputeGraphMissingWeights(t *testing.T) {
	f, ok := openRef("mixtral-8x7b-Q4_K_M.header.gguf")
	if !ok {
		t.Skip("mixtral header not available")
	}
	m := newModel(f)
	sim := m.sim()
	l := sim.gm.layers[0]
	for i := range l {
		if l[i].name == "ffn_down_exps.weight" {
			l[i].name = "missing"
		}
	}
	s := DefaultSettings()
	if _, _, _, ok := m.graphCompute(s, RuntimeLlamaCpp, s.NUbatch, cacheCells(m.h, s.NCtx, 1, s.NUbatch)); ok {
		t.Error("simulated a graph with a missing expert tensor")
	}
	b, err := m.estimate(s, Env{})
	if err != nil || b.Devices[0].ComputeBytes == 0 {
		t.Errorf("no fallback estimate: %v", err)
	}
}

// An architecture without its own graph is sized from the generic
// transformer's, with a ±25% range and a plan warning; a recurrent or
// hybrid one, or a file without the tensors of its architecture's graph
// (a llama file called mamba2), keeps the approximation and says so.
func TestComputeUnknownArchitecture(t *testing.T) {
	f, ok := openRef("synth-llama-gqa-Q4_K_M.gguf")
	if !ok {
		t.Skip("synthetic model not available")
	}
	s := DefaultSettings()
	for _, tt := range []struct {
		arch     string
		warn     bool
		simulate bool
	}{{"llama", false, true}, {"some-new-arch", true, true}, {"rwkv7", true, false}, {"falcon-h1", true, false}, {"mamba2", true, false}} {
		m := newModel(f)
		m.h.Architecture = tt.arch
		if w := m.computeWarning(); (w != "") != tt.warn {
			t.Errorf("%s: warning %q", tt.arch, w)
		}
		low, point, high, ok := m.graphCompute(s, RuntimeLlamaCpp, s.NUbatch, cacheCells(m.h, s.NCtx, 1, s.NUbatch))
		if ok != tt.simulate {
			t.Errorf("%s: simulated %v", tt.arch, ok)
			continue
		}
		if ok && tt.warn && (high-point < point/5 || point-low < point/5) {
			t.Errorf("%s: range [%d, %d] around %d is narrower than ±20%%", tt.arch, low, high, point)
		}
	}
}

// The reduced graph has the full graph's peak on the generated zoo's
// recurrent, hybrid and chunked-attention layouts too, whose layer
// patterns (Mamba-2 / attention / FFN blocks, every fourth layer
// attending) are what reducedLayers must find the period of.
func TestReducedLayersZoo(t *testing.T) {
	ids := []string{"mamba2-2.7b-q8_0", "nemotron-h-8b-q4_k_m", "nemotron-nano-9b-v2-q4_k_m", "granite-4.0-h-tiny-q4_k_m",
		"lfm2-1.2b-q8_0", "qwen3-next-80b-a3b-q4_k_m", "qwen3.5-9b-q4_k_m", "qwen3.5-35b-a3b-q4_k_m", "llama-4-scout-q4_k_m",
		"gpt-oss-20b-q8_0", "gemma-4-e2b-q4_k_m", "gemma-4-31b-q4_k_m", "gemma-3n-e4b-q4_k_m", "qwen3-vl-8b-q4_k_m", "deepseek-v3-legacy-q2_k", "jamba-mini-1.7-q4_k_m", "falcon-mamba-7b-q4_k_m"}
	for _, id := range ids {
		spec, ok := layouts.ByID(id)
		if !ok {
			t.Errorf("no layout %s", id)
			continue
		}
		l, err := layouts.Build(spec)
		if err != nil {
			t.Fatal(err)
		}
		f, err := l.File()
		if err != nil {
			t.Fatal(err)
		}
		m := newModel(f)
		sim := m.sim()
		if !sim.known {
			t.Errorf("%s: no graph for %s", id, m.h.Architecture)
		}
		ws := new(workspace)
		full := sim.gm.allLayers()
		for _, s := range []Settings{
			{NCtx: 4096, NUbatch: 512, NBatch: 2048, NParallel: 1, FlashAttn: true},
			{NCtx: 32768, NUbatch: 256, NBatch: 2048, NParallel: 4},
			{NCtx: 8192, NUbatch: 2048, NBatch: 2048, NParallel: 1, FlashAttn: true, CacheTypeK: "q8_0", CacheTypeV: "q8_0"},
		} {
			c := cacheCells(m.h, s.NCtx, s.NParallel, s.NUbatch)
			ub := reserveBatch(s, RuntimeLlamaCpp, s.NUbatch, s.NBatch, c)
			a, okA := sim.gm.simulate(&ws.c, &ws.ga, sim.build, ub, sim.layers)
			b, okB := sim.gm.simulate(&ws.c, &ws.ga, sim.build, ub, full)
			if !okA || !okB || a != b {
				t.Errorf("%s %+v: reduced (%d of %d layers) %d, full %d", id, s, len(sim.layers), len(full), a, b)
			}
		}
	}
}

// On CUDA a flash-attention output also holds f16 copies of a quantized K
// and V (one when V is a view of K) for a batch of more than two tokens per
// stream.
func TestCUDAFlashAttnAllocSize(t *testing.T) {
	var c ctx
	c.reset()
	q := c.newTensor(gguf.TypeF32, 128, 512, 32, 1)
	kc := external(gguf.TypeQ8_0, 128*8, 4096, 1)
	k := c.view4d(kc, 128, 4096, 8, 1, rowSize(kc.typ, 128*8), rowSize(kc.typ, 128), rowSize(kc.typ, 128*8*4096), 0)
	vc := external(gguf.TypeQ8_0, 128*8, 4096, 1)
	v := c.view4d(vc, 128, 4096, 8, 1, rowSize(vc.typ, 128*8), rowSize(vc.typ, 128), rowSize(vc.typ, 128*8*4096), 0)
	fa := c.flashAttn(q, k, v, nil, nil)
	out := fa.nbytes()
	kv16 := uint64(128*4096*8) * 2
	if got, want := cudaAllocSize(fa), (out+127)/128*128+kv16+kv16; got != want {
		t.Errorf("separate K and V: %d, want %d", got, want)
	}
	mla := c.flashAttn(q, k, c.view4d(kc, 128, 4096, 8, 1, k.nb[1], k.nb[2], k.nb[3], 0), nil, nil)
	if got, want := cudaAllocSize(mla), (out+127)/128*128+kv16; got != want {
		t.Errorf("V a view of K: %d, want %d", got, want)
	}
	dec := c.flashAttn(c.newTensor(gguf.TypeF32, 128, 1, 32, 1), k, v, nil, nil)
	if got := cudaAllocSize(dec); got != dec.nbytes() {
		t.Errorf("one token: %d, want the output alone (%d)", got, dec.nbytes())
	}
	f16 := external(gguf.TypeF16, 128*8, 4096, 1)
	kf := c.view4d(f16, 128, 4096, 8, 1, rowSize(f16.typ, 128*8), rowSize(f16.typ, 128), rowSize(f16.typ, 128*8*4096), 0)
	if got := cudaAllocSize(c.flashAttn(q, kf, kf, nil, nil)); got != out {
		t.Errorf("f16 cache: %d, want %d", got, out)
	}
}
