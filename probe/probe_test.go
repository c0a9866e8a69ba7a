package probe

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelfit/modelfit/internal/testutil"
)

func TestFixtures(t *testing.T) {
	const kB, GiB = 1024, 1 << 30
	u := func(v uint64) *uint64 { return &v }
	tests := []struct {
		root          string
		available     uint64
		cgroupVersion int
		limit         *uint64
		effective     uint64
		source        string
		phys, logical int
		usable        float64
		numa          int
		gpus          int
	}{
		{"v1-limit", 0, 1, u(6 * GiB), 4 * GiB, "cgroup v1", 2, 2, 1.5, 0, 0},
		{"v2-max", 52000000 * kB, 2, nil, 52000000 * kB, "meminfo", 8, 16, 16, 0, 0},
		{"v2-limit", 240000000 * kB, 2, u(4 * GiB), 2*GiB + GiB/2, "cgroup v2", 16, 32, 2.5, 0, 0},
		{"numa-host", 500000000 * kB, 2, nil, 500000000 * kB, "meminfo", 8, 16, 16, 2, 1},
		// The pod's 8 GiB binds, not the container's 6: its siblings use 7.5.
		{"v2-nested", 240000000 * kB, 2, u(8 * GiB), GiB, "cgroup v2", 16, 32, 32, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.root, func(t *testing.T) {
			s, err := Probe(context.Background(), Options{Root: testutil.Path("probe", tt.root), NVML: failingNVML{}, Env: func(string) string { return "" }})
			if err != nil {
				t.Fatal(err)
			}
			m := s.Memory
			if tt.available != 0 && m.AvailableBytes != tt.available {
				t.Errorf("available %d, want %d", m.AvailableBytes, tt.available)
			}
			if m.CgroupVersion != tt.cgroupVersion || !reflect.DeepEqual(m.CgroupLimitBytes, tt.limit) {
				t.Errorf("cgroup v%d limit %v, want v%d %v", m.CgroupVersion, deref(m.CgroupLimitBytes), tt.cgroupVersion, deref(tt.limit))
			}
			if m.EffectiveAvailableBytes != tt.effective || m.LimitSource != tt.source {
				t.Errorf("effective %d from %q, want %d from %q", m.EffectiveAvailableBytes, m.LimitSource, tt.effective, tt.source)
			}
			if s.CPU.PhysicalCores != tt.phys || s.CPU.LogicalCores != tt.logical || s.CPU.UsableCores != tt.usable {
				t.Errorf("cores %d/%d usable %v, want %d/%d %v", s.CPU.PhysicalCores, s.CPU.LogicalCores, s.CPU.UsableCores, tt.phys, tt.logical, tt.usable)
			}
			if !s.CPU.HasFeature("avx2") || !s.CPU.HasFeature("fma") {
				t.Errorf("features %v lack avx2/fma", s.CPU.Features)
			}
			if len(s.NUMA) != tt.numa || len(s.GPUs) != tt.gpus {
				t.Errorf("%d NUMA nodes, %d GPUs; want %d, %d", len(s.NUMA), len(s.GPUs), tt.numa, tt.gpus)
			}
			if tt.gpus == 0 && !strings.Contains(s.GPUNote, "no NVIDIA GPUs") {
				t.Errorf("gpu note %q", s.GPUNote)
			}
		})
	}
}

func TestNUMAAndAMD(t *testing.T) {
	s, err := Probe(context.Background(), Options{Root: testutil.Path("probe", "numa-host"), NVML: failingNVML{}, Env: func(k string) string {
		return map[string]string{"HIP_VISIBLE_DEVICES": "0"}[k]
	}})
	if err != nil {
		t.Fatal(err)
	}
	n1 := s.NUMA[1]
	if n1.ID != 1 || n1.TotalBytes != 263500000*1024 || n1.FreeBytes != 200000000*1024 || !reflect.DeepEqual(n1.CPUs, []int{4, 5, 6, 7, 12, 13, 14, 15}) {
		t.Errorf("node 1 = %+v", n1)
	}
	g := s.GPUs[0]
	if g.Vendor != "amd" || g.Name != "AMD Instinct MI210" || g.TotalBytes != 68702699520 || g.FreeBytes != 68702699520-1073741824 {
		t.Errorf("AMD GPU = %+v", g)
	}
}

func deref(p *uint64) any {
	if p == nil {
		return nil
	}
	return *p
}

// failingNVML is a driver library that is not installed.
type failingNVML struct{}

func (failingNVML) Init() error { return errNoNVML }
func (failingNVML) Shutdown()   {}
func (failingNVML) Devices() ([]GPU, string, string, error) {
	panic("Devices called after a failed Init")
}

