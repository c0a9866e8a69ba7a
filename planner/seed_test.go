package planner

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/probe"
)

func deepseek(t testing.TB) *gguf.File {
	f, err := gguf.Open(testutil.Path("zoo", "deepseek-v3-Q2_K.header.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func machine80(ram uint64) *probe.Snapshot {
	return probe.Describe(probe.Description{RAMBytes: ram, GPUs: []probe.GPU{{Name: "H100", TotalBytes: 80 << 30, BandwidthBytes: 3.35e12}}, Cores: 32})
}

// The seed scenario: the ~244 GB DeepSeek-V3 Q2_K on 200 GiB RAM + one 80 GiB GPU.
func TestSeedScenario200GiB(t *testing.T) {
	f := deepseek(t)
	p, err := Make(context.Background(), f, machine80(200<<30), Request{ModelPath: "deepseek-v3-Q2_K.gguf"})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Fits || !p.Settings.MMap || p.Settings.NGPULayers == 0 {
		t.Fatalf("plan: fits %v mmap %v ngl %d", p.Fits, p.Settings.MMap, p.Settings.NGPULayers)
	}
	gpu := p.Devices[1]
	if gpu.TotalBytes+DefaultGPUMargin > 80<<30 || gpu.TotalBytes < 60<<30 {
		t.Errorf("GPU holds %s of 80 GiB: not as much as fits with the margin", human(gpu.TotalBytes))
	}
	// As much as fits: the experts of one more layer on the GPU would not.
	if len(p.Settings.Overrides) != 1 {
		t.Fatalf("overrides %v: want the experts of the first layers on the CPU", p.Settings.Overrides)
	}
	k := strings.Count(p.Settings.Overrides[0].Pattern, "|") - 1 // blk\.(0|…|k-1)\.ffn_(up|down|gate)_exps
	m := newModel(f)
	mc := &machine{hostAvail: 200 << 30, gpus: machine80(0).GPUs, snap: machine80(200 << 30)}
	mc.env = Env{GPUs: []string{"CUDA0"}}
	s := p.Settings
	s.Overrides = []Override{{Pattern: m.expertPattern(k - 1), Device: "CPU"}}
	if a, err := check(m, mc, s, Request{}); err != nil || gpusFit(a) {
		t.Errorf("the experts of %d layers on the CPU, but %d would fit too (err %v)", k, k-1, err)
	}
	s.Overrides = []Override{{Pattern: m.expertPattern(k), Device: "CPU"}}
	if a, err := check(m, mc, s, Request{}); err != nil || !gpusFit(a) {
		t.Errorf("the plan's own placement (%d layers' experts on the CPU) does not fit the GPU (err %v)", k, err)
	}
	if !hasReason(p, "mmap") || !hasReason(p, "n_gpu_layers") {
		t.Errorf("reasons do not explain mmap and n_gpu_layers: %+v", p.Reasons)
	}
	if p.Predicted.DecodeTokensPerSecond <= 0 || p.Predicted.LoadSeconds <= 0 {
		t.Errorf("predictions %+v", p.Predicted)
	}
}

// With 64 GiB RAM it still runs with mmap, paging from disk; with --no-mmap
// it cannot allocate the CPU buffer: the Ollama report's failure, predicted.
func TestSeedScenario64GiB(t *testing.T) {
	f := deepseek(t)
	snap := machine80(64 << 30)
	p, err := Make(context.Background(), f, snap, Request{ModelPath: "deepseek-v3-Q2_K.gguf"})
	if err != nil {
		t.Fatal(err)
	}
	cpu := p.Devices[0]
	if !p.Fits || !p.Settings.MMap || cpu.WeightsBytes < 100<<30 {
		t.Fatalf("fits %v mmap %v host weights %s", p.Fits, p.Settings.MMap, human(cpu.WeightsBytes))
	}
	if len(p.Warnings) == 0 || !strings.Contains(strings.Join(p.Warnings, " "), "disk") || p.Predicted.DecodeBound != "disk reads (paging)" {
		t.Errorf("no paging warning: %v, bound %q", p.Warnings, p.Predicted.DecodeBound)
	}
	req := Request{ModelPath: "deepseek-v3-Q2_K.gguf", Pinned: Pins{MMap: true}}
	req.Settings.MMap = false
	p2, err := Make(context.Background(), f, snap, req)
	var nf *NoFitError
	if !errors.As(err, &nf) || p2 == nil || p2.Fits {
		t.Fatalf("--no-mmap: err %v", err)
	}
	if !strings.Contains(nf.Reason, "unable to allocate the CPU buffer") || nf.Devices[0].ShortBytes == 0 || !strings.Contains(nf.Nearest, "fits with mmap") {
		t.Errorf("NoFitError = %v", nf)
	}
	t.Log(nf)
}

func hasReason(p *Plan, setting string) bool {
	for _, r := range p.Reasons {
		if r.Setting == setting {
			return true
		}
	}
	return false
}

func TestPlanCPUOnly(t *testing.T) {
	f, err := gguf.Open(testutil.Path("models", "synth-llama-gqa-Q4_K_M.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	snap := probe.Describe(probe.Description{RAMBytes: 4 << 30, Cores: 2})
	p, err := Make(context.Background(), f, snap, Request{})
	if err != nil {
		t.Fatal(err)
	}
	s := p.Settings
	if !p.Fits || s.NGPULayers != 0 || s.NCtx != 2048 || s.Threads != 2 || !s.MMap || len(p.Devices) != 1 {
		t.Errorf("plan %+v", s)
	}
	args := strings.Join(p.LlamaCppArgs(ArgsLoadMode), " ")
	if !strings.Contains(args, "-c 2048") || !strings.Contains(args, "--load-mode mmap") || !strings.Contains(args, "-ngl 0") {
		t.Errorf("args %s", args)
	}
	// Too little memory: the context shrinks only when allowed.
	tiny := probe.Describe(probe.Description{RAMBytes: (1 << 30) + 20<<20, Cores: 2})
	req := Request{Settings: Settings{NCtx: 65536}, Pinned: Pins{}}
	if _, err := Make(context.Background(), f, tiny, req); err == nil {
		t.Error("64K context fit in 20 MiB above the margin")
	}
	req.AllowShrinkContext = true
	p, err = Make(context.Background(), f, tiny, req)
	if err != nil || p.Settings.NCtx >= 65536 || !hasReason(p, "n_ctx") {
		t.Errorf("shrunk plan: %v %+v", err, p.Settings)
	}
}

func BenchmarkPlan(b *testing.B) {
	f := deepseek(b)
	snap := machine80(200 << 30)
	ctx := context.Background()
	for b.Loop() {
		if _, err := Make(ctx, f, snap, Request{}); err != nil {
			b.Fatal(err)
		}
	}
}

// A GPU that shares host memory (GB10, Jetson) must not be counted twice.
func TestUnifiedMemoryGPU(t *testing.T) {
	f, err := gguf.Open(testutil.Path("zoo", "mixtral-8x7b-Q4_K_M.header.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	gpu := probe.GPU{Name: "GB10", TotalBytes: 40 << 30, FreeBytes: 40 << 30}
	discrete := probe.Describe(probe.Description{RAMBytes: 27 << 30, GPUs: []probe.GPU{gpu}})
	gpu.UnifiedMemory = true
	unified := probe.Describe(probe.Description{RAMBytes: 27 << 30, GPUs: []probe.GPU{gpu}})
	req := Request{Settings: Settings{MMap: false}, Pinned: Pins{MMap: true}}
	if p, err := Make(context.Background(), f, discrete, req); err != nil || !p.Fits {
		t.Fatalf("27 GiB RAM + a discrete 40 GiB GPU: %v", err)
	}
	// 27 GiB of RAM cannot hold the 26.5 GiB of weights plus the rest and a margin once they are charged to it.
	if _, err := Make(context.Background(), f, unified, req); err == nil {
		t.Error("a unified-memory GPU's weights were not charged to the host")
	}
}
