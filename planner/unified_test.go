package planner

import (
	"context"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/probe"
)

func mac(t testing.TB, spec string, wiredMB uint64) *probe.Snapshot {
	ram, gpu, err := probe.ParseUnified(spec, wiredMB)
	if err != nil {
		t.Fatal(err)
	}
	return probe.Describe(probe.Description{RAMBytes: ram, GPUs: []probe.GPU{gpu}, Cores: 8, Arch: "arm64",
		Features: []string{"neon", "dotprod", "i8mm"}})
}

// On a Mac the GPU layers' weights are the mapped file: counted once, in
// Metal's working set and in the host's RAM, never as a copy as well.
func TestMetalMapsWeightsOnce(t *testing.T) {
	f, err := gguf.Open(testutil.Path("zoo", "mixtral-8x7b-Q4_K_M.header.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	snap := mac(t, "M3 Max=40GiB", 0) // working set 30 GiB: the 26.5 GiB fit once, not twice
	p, err := Make(context.Background(), f, snap, Request{Settings: Settings{NGPULayers: 1 << 20}, Pinned: Pins{NGPULayers: true}})
	if err != nil {
		t.Fatal(err)
	}
	gpu, cpu := p.Devices[1], p.Devices[0]
	if gpu.Name != "MTL0" || !p.Settings.MMap || gpu.AnonWeightsBytes != 0 || gpu.AvailableBytes != 30<<30 {
		t.Fatalf("GPU %+v, mmap %v", gpu, p.Settings.MMap)
	}
	// The mapped span covers the GPU's tensors (the token embedding, first
	// in the file, stays with the CPU), page-aligned.
	span := uint64(0)
	first, end := int64(1<<62), int64(0)
	for _, tn := range f.Tensors {
		if tn.Name != "token_embd.weight" {
			first, end = min(first, tn.Offset), max(end, tn.Offset+tn.Size)
		}
	}
	span = uint64((end+metalPage-1)/metalPage*metalPage - first/metalPage*metalPage)
	if gpu.MappedBytes != span || gpu.TotalBytes < span || gpu.WeightsBytes > span {
		t.Errorf("mapped %d B (weights %d, total %d), want the span %d", gpu.MappedBytes, gpu.WeightsBytes, gpu.TotalBytes, span)
	}
	if len(p.Warnings) > 1 || cpu.FreeAfterBytes != int64(cpu.AvailableBytes)-int64(cpu.TotalBytes+gpu.TotalBytes) || cpu.FreeAfterBytes <= 0 || !hasReason(p, "MTL0") {
		t.Errorf("warnings %v, host free after %d; reasons %v", p.Warnings, cpu.FreeAfterBytes, p.Reasons)
	}
	// Without mmap the GPU's weights are a Metal buffer: the same bytes, anonymous.
	req := Request{Settings: Settings{NGPULayers: 1 << 20}, Pinned: Pins{NGPULayers: true, MMap: true}}
	p, err = Make(context.Background(), f, snap, req)
	if err != nil || p.Devices[1].MappedBytes != 0 || p.Devices[1].AnonWeightsBytes != p.Devices[1].WeightsBytes {
		t.Errorf("no-mmap: %v %+v", err, p.Devices[1])
	}
	// The host must hold everything the GPU wires: with 20 GiB of the RAM
	// in use by others the whole model fits Metal's budget but not the RAM.
	busy := mac(t, "M3 Max=40GiB", 0)
	busy.Memory.AvailableBytes, busy.Memory.EffectiveAvailableBytes = 20<<30, 20<<30
	p, err = Make(context.Background(), f, busy, Request{Settings: Settings{NGPULayers: 1 << 20}, Pinned: Pins{NGPULayers: true}})
	if err == nil || p.NoFit == nil || p.NoFit.Devices[0].ShortBytes == 0 || p.NoFit.Devices[1].ShortBytes != 0 {
		t.Errorf("26.5 GiB mapped on the GPU with 20 GiB of RAM free: %v", err)
	}
}

// The seed scenario on a Mac: DeepSeek-V3 Q2_K (227 GiB) on an M2 Ultra
// with 192 GiB: mapped, the GPU filled to its working set, the rest paged.
func TestSeedScenarioM2Ultra(t *testing.T) {
	f := deepseek(t)
	defer f.Close()
	for _, tt := range []struct {
		wiredMB uint64
		budget  uint64
	}{{0, 144 << 30}, {180000, 180000 << 20}} {
		p, err := Make(context.Background(), f, mac(t, "M2 Ultra=192GiB", tt.wiredMB), Request{ModelPath: "deepseek-v3-Q2_K.gguf"})
		if err != nil {
			t.Fatal(err)
		}
		gpu := p.Devices[1]
		if !p.Fits || !p.Settings.MMap || gpu.AvailableBytes != tt.budget || gpu.TotalBytes+DefaultGPUMargin > tt.budget || gpu.TotalBytes < tt.budget*9/10 {
			t.Errorf("wired %d: fits %v mmap %v, MTL0 %s of %s", tt.wiredMB, p.Fits, p.Settings.MMap, human(gpu.TotalBytes), human(gpu.AvailableBytes))
		}
		why := ""
		for _, r := range p.Reasons {
			if r.Setting == "MTL0" {
				why = r.Why
			}
		}
		if !strings.Contains(why, "working set") || !strings.Contains(why, human(tt.budget)) {
			t.Errorf("the working-set budget is not stated: %q", why)
		}
		if pr := p.Predicted; pr.DecodeTokensPerSecond <= 0 || pr.PrefillTokensPerSecond <= 0 || pr.DecodeBound != "disk reads (paging)" {
			t.Errorf("prediction %+v", pr)
		}
	}
}

// CUDA on an integrated GPU (GB10) cannot use mapped memory in place:
// current llama.cpp turns mmap off by default there; Ollama's build does not.
func TestIntegratedGPUTurnsMmapOff(t *testing.T) {
	f, err := gguf.Open(testutil.Path("models", "synth-llama-gqa-Q4_K_M.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gb10 := probe.Describe(probe.Description{RAMBytes: 120 << 30, GPUs: []probe.GPU{{Name: "GB10", Vendor: "nvidia", TotalBytes: 120 << 30, UnifiedMemory: true}}, Arch: "arm64", Features: []string{"neon", "dotprod", "i8mm", "sve"}})
	p, err := Make(context.Background(), f, gb10, Request{})
	if err != nil || p.Settings.MMap || !strings.Contains(reasonOf(p, "mmap"), "PR #26081") {
		t.Errorf("llama.cpp: %v mmap %v (%s)", err, p.Settings.MMap, reasonOf(p, "mmap"))
	}
	p, err = Make(context.Background(), f, gb10, Request{Runtime: RuntimeOllama})
	if err != nil || !p.Settings.MMap {
		t.Errorf("ollama: %v mmap %v", err, p.Settings.MMap)
	}
}

func reasonOf(p *Plan, setting string) string {
	for _, r := range p.Reasons {
		if r.Setting == setting {
			return r.Why
		}
	}
	return ""
}

// ARM hosts repack by their features as ggml-cpu does: Graviton3's 256-bit
// SVE with i8mm takes Q4_0's 8-row layout, other dotprod/i8mm cores the
// 4-row one, a Raspberry Pi 4 (NEON without dotprod) nothing.
func TestARMRepackRules(t *testing.T) {
	for _, tt := range []struct {
		features []string
		q40, q4k uint64
		iq4nl    uint64
	}{
		{[]string{"neon", "dotprod", "i8mm", "sve", "sve256"}, 8, 8, 4},
		{[]string{"neon", "dotprod", "i8mm", "sve", "sve2"}, 4, 8, 4},
		{[]string{"neon", "dotprod"}, 4, 8, 4},
		{[]string{"neon"}, 0, 0, 0},
	} {
		rows := repackRows(Env{CPUArch: "arm64", CPUFeatures: tt.features})
		if rows[gguf.TypeQ4_0] != tt.q40 || rows[gguf.TypeQ4_K] != tt.q4k || rows[gguf.TypeIQ4_NL] != tt.iq4nl {
			t.Errorf("%v: Q4_0 %d, Q4_K %d, IQ4_NL %d rows", tt.features, rows[gguf.TypeQ4_0], rows[gguf.TypeQ4_K], rows[gguf.TypeIQ4_NL])
		}
	}
}
