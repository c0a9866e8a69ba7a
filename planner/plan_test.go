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

func gpu(name string, gib uint64, bw float64) probe.GPU {
	return probe.GPU{Name: name, TotalBytes: gib << 30, BandwidthBytes: bw}
}

// planGPUs plans f with every choice free except the MoE overrides (so that
// whole layers are split) on 64 GiB RAM and the GPUs given.
func planGPUs(t *testing.T, f *gguf.File, gpus ...probe.GPU) *Plan {
	t.Helper()
	snap := probe.Describe(probe.Description{RAMBytes: 64 << 30, GPUs: gpus, Cores: 8})
	p, err := Make(context.Background(), f, snap, Request{Pinned: Pins{Overrides: true}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// gpuFull reports whether moving one more layer onto GPU g (from the other
// GPU, or from the CPU) breaks the fit: g holds all it can.
func gpuFull(t *testing.T, f *gguf.File, p *Plan, gpus []probe.GPU, g int) bool {
	t.Helper()
	m := newModel(f)
	mc := testMachine(gpus)
	s := p.Settings
	s.TensorSplit = append([]float64{}, s.TensorSplit...)
	s.TensorSplit[g]++
	if s.NGPULayers < m.nLayer+1 {
		s.NGPULayers++
	} else {
		other := 1 - g
		if s.TensorSplit[other] == 0 {
			return true
		}
		s.TensorSplit[other]--
	}
	a, err := check(m, mc, s, Request{})
	if err != nil {
		t.Fatal(err)
	}
	return !(a.b.Devices[1+g].TotalBytes+a.margin[1+g] <= a.avail[1+g])
}

// testMachine is the machine planGPUs plans for, as the search sees it.
func testMachine(gpus []probe.GPU) *machine {
	snap := probe.Describe(probe.Description{RAMBytes: 64 << 30, GPUs: gpus, Cores: 8})
	mc := &machine{hostAvail: 64 << 30, gpus: snap.GPUs, snap: snap}
	for i, g := range snap.GPUs {
		mc.env.GPUs = append(mc.env.GPUs, gpuName(g, i))
	}
	return mc
}

func TestMultiGPUSplit(t *testing.T) {
	mixtral, err := gguf.Open(testutil.Path("zoo", "mixtral-8x7b-Q4_K_M.header.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer mixtral.Close()
	all := mixtral.HParams().BlockCount + 1

	t.Run("fast small GPU filled first", func(t *testing.T) {
		gpus := []probe.GPU{gpu("slow", 24, 500e9), gpu("fast", 12, 2000e9)}
		p := planGPUs(t, mixtral, gpus...)
		if !p.Fits || p.Settings.NGPULayers != all || len(p.Settings.TensorSplit) != 2 {
			t.Fatalf("fits %v ngl %d split %v", p.Fits, p.Settings.NGPULayers, p.Settings.TensorSplit)
		}
		if !gpuFull(t, mixtral, p, gpus, 1) {
			t.Errorf("split %v: the fast GPU could take another layer", p.Settings.TensorSplit)
		}
		if !hasReason(p, "tensor_split") {
			t.Error("no reason for the split")
		}
	})
	t.Run("slow GPU unused when the fast one holds everything", func(t *testing.T) {
		p := planGPUs(t, mixtral, gpu("slow", 40, 500e9), gpu("fast", 40, 2000e9))
		if ts := p.Settings.TensorSplit; !p.Fits || p.Settings.NGPULayers != all || len(ts) != 2 || ts[0] != 0 || ts[1] != float64(all) {
			t.Errorf("fits %v ngl %d split %v, want 0,%d", p.Fits, p.Settings.NGPULayers, ts, all)
		}
	})
	t.Run("as many layers as any split", func(t *testing.T) {
		models := []*gguf.File{mixtral}
		if path, ok := testutil.SharedPath("zoo", "gemma-2-9b-Q4_K_M.header.gguf"); ok {
			gemma, err := gguf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer gemma.Close()
			models = append(models, gemma)
		}
		for _, f := range models {
			for _, gpus := range [][]probe.GPU{
				{gpu("a", 16, 900e9), gpu("b", 8, 900e9)},
				{gpu("a", 10, 900e9), gpu("b", 10, 900e9)},
				{gpu("a", 6, 300e9), gpu("b", 20, 1000e9)},
				{gpu("slow", 6, 500e9), gpu("fast", 4, 2000e9)},
				{gpu("slow", 7, 500e9), gpu("fast", 5, 2000e9)},
			} {
				p := planGPUs(t, f, gpus...)
				if best := bruteForceLayers(t, f, gpus); p.Settings.NGPULayers != best {
					t.Errorf("%s on %s+%s: %d layers with split %v, the best split holds %d",
						f.HParams().Architecture, human(gpus[0].TotalBytes), human(gpus[1].TotalBytes), p.Settings.NGPULayers, p.Settings.TensorSplit, best)
				}
			}
		}
	})
}

// bruteForceLayers returns the most layers any split over two GPUs holds.
func bruteForceLayers(t *testing.T, f *gguf.File, gpus []probe.GPU) int {
	m := newModel(f)
	mc := testMachine(gpus)
	s := DefaultSettings()
	s.Threads = 8
	best := 0
	for n := 1; n <= m.nLayer+1; n++ {
		for c := 0; c <= n; c++ {
			s.NGPULayers, s.TensorSplit = n, []float64{float64(c), float64(n - c)}
			a, err := check(m, mc, s, Request{})
			if err != nil {
				t.Fatal(err)
			}
			if gpusFit(a) {
				best = n
				break
			}
		}
	}
	return best
}

// The longest context that fits is found, not a power of two below it.
func TestContextSearch(t *testing.T) {
	f, err := gguf.Open(testutil.Path("models", "synth-llama-gqa-Q4_K_M.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	snap := probe.Describe(probe.Description{RAMBytes: (1 << 30) + 40<<20, Cores: 2})
	req := Request{Settings: Settings{NCtx: 65536, NUbatch: 512}, Pinned: Pins{NUbatch: true, CacheTypeK: true, CacheTypeV: true}, AllowShrinkContext: true}
	p, err := Make(context.Background(), f, snap, req)
	if err != nil {
		t.Fatal(err)
	}
	c := p.Settings.NCtx
	if c%256 != 0 || c >= 65536 || c < 2048 || !hasReason(p, "n_ctx") {
		t.Fatalf("n_ctx %d", c)
	}
	for _, tt := range []struct {
		nctx int
		fits bool
	}{{c, true}, {c + 256, false}} {
		r := req
		r.Settings.NCtx, r.Pinned.NCtx = tt.nctx, true
		q, _ := Make(context.Background(), f, snap, r)
		if q == nil || q.Fits != tt.fits {
			t.Errorf("n_ctx %d pinned: fits %v, want %v", tt.nctx, q != nil && q.Fits, tt.fits)
		}
	}
	// Quantizing the KV cache comes only after the context reached its minimum.
	if p.Settings.CacheTypeK != "f16" {
		t.Errorf("KV %s", p.Settings.CacheTypeK)
	}
}

// A pinned -ngl beyond the model is clamped to every layer and the output.
func TestPinnedNGLClamped(t *testing.T) {
	f := deepseek(t)
	req := Request{Settings: Settings{NGPULayers: 1 << 20}, Pinned: Pins{NGPULayers: true}}
	p, _ := Make(context.Background(), f, machine80(1<<40), req)
	if p == nil || p.Settings.NGPULayers != 62 {
		t.Fatalf("ngl %v", p)
	}
}

// A pinned -ngl that does not fit whole keeps its layers on the GPU and
// moves experts to the CPU instead (the planner may: -ot was not given).
func TestPinnedNGLMoE(t *testing.T) {
	f, err := gguf.Open(testutil.Path("zoo", "mixtral-8x7b-Q4_K_M.header.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	snap := probe.Describe(probe.Description{RAMBytes: 32 << 30, GPUs: []probe.GPU{gpu("g", 8, 0)}})
	p, err := Make(context.Background(), f, snap, Request{Settings: Settings{NGPULayers: 33}, Pinned: Pins{NGPULayers: true}})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Fits || p.Settings.NGPULayers != 33 || len(p.Settings.Overrides) != 1 || !hasReason(p, "overrides") {
		t.Errorf("fits %v ngl %d overrides %v", p.Fits, p.Settings.NGPULayers, p.Settings.Overrides)
	}
	// With -ot pinned (here: none) it does not fit, and says so.
	_, err = Make(context.Background(), f, snap, Request{Settings: Settings{NGPULayers: 33}, Pinned: Pins{NGPULayers: true, Overrides: true}})
	var nf *NoFitError
	if !errors.As(err, &nf) || nf.Devices[1].ShortBytes == 0 {
		t.Errorf("pinned -ngl 33 without overrides: %v", err)
	}
}

// Repacking copies weights out of the mapping into anonymous memory: on a
// host where the mapped weights then page from disk, not repacking is
// predicted faster and chosen, with its reason.
func TestRepackVersusPaging(t *testing.T) {
	f, err := gguf.Open(testutil.Path("zoo", "mixtral-8x7b-Q4_K_M.header.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, tt := range []struct {
		ram      uint64
		noRepack bool
	}{{23 << 30, true}, {64 << 30, false}} {
		snap := probe.Describe(probe.Description{RAMBytes: tt.ram, Cores: 2, Features: []string{"avx2", "fma", "f16c"}})
		p, err := Make(context.Background(), f, snap, Request{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Settings.NoRepack != tt.noRepack || hasReason(p, "no_repack") != tt.noRepack {
			t.Errorf("%s RAM: no_repack %v, want %v; reasons %v", human(tt.ram), p.Settings.NoRepack, tt.noRepack, p.Reasons)
		}
	}
}

// MoE on several GPUs: the layers that keep their experts are spread so that
// no GPU is left with room for another layer's experts.
func TestMoEMultiGPU(t *testing.T) {
	f := deepseek(t)
	gpus := []probe.GPU{gpu("A", 48, 900e9), gpu("B", 24, 1000e9), gpu("C", 24, 300e9)}
	snap := probe.Describe(probe.Description{RAMBytes: 256 << 30, GPUs: gpus, Cores: 8})
	p, err := Make(context.Background(), f, snap, Request{})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Fits || len(p.Settings.Overrides) != 1 || p.Settings.NGPULayers != 62 {
		t.Fatalf("fits %v ngl %d overrides %v", p.Fits, p.Settings.NGPULayers, p.Settings.Overrides)
	}
	m := newModel(f)
	mc, _ := newMachine(f, m, snap, Request{})
	layer := mc.expertBytes[m.nLayer-1]
	for _, d := range p.Devices[1:] {
		if room := int64(d.AvailableBytes) - int64(d.TotalBytes+d.MarginBytes); room > int64(layer) {
			t.Errorf("%s keeps %s free, room for another layer's experts (%s); split %v", d.Name, human(uint64(room)), human(layer), p.Settings.TensorSplit)
		}
	}
}

// mmap follows the page cache and the filesystem: a resident file loads
// with mmap in page faults and the first touch of the KV cache and compute
// buffers only (a few ms for this 12 MB model, no disk reads); on a network filesystem with every weight on the GPU, one
// sequential read (no mmap) is chosen.
func TestMMapDecision(t *testing.T) {
	path := testutil.Path("models", "synth-llama-gqa-Q8_0.gguf")
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	size := f.Parts[0].Size
	tests := []struct {
		name     string
		resident int64
		fs       string
		gpu      bool
		mmap     bool
		reason   string
		maxLoad  float64
	}{
		{"resident", size, "ext4", false, true, "page cache", 0.01},
		{"cold", 0, "ext4", false, true, "default", 1},
		{"network, all on GPU", 0, "nfs", true, false, "network filesystem", 1},
		{"network, CPU only", 0, "nfs", false, true, "default", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := probe.Description{RAMBytes: 8 << 30, Cores: 2, Features: []string{"avx2"}}
			if tt.gpu {
				d.GPUs = []probe.GPU{gpu("g", 8, 0)}
			}
			snap := probe.Describe(d)
			res := tt.resident
			snap.Files = []probe.FileInfo{{Path: path, SizeBytes: size, ResidentBytes: &res, Filesystem: tt.fs}}
			p, err := Make(context.Background(), f, snap, Request{})
			if err != nil {
				t.Fatal(err)
			}
			var why string
			for _, r := range p.Reasons {
				if r.Setting == "mmap" {
					why = r.Why
				}
			}
			if p.Settings.MMap != tt.mmap || !strings.Contains(why, tt.reason) {
				t.Errorf("mmap %v (%s), want %v (%q)", p.Settings.MMap, why, tt.mmap, tt.reason)
			}
			if p.Predicted.LoadSeconds > tt.maxLoad {
				t.Errorf("load %.3f s, want at most %.3f", p.Predicted.LoadSeconds, tt.maxLoad)
			}
		})
	}
}

// --mlock is kept only where RAM and RLIMIT_MEMLOCK allow it.
func TestMLock(t *testing.T) {
	f, err := gguf.Open(testutil.Path("models", "synth-llama-gqa-Q8_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	req := Request{Settings: Settings{MLock: true}, Pinned: Pins{MLock: true}}
	snap := probe.Describe(probe.Description{RAMBytes: 8 << 30, Cores: 2, Features: []string{"avx2"}})
	if p, err := Make(context.Background(), f, snap, req); err != nil || !p.Settings.MLock {
		t.Fatalf("unlimited: %v", err)
	}
	limit := uint64(64 << 10)
	snap.Memory.MlockLimitBytes = &limit
	_, err = Make(context.Background(), f, snap, req)
	var nf *NoFitError
	if !errors.As(err, &nf) || !strings.Contains(nf.Reason, "RLIMIT_MEMLOCK") || nf.NearestSettings == nil || nf.NearestSettings.MLock {
		t.Errorf("RLIMIT_MEMLOCK 64 KiB: %v", err)
	}
}

func TestSweep(t *testing.T) {
	f := deepseek(t)
	rows, err := Sweep(context.Background(), f, machine80(200<<30), Request{}, 12)
	if err != nil {
		t.Fatal(err)
	}
	var whole, moe []SweepRow
	for _, r := range rows {
		if r.NCPUMoE == 0 {
			whole = append(whole, r)
		} else {
			moe = append(moe, r)
		}
	}
	if len(whole) != 12 || len(moe) == 0 || whole[0].NGPULayers != 0 || whole[len(whole)-1].NGPULayers != 62 {
		t.Fatalf("%d whole-layer rows, %d MoE rows", len(whole), len(moe))
	}
	// More layers on the GPU: more GPU memory; fewer expert layers on the
	// CPU: more GPU memory too.
	for _, rs := range [][]SweepRow{whole, moe} {
		for i := 1; i < len(rs); i++ {
			if rs[i].DeviceBytes[1] <= rs[i-1].DeviceBytes[1] {
				t.Errorf("GPU memory does not grow from %+v to %+v", rs[i-1], rs[i])
			}
		}
	}
	if !moe[0].Fits || moe[len(moe)-1].Fits {
		t.Errorf("MoE rows: all experts on the CPU should fit the GPU, almost none should not: %+v", moe)
	}
}

// Odd machines and requests give a plan or an error, never a panic or a
// wrapped size.
func TestOddInputs(t *testing.T) {
	f, err := gguf.Open(testutil.Path("models", "synth-llama-gqa-Q4_K_M.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tests := []struct {
		name string
		d    probe.Description
		req  Request
		ok   bool
	}{
		{"no RAM", probe.Description{}, Request{}, false},
		{"GPU without memory", probe.Description{RAMBytes: 8 << 30, GPUs: []probe.GPU{{Name: "g"}}}, Request{}, false}, // its runtime alone does not fit
		{"huge context", probe.Description{RAMBytes: 8 << 30}, Request{Settings: Settings{NCtx: 1 << 40}, Pinned: Pins{NCtx: true}}, false},
		{"negative threads", probe.Description{RAMBytes: 8 << 30}, Request{Settings: Settings{Threads: -1}, Pinned: Pins{Threads: true}}, false},
		{"huge ubatch", probe.Description{RAMBytes: 8 << 30}, Request{Settings: Settings{NUbatch: 1 << 30}}, false},
		{"bad KV type", probe.Description{RAMBytes: 8 << 30}, Request{Settings: Settings{CacheTypeK: "q9_9"}, Pinned: Pins{CacheTypeK: true}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Make(context.Background(), f, probe.Describe(tt.d), tt.req)
			if fits := err == nil && p.Fits; fits != tt.ok {
				t.Errorf("fits %v (err %v), want %v", fits, err, tt.ok)
			}
		})
	}
}
