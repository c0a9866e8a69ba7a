package planner

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
)

var x86 = []string{"avx2", "avx512f", "f16c", "fma"}

const mib = 1 << 20

// openRef finds a reference model: the repo's testdata first, then the
// shared data beside the checkout.
func openRef(name string) (*gguf.File, bool) {
	for _, p := range []string{testutil.Path("zoo", name), testutil.Path("models", name)} {
		if f, err := gguf.Open(p); err == nil {
			return f, true
		}
	}
	for _, p := range [][]string{{"zoo", name}, {"testdata", "models", name}} {
		if sp, ok := testutil.SharedPath(p...); ok {
			if f, err := gguf.Open(sp); err == nil {
				return f, true
			}
		}
	}
	return nil, false
}

// TestRepack checks the CPU_REPACK buffer against upstream llama.cpp
// (build 6529, x86 with AVX2/AVX-512), ../ref/upstream/*.txt.
func TestRepack(t *testing.T) {
	tests := []struct {
		model      string
		repackMiB  float64 // CPU_REPACK model buffer size
		nommapMiB  float64 // CPU model buffer size with --no-mmap (0: not measured)
		repackByte uint64  // exact size from an allocation error, when logged
	}{
		{"llama-3.1-8b-Q4_K_M", 3204.00, 1481.30, 0},
		{"llama-3.1-8b-Q8_0", 0, 0, 0},
		{"mixtral-8x7b-Q4_K_M", 20448.00, 0, 0},
		{"deepseek-v3-Q2_K", 0, 0, 144919993344},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			f, ok := openRef(tt.model + ".header.gguf")
			if !ok {
				t.Skip("zoo header not available (shared data)")
			}
			s := DefaultSettings()
			b, err := Estimate(f, s, Env{CPUFeatures: x86})
			if err != nil {
				t.Fatal(err)
			}
			cpu := b.Devices[0]
			got := float64(cpu.RepackBytes) / mib
			if tt.repackByte != 0 {
				if cpu.RepackBytes != tt.repackByte {
					t.Errorf("repack %d bytes, llama.cpp %d", cpu.RepackBytes, tt.repackByte)
				}
			} else if math.Abs(got-tt.repackMiB) > 0.006 {
				t.Errorf("repack %.2f MiB, llama.cpp %.2f", got, tt.repackMiB)
			}
			embd, _ := f.Tensor("token_embd.weight")
			if cpu.MappedBytes != cpu.WeightsBytes || cpu.ResidentBytes != cpu.WeightsBytes-cpu.RepackBytes-uint64(embd.Size) {
				t.Errorf("mmap: mapped %d resident %d of %d weights", cpu.MappedBytes, cpu.ResidentBytes, cpu.WeightsBytes)
			}
			s.MMap = false
			nb, _ := Estimate(f, s, Env{CPUFeatures: x86})
			if tt.nommapMiB > 0 && math.Abs(float64(nb.Devices[0].AnonWeightsBytes)/mib-tt.nommapMiB) > 0.006 {
				t.Errorf("no-mmap CPU buffer %.2f MiB, llama.cpp %.2f", float64(nb.Devices[0].AnonWeightsBytes)/mib, tt.nommapMiB)
			}
			s.NoRepack = true
			if b, _ := Estimate(f, s, Env{CPUFeatures: x86}); b.Devices[0].RepackBytes != 0 {
				t.Error("--no-repack still repacks")
			}
			if b, _ := Estimate(f, DefaultSettings(), Env{CPUFeatures: x86, Runtime: RuntimeOllama}); b.Devices[0].RepackBytes != 0 {
				t.Error("Ollama's build does not repack")
			}
		})
	}
}