func TestVisibleDevices(t *testing.T) {
	gpus := []GPU{{Index: 0, UUID: "GPU-aaa"}, {Index: 1, UUID: "GPU-bbb"}, {Index: 2, UUID: "GPU-ccc"}}
	tests := []struct {
		spec string
		want []string
	}{
		{"", []string{"GPU-aaa", "GPU-bbb", "GPU-ccc"}},
		{"2,0", []string{"GPU-ccc", "GPU-aaa"}},
		{"GPU-bb", []string{"GPU-bbb"}},
		{"1,7,2", []string{"GPU-bbb"}}, // CUDA stops at the first invalid entry
		{"-1", nil},
	}
	for _, tt := range tests {
		var got []string
		for i, g := range visible(gpus, tt.spec) {
			if g.Index != i {
				t.Errorf("%q: not renumbered", tt.spec)
			}
			got = append(got, g.UUID)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("visible(%q) = %v, want %v", tt.spec, got, tt.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"200GiB", 200 << 30, true}, {"80GB", 80e9, true}, {"512MiB", 512 << 20, true}, {"1.5TiB", 3 << 39, true},
		{"4096", 4096, true}, {" 64 gib ", 64 << 30, true}, {"12kb", 12000, true},
		{"", 0, false}, {"GiB", 0, false}, {"-1GiB", 0, false}, {"3 parsecs", 0, false}, {"1e999", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseGPU(t *testing.T) {
	tests := []struct {
		in          string
		name        string
		total, free uint64
		bw          float64
		ok          bool
	}{
		{"80GiB", "GPU", 80 << 30, 80 << 30, 0, true},
		{"H100=80GiB@76GiB", "H100", 80 << 30, 76 << 30, 0, true},
		{"A100=40GiB:1555GB/s", "A100", 40 << 30, 40 << 30, 1555e9, true},
		{"x=8GiB@9GiB", "", 0, 0, 0, false},
		{"=", "", 0, 0, 0, false},
		{"4GiB:fast", "", 0, 0, 0, false},
	}
	for _, tt := range tests {
		g, err := ParseGPU(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseGPU(%q) error %v", tt.in, err)
			continue
		}
		if tt.ok && (g.Name != tt.name || g.TotalBytes != tt.total || g.FreeBytes != tt.free || g.BandwidthBytes != tt.bw) {
			t.Errorf("ParseGPU(%q) = %+v", tt.in, g)
		}
	}
}

func TestDescribeRoundTrip(t *testing.T) {
	g, _ := ParseGPU("H100=80GiB@76GiB")
	s := Describe(Description{RAMBytes: 200 << 30, GPUs: []GPU{g}})
	if s.Memory.EffectiveAvailableBytes != 200<<30 || s.Memory.LimitSource != "described" || len(s.GPUs) != 1 || s.GPUs[0].FreeBytes != 76<<30 {
		t.Fatalf("described = %+v", s)
	}
	if d := Describe(Description{RAMBytes: 1 << 30}); len(d.GPUs) != 0 || d.GPUNote == "" {
		t.Errorf("a machine without --gpu must have no GPU: %+v", d.GPUs)
	}
	var buf bytes.Buffer
	if err := s.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := ReadSnapshot(&buf)
	if err != nil {
		t.Fatal(err)
	}
	back.Source = s.Source
	if !reflect.DeepEqual(back, s) {
		t.Errorf("round trip changed the snapshot:\n%+v\n%+v", back, s)
	}
	if _, err := ReadSnapshot(strings.NewReader(`{"schema":"probe/v0"}`)); err == nil {
		t.Error("wrong schema accepted")
	}
}

func TestCacheConcurrent(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(0, 0)
	c := &Cache{Options: Options{Root: testutil.Path("probe", "v2-limit"), NVML: failingNVML{}}, Interval: time.Minute,
		Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }}
	first, err := c.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := c.Get(context.Background())
			if err != nil || s != first {
				t.Error("a fresh snapshot was not shared")
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if s, _ := c.Get(context.Background()); s == first {
		t.Error("a stale snapshot was returned")
	}
	c.Invalidate()
	if s, _ := c.Get(context.Background()); s == first {
		t.Error("Invalidate did not force a probe")
	}
}

func BenchmarkProbe(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		if _, err := Probe(ctx, Options{NoGPU: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProbeDefault is `plan probe` as run: GPU discovery included (on a
// machine without the NVIDIA driver, a failed library load).
func BenchmarkProbeDefault(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		if _, err := Probe(ctx, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