func TestLayerPlacement(t *testing.T) {
	f, err := gguf.Open(testutil.Path("models", "synth-llama-gqa-Q4_K_M.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := f.Tensor("output.weight")
	embd, _ := f.Tensor("token_embd.weight")
	tests := []struct {
		rt        Runtime
		ngl       int
		cpuLayers []int
		gpuLayers []int
		outputGPU bool
	}{
		{RuntimeLlamaCpp, 0, []int{0, 1, 2, 3}, nil, false},
		// Current builds offload the output layer first.
		{RuntimeLlamaCpp, 1, []int{0, 1, 2, 3}, nil, true},
		// Ollama's vendored ec98e2002 predates PR 18148: the last N
		// repeating layers first; its Go engine takes Ollama's layer list,
		// which leaves the output out first too (assignLayers).
		{RuntimeOllama, 2, []int{0, 1}, []int{2, 3}, false},
		{RuntimeOllama, 5, nil, []int{0, 1, 2, 3}, true},
		{RuntimeOllamaEngine, 2, []int{0, 1}, []int{2, 3}, false},
		{RuntimeLlamaCpp, 4, []int{0}, []int{1, 2, 3}, true},
		{RuntimeLlamaCpp, 5, nil, []int{0, 1, 2, 3}, true},
		{RuntimeLlamaCpp, 99, nil, []int{0, 1, 2, 3}, true},
		// Build 6529 offloads it last.
		{RuntimeLlamaCppB6529, 1, []int{0, 1, 2}, []int{3}, false},
		{RuntimeLlamaCppB6529, 4, nil, []int{0, 1, 2, 3}, false},
		{RuntimeLlamaCppB6529, 5, nil, []int{0, 1, 2, 3}, true},
	}
	for _, tt := range tests {
		s := DefaultSettings()
		s.NGPULayers = tt.ngl
		b, err := Estimate(f, s, Env{GPUs: []string{"CUDA0"}, GPUFree: []uint64{8 << 30}, Runtime: tt.rt})
		if err != nil {
			t.Fatal(err)
		}
		cpu, gpu := b.Devices[0], b.Devices[1]
		if !equalInts(cpu.Layers, tt.cpuLayers) || !equalInts(gpu.Layers, tt.gpuLayers) || (b.Output == 1) != tt.outputGPU {
			t.Errorf("ngl %d: CPU layers %v GPU layers %v output on %d", tt.ngl, cpu.Layers, gpu.Layers, b.Output)
		}
		// The token embedding always stays on the host; GPU tensors take
		// their CUDA allocation size.
		var onCPU, onGPU uint64
		for _, tn := range f.Tensors {
			gpuSide := tn.Layer >= 0 && slices.Contains(tt.gpuLayers, tn.Layer) || tn.Group() == gguf.GroupOutput && tt.outputGPU
			if gpuSide {
				onGPU += gpuAllocSize(tn.Type, tn.Shape, uint64(tn.Size))
			} else {
				onCPU += uint64(tn.Size)
			}
		}
		if cpu.WeightsBytes < uint64(embd.Size) || cpu.WeightsBytes != onCPU || gpu.WeightsBytes != onGPU {
			t.Errorf("ngl %d: weights CPU %d GPU %d, want %d and %d", tt.ngl, cpu.WeightsBytes, gpu.WeightsBytes, onCPU, onGPU)
		}
		if tt.outputGPU && gpu.WeightsBytes < uint64(out.Size) {
			t.Errorf("ngl %d: output not on the GPU", tt.ngl)
		}
		if tt.ngl > 0 && gpu.OverheadBytes != DefaultGPUOverhead {
			t.Errorf("GPU overhead %d", gpu.OverheadBytes)
		}
	}
	// Two GPUs split by free memory 3:1.
	s := DefaultSettings()
	s.NGPULayers = 5
	b, _ := Estimate(f, s, Env{GPUs: []string{"CUDA0", "CUDA1"}, GPUFree: []uint64{24 << 30, 8 << 30}})
	// llama.cpp splits the 5 offloaded slots (4 layers + output) at 0.75.
	if !equalInts(b.Devices[1].Layers, []int{0, 1, 2, 3}) || len(b.Devices[2].Layers) != 0 || b.Output != 2 {
		t.Errorf("3:1 split: %v / %v, output on %d", b.Devices[1].Layers, b.Devices[2].Layers, b.Output)
	}
	// Overrides move tensors.
	s.Overrides = []Override{{Pattern: `^blk\.3\.ffn_`, Device: "CPU"}}
	ob, err := Estimate(f, s, Env{GPUs: []string{"CUDA0", "CUDA1"}, GPUFree: []uint64{24 << 30, 8 << 30}})
	if err != nil || ob.Devices[0].WeightsBytes <= b.Devices[0].WeightsBytes {
		t.Errorf("override did not move the FFN of layer 3 to the CPU: %v", err)
	}
	if _, err := Estimate(f, Settings{NCtx: 256, NBatch: 512, NUbatch: 512, CacheTypeK: "q8_0", CacheTypeV: "q8_0"}, Env{}); err == nil {
		t.Error("quantized V without flash attention accepted")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The expert patterns the planner emits for llama.cpp must match exactly the
// tensors its own fast path assumes.
func TestExpertPatternMatchesRegexp(t *testing.T) {
	m := newModel(deepseek(t))
	for _, k := range []int{1, 5, 61} {
		p := m.expertPattern(k)
		fast, err := m.overrides([]Override{{Pattern: p, Device: "CPU"}}, []DeviceMemory{{Name: "CPU"}})
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(p)
		n := 0
		for i := range m.tensors {
			if re.MatchString(m.tensors[i].name) != fast[0].match[i] {
				t.Fatalf("k=%d: %s: regexp and fast path disagree", k, m.tensors[i].name)
			}
			if fast[0].match[i] {
				n++
			}
		}
		want := 0 // layers 0-2 are dense
		if k > 3 {
			want = 3 * (k - 3)
		}
		if n != want {
			t.Errorf("k=%d: %d expert tensors matched, want %d", k, n, want)
		}

	}
}

// Tied embeddings (qwen2, gemma2): the output is a duplicate of token_embd
// in the output layer's buffer, a second copy except when mapped on the host.
func TestTiedOutput(t *testing.T) {
	f, ok := openRef("qwen2.5-0.5b-Q8_0.header.gguf")
	if !ok {
		t.Skip("qwen2.5 zoo header not available (shared data)")
	}
	embd, _ := f.Tensor("token_embd.weight")
	total := uint64(f.TensorBytes())
	var gpuAll uint64 // every tensor at its CUDA allocation size, the embedding as the output copy
	for _, tn := range f.Tensors {
		gpuAll += gpuAllocSize(tn.Type, tn.Shape, uint64(tn.Size))
	}
	env := Env{GPUs: []string{"CUDA0"}, GPUFree: []uint64{8 << 30}}
	tests := []struct {
		name     string
		ngl      int
		mmap     bool
		cpu, gpu uint64 // weights
	}{
		{"output on the GPU", 99, true, uint64(embd.Size), gpuAll},
		{"output on the mapped host", 0, true, total, 0},
		{"output on the host, read", 0, false, total, 0}, // the same buffer type: no copy
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := DefaultSettings()
			s.NGPULayers, s.MMap = tt.ngl, tt.mmap
			b, err := Estimate(f, s, env)
			if err != nil {
				t.Fatal(err)
			}
			if b.Devices[0].WeightsBytes != tt.cpu || b.Devices[1].WeightsBytes != tt.gpu {
				t.Errorf("weights CPU %d GPU %d, want %d and %d", b.Devices[0].WeightsBytes, b.Devices[1].WeightsBytes, tt.cpu, tt.gpu)
			}
		})
	}
}

// With a ubatch of 32 or more the first GPU multiplies host weights too and
// holds a copy of the largest host layer in its compute buffer.
func TestOpOffloadStaging(t *testing.T) {
	f, ok := openRef("llama-3.1-8b-Q4_K_M.header.gguf")
	if !ok {
		t.Skip("llama-3.1 zoo header not available (shared data)")
	}
	env := Env{GPUs: []string{"CUDA0"}, GPUFree: []uint64{8 << 30}}
	s := DefaultSettings()
	s.NGPULayers = 33 // everything
	full, _ := Estimate(f, s, env)
	old := env
	old.Runtime = RuntimeLlamaCppB6529 // the output layer offloaded last
	fullOld, _ := Estimate(f, s, old)
	s.NGPULayers = 20
	part, _ := Estimate(f, s, old)
	// The largest tensor of layer 0 (all layers are alike) and of the output.
	var layer, out uint64
	for _, tn := range f.Tensors {
		switch {
		case tn.Layer == 0:
			layer = max(layer, uint64(tn.Size))
		case tn.Group() == gguf.GroupOutput:
			out = max(out, uint64(tn.Size))
		}
	}
	kv := part.Layers[0].KBytes + part.Layers[0].VBytes
	// ngl 20 leaves the output (its Q6_K projection is the largest tensor)
	// and layers 0-11 on the host; the GPU's graph is the same.
	if got, want := part.Devices[1].ComputeBytes-fullOld.Devices[1].ComputeBytes, max(layer, kv, out); got != want {
		t.Errorf("staging %d bytes, want %d (a host layer's largest tensor %d, its K and V %d, the output %d)", got, want, layer, kv, out)
	}
	s.NGPULayers = 32 // output first: layer 0 and its cache on the host
	part, _ = Estimate(f, s, env)
	if got := part.Devices[1].ComputeBytes - full.Devices[1].ComputeBytes; got != max(layer, kv) {
		t.Errorf("layer 0 on the host: staging %d bytes, want %d", got, max(layer, kv))
	}
	// Everything offloaded but layer 0's tensors (its cache stays on the GPU).
	s.NGPULayers, s.Overrides = 33, []Override{{Pattern: `^blk\.0\.`, Device: "CPU"}}
	part, _ = Estimate(f, s, env)
	if got := part.Devices[1].ComputeBytes - full.Devices[1].ComputeBytes; got != layer {
		t.Errorf("layer 0's tensors on the host: staging %d bytes, want %d", got, layer)
	}
	s.Overrides = nil
	s.NGPULayers = 0 // the GPU still multiplies the host's large batches
	none, _ := Estimate(f, s, env)
	if none.Devices[1].ComputeBytes < out {
		t.Errorf("ngl 0: GPU compute %d", none.Devices[1].ComputeBytes)
	}
	if part.Devices[1].ComputeLowBytes > full.Devices[1].ComputeBytes {
		t.Error("the low bound should allow a runtime without op offload")
	}
	s.NUbatch, s.NGPULayers = 16, 20
	small, _ := Estimate(f, s, env)
	if small.Devices[1].ComputeBytes >= part.Devices[1].ComputeBytes/4 {
		t.Errorf("ubatch 16: compute %d, no staging expected", small.Devices[1].ComputeBytes)
	}
}

// The resident working set of mapped weights: all that decode multiplies.
func TestResidentWorkingSet(t *testing.T) {
	tests := []struct {
		model     string
		mlock     bool
		withEmbed bool // token_embd counted
	}{
		{"llama-3.1-8b-Q4_K_M.header.gguf", false, false},
		{"llama-3.1-8b-Q4_K_M.header.gguf", true, true},
		{"qwen2.5-0.5b-Q8_0.header.gguf", false, true}, // tied: the output projection
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			f, ok := openRef(tt.model)
			if !ok {
				t.Skip("zoo header not available (shared data)")
			}
			s := DefaultSettings()
			s.MLock = tt.mlock
			b, err := Estimate(f, s, Env{Runtime: RuntimeOllama})
			if err != nil {
				t.Fatal(err)
			}
			embd, _ := f.Tensor("token_embd.weight")
			want := uint64(f.TensorBytes())
			if !tt.withEmbed {
				want -= uint64(embd.Size)
			}
			if cpu := b.Devices[0]; cpu.ResidentBytes != want || cpu.MappedBytes != uint64(f.TensorBytes()) {
				t.Errorf("resident %d of %d mapped, want %d", cpu.ResidentBytes, cpu.MappedBytes, want)
			}
		})
	}
}

// Without mmap, uploading weights to a GPU goes through pinned host buffers.
func TestPinnedStaging(t *testing.T) {
	f, err := gguf.Open(testutil.Path("models", "synth-llama-gqa-Q4_K_M.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	env := Env{GPUs: []string{"CUDA0"}, GPUFree: []uint64{8 << 30}}
	for _, tt := range []struct {
		rt   Runtime
		want uint64
	}{{RuntimeOllama, 4 << 20}, {RuntimeLlamaCpp, 4 * (64<<20 + 8192)}} {
		s := DefaultSettings()
		s.MMap, s.NGPULayers = false, 99
		env.Runtime = tt.rt
		b, err := Estimate(f, s, env)
		if err != nil {
			t.Fatal(err)
		}
		cpu := b.Devices[0]
		if cpu.AnonWeightsBytes != cpu.WeightsBytes+tt.want {
			t.Errorf("%s: host anonymous %d for %d of weights, want staging %d", tt.rt, cpu.AnonWeightsBytes, cpu.WeightsBytes, tt.want)
		}
		s.MMap = true
		if b, _ := Estimate(f, s, env); b.Devices[0].AnonWeightsBytes != 0 {
			t.Errorf("%s: staging with mmap", tt.rt)
		}
	}
}

// Two GPUs holding the whole model pipeline ubatches: each keeps four
// copies of its split's inputs instead of one: the activations and the
// graph inputs the layers read (positions, K and V cell indices, the f16
// mask of flash attention, the output rows), not the token ids.
func TestPipelineParallelCopies(t *testing.T) {
	f, err := gguf.Open(testutil.Path("models", "synth-llama-gqa-Q4_K_M.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	s := DefaultSettings()
	s.NGPULayers = 99
	two := Env{GPUs: []string{"CUDA0", "CUDA1"}, GPUFree: []uint64{8 << 30, 8 << 30}}
	pp, _ := Estimate(f, s, two)
	// Any tensor override turns pipelining off, even one matching nothing.
	s.Overrides = []Override{{Pattern: `^nothing$`, Device: "CPU"}}
	flat, _ := Estimate(f, s, two)
	want := uint64(3 * (256*512*4 + 512*4 + 512*8 + 512*8 + 4096*512*2 + 512*4))
	for d := 1; d <= 2; d++ {
		if got := pp.Devices[d].ComputeBytes - flat.Devices[d].ComputeBytes; got != want {
			t.Errorf("GPU %d: pipeline copies %d bytes, want %d", d, got, want)
		}
	}
	s.Overrides, s.NGPULayers = nil, 4 // the output on the host: no pipelining
	if part, _ := Estimate(f, s, two); part.Devices[2].ComputeBytes >= pp.Devices[2].ComputeBytes {
		t.Error("pipelining with the output layer on the host")
	}
}

func TestGPUAllocSize(t *testing.T) {
	tests := []struct {
		typ   gguf.Type
		shape []uint64
		size  uint64
		want  uint64
	}{
		{gguf.TypeQ4_K, []uint64{4096, 4096}, 4096 * 4096 / 256 * 144, 4096 * 4096 / 256 * 144},
		// 256-wide rows: one Q4_K block (144 bytes) of padding, then 128-byte alignment.
		{gguf.TypeQ4_K, []uint64{256, 512}, 512 * 144, 512*144 + 256},
		{gguf.TypeF32, []uint64{10}, 40, 128},
		{gguf.TypeF16, []uint64{100, 3}, 600, 640}, // not quantized: no row padding
	}
	for _, tt := range tests {
		if got := gpuAllocSize(tt.typ, tt.shape, tt.size); got != tt.want {
			t.Errorf("%s %v: %d, want %d", tt.typ, tt.shape, got, tt.want)
		}
	}
}

// The search estimates hundreds of configurations per plan.
func BenchmarkEstimate(b *testing.B) {
	f, err := gguf.Open(testutil.Path("zoo", "deepseek-v3-Q2_K.header.gguf"))
	if err != nil {
		b.Fatal(err)
	}
	m := newModel(f)
	s := DefaultSettings()
	s.NGPULayers = 62
	s.Overrides = []Override{{Pattern: m.expertPattern(40), Device: "CPU"}}
	env := Env{GPUs: []string{"CUDA0", "CUDA1"}, GPUFree: []uint64{80 << 30, 80 << 30}}
	for b.Loop() {
		if _, err := m.estimate(s, env); err != nil {
			b.Fatal(err)
		}
	}
}

// Llama-3.1's rope_freqs is loaded with layer 0 and duplicated once into
// each other device holding layers.
func TestRopeFreqsDuplicates(t *testing.T) {
	f, ok := openRef("llama-3.1-8b-Q4_K_M.header.gguf")
	if !ok {
		t.Skip("llama-3.1 zoo header not available (shared data)")
	}
	var onGPU uint64 // all but the token embedding, at CUDA allocation sizes
	for _, tn := range f.Tensors {
		if tn.Name != "token_embd.weight" {
			onGPU += gpuAllocSize(tn.Type, tn.Shape, uint64(tn.Size))
		}
	}
	s := DefaultSettings()
	s.NGPULayers = 33
	for _, n := range []int{1, 2, 3} {
		env := Env{}
		for i := range n {
			env.GPUs = append(env.GPUs, fmt.Sprintf("CUDA%d", i))
			env.GPUFree = append(env.GPUFree, 24<<30)
		}
		b, err := Estimate(f, s, env)
		if err != nil {
			t.Fatal(err)
		}
		var got uint64
		for _, d := range b.Devices[1:] {
			got += d.WeightsBytes
		}
		if want := onGPU + uint64(n-1)*256; got != want {
			t.Errorf("%d GPUs: GPU weights %d, want %d", n, got, want)
		}
	}
}

// Which weights the CPU_REPACK buffer takes depends on the CPU and build,
// as ggml_repack_get_optimal_repack_type decides.
func TestRepackRules(t *testing.T) {
	tests := []struct {
		env  Env
		want map[gguf.Type]uint64
	}{
		{Env{CPUFeatures: []string{"avx2"}}, map[gguf.Type]uint64{gguf.TypeQ4_0: 8, gguf.TypeQ4_K: 8, gguf.TypeIQ4_NL: 8, gguf.TypeMXFP4: 8}},
		{Env{CPUFeatures: []string{"avx2", "avx512f"}}, map[gguf.Type]uint64{gguf.TypeQ4_0: 8, gguf.TypeQ4_K: 8, gguf.TypeQ2_K: 8, gguf.TypeIQ4_NL: 8, gguf.TypeMXFP4: 8}},
		{Env{CPUFeatures: []string{"sse4_2"}}, map[gguf.Type]uint64{}},
		{Env{CPUFeatures: []string{"avx2", "avx512f"}, Runtime: RuntimeOllama}, nil},
		// IQ4_NL 4x4 needs dotprod too (repack.cpp: neon && dotprod).
		{Env{CPUArch: "arm64", CPUFeatures: []string{"neon"}}, map[gguf.Type]uint64{}},
		// MXFP4 repacking arrived in PR 19738 (Feb 2026), after b6529.
		{Env{CPUFeatures: []string{"avx2", "avx512f"}, Runtime: RuntimeLlamaCppB6529}, map[gguf.Type]uint64{gguf.TypeQ4_0: 8, gguf.TypeQ4_K: 8, gguf.TypeQ2_K: 8, gguf.TypeIQ4_NL: 8}},
		{Env{CPUFeatures: []string{"avx2", "avx512f"}, Runtime: RuntimeOllamaEngine}, nil},
		{Env{CPUArch: "arm64", CPUFeatures: []string{"neon", "dotprod", "i8mm"}}, map[gguf.Type]uint64{
			gguf.TypeQ4_0: 4, gguf.TypeQ4_K: 8, gguf.TypeQ5_K: 8, gguf.TypeQ6_K: 8, gguf.TypeIQ4_NL: 4, gguf.TypeMXFP4: 4, gguf.TypeQ8_0: 4}},
		// b6529 repacks only Q4_0 and IQ4_NL on ARM: Q4_K came with PRs
		// 16739/17494 (Nov 2025), Q5_K/Q6_K/Q8_0 and MXFP4 later.
		{Env{CPUArch: "arm64", CPUFeatures: []string{"neon", "dotprod"}, Runtime: RuntimeLlamaCppB6529}, map[gguf.Type]uint64{
			gguf.TypeQ4_0: 4, gguf.TypeIQ4_NL: 4}},
	}
	for _, tt := range tests {
		got := repackRows(tt.env)
		if len(got) != len(tt.want) {
			t.Errorf("%+v: %v, want %v", tt.env, got, tt.want)
			continue
		}
		for typ, rows := range tt.want {
			if got[typ] != rows {
				t.Errorf("%+v: %v, want %v", tt.env, got, tt.want)
				break
			}
		}
	}
}

// llama-server (current upstream) reserves logits for one output per
// sequence: the upstream low bound drops the ubatch's logits, which dominate
// a small big-vocabulary model's buffer; Ollama's build reserves them all.
// The two builds' graphs differ (Ollama's casts an f32 mask for flash
// attention, upstream keeps the unused embeddings input), so their points
// differ too.
func TestComputeOutputsRange(t *testing.T) {
	f, ok := openRef("qwen2.5-0.5b-Q8_0.header.gguf")
	if !ok {
		t.Skip("qwen2.5 zoo header not available (shared data)")
	}
	s := DefaultSettings()
	ol, _ := Estimate(f, s, Env{Runtime: RuntimeOllama})
	up, _ := Estimate(f, s, Env{Runtime: RuntimeLlamaCpp})
	o, u := ol.Devices[0], up.Devices[0]
	for _, d := range []DeviceMemory{o, u} {
		if d.TotalLowBytes != d.TotalBytes-d.ComputeBytes+d.ComputeLowBytes || d.TotalHighBytes != d.TotalBytes-d.ComputeBytes+d.ComputeHighBytes {
			t.Errorf("total range [%d, %d] around %d is not the compute range", d.TotalLowBytes, d.TotalHighBytes, d.TotalBytes)
		}
		if d.ComputeLowBytes > d.ComputeBytes || d.ComputeHighBytes < d.ComputeBytes {
			t.Errorf("compute range [%d, %d] does not hold the point %d", d.ComputeLowBytes, d.ComputeHighBytes, d.ComputeBytes)
		}
	}
	logits := uint64(151936 * 512 * 4)
	if o.ComputeLowBytes < logits || u.ComputeLowBytes > u.ComputeBytes-logits/2 {
		t.Errorf("low bounds: Ollama %d, upstream %d (points %d, %d; logits %d)", o.ComputeLowBytes, u.ComputeLowBytes, o.ComputeBytes, u.ComputeBytes, logits)
	}
}

// With no-KV-offload the attention still runs on the layers' GPU, reading
// copies of the host cache's views: the GPU's compute buffer keeps the
// attention peak and adds one layer's K and V.
func TestNoKVOffloadCompute(t *testing.T) {
	f, ok := openRef("llama-3.1-8b-Q4_K_M.header.gguf")
	if !ok {
		t.Skip("llama-3.1 zoo header not available (shared data)")
	}
	env := Env{GPUs: []string{"CUDA0"}, GPUFree: []uint64{24 << 30}}
	s := DefaultSettings()
	s.NGPULayers, s.NCtx, s.FlashAttn = 33, 32768, false
	on, _ := Estimate(f, s, env)
	s.NoKVOffload = true
	off, _ := Estimate(f, s, env)
	kv := off.Layers[0].KBytes + off.Layers[0].VBytes
	if got := off.Devices[1].ComputeBytes - on.Devices[1].ComputeBytes; got != kv {
		t.Errorf("no-KV-offload adds %d to the GPU's compute, want one layer's K and V %d", got, kv)
	}
	if off.Devices[1].KVBytes != 0 || off.Devices[0].KVBytes != on.Devices[1].KVBytes {
		t.Errorf("KV: host %d GPU %d", off.Devices[0].KVBytes, off.Devices[1].KVBytes)
	}
}

// One compute-graph simulation of the 671B layout (61 layers, MLA, 256
// experts): what each distinct (ubatch, context, cache) costs the search
// the first time it meets it.
func BenchmarkComputeGraph(b *testing.B) {
	f, err := gguf.Open(testutil.Path("zoo", "deepseek-v3-Q2_K.header.gguf"))
	if err != nil {
		b.Fatal(err)
	}
	m := newModel(f)
	s := DefaultSettings()
	c := cacheCells(m.h, s.NCtx, 1, s.NUbatch)
	sim := m.sim()
	ws := new(workspace)
	ub := reserveBatch(s, RuntimeLlamaCpp, s.NUbatch, s.NBatch, c)
	for b.Loop() {
		if _, ok := sim.gm.simulate(&ws.c, &ws.ga, sim.build, ub, sim.layers); !ok {
			b.Fatal("not simulated")
		}
	}
}
