package probe

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/internal/testutil"
)

func readFixture(t *testing.T, parts ...string) []byte {
	t.Helper()
	data, err := os.ReadFile(testutil.Path(append([]string{"probe"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// sysctlFixture serves `sysctl NAME…` output ("name: value") as the
// darwin probe's sysctl reader.
func sysctlFixture(t *testing.T, name string) (func(string) (uint64, bool), map[string]string) {
	kv := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(readFixture(t, "darwin", name))))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ": "); ok {
			kv[k] = v
		}
	}
	return func(k string) (uint64, bool) {
		v, err := strconv.ParseUint(kv[k], 10, 64)
		return v, err == nil
	}, kv
}

func TestVMStat(t *testing.T) {
	v, err := parseVMStat(readFixture(t, "darwin", "vm_stat-m2ultra.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := vmStat{PageSize: 16384, Free: 5120000, Active: 2000000, Inactive: 1900000, Speculate: 50000,
		Wired: 600000, Purgeable: 20000, FileBacked: 2500000, Anonymous: 1450000, Compressor: 40000}
	if v != want {
		t.Fatalf("parsed %+v\nwant   %+v", v, want)
	}
	var m Memory
	v.fill(192<<30, &m)
	const pg = 16384
	if m.PageCacheBytes != (2500000+20000)*pg || m.FreeBytes != 5120000*pg {
		t.Errorf("cache %d free %d", m.PageCacheBytes, m.FreeBytes)
	}
	if m.AvailableBytes != (5120000+2520000)*pg || m.EffectiveAvailableBytes != m.AvailableBytes || m.LimitSource != "vm_stat" {
		t.Errorf("available %d (effective %d, %s), want free + file-backed + purgeable", m.AvailableBytes, m.EffectiveAvailableBytes, m.LimitSource)
	}
	// Wired and compressed memory is never available, whatever the cache says.
	v.Wired = 12000000
	v.fill(192<<30, &m)
	if m.AvailableBytes != 192<<30-(12000000+40000)*pg {
		t.Errorf("available %d with most memory wired", m.AvailableBytes)
	}
	for _, bad := range []string{"", "Pages free: 12.\n", "Mach Virtual Memory Statistics: (page size of 4096 bytes)\nPages free: x.\n"} {
		if _, err := parseVMStat([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestAppleSysctls(t *testing.T) {
	for _, tt := range []struct {
		file      string
		features  []string
		ws        uint64
		bandwidth float64
	}{
		// M1: no I8MM; 16 GiB and the default limit: 2/3 of RAM (10922.67 MiB in llama.cpp's log).
		{"sysctl-m1.txt", []string{"neon", "dotprod", "fp16"}, 16 << 30 * 2 / 3, 68.25e9},
		// M2 Ultra with the limit raised to 180000 MiB.
		{"sysctl-m2ultra.txt", []string{"neon", "dotprod", "i8mm", "bf16", "fp16"}, 180000 << 20, 800e9},
	} {
		get, kv := sysctlFixture(t, tt.file)
		if got := appleFeatures(get); !reflect.DeepEqual(got, tt.features) {
			t.Errorf("%s: features %v, want %v", tt.file, got, tt.features)
		}
		ram, _ := get("hw.memsize")
		limit, _ := get("iogpu.wired_limit_mb")
		g := AppleGPU(kv["machdep.cpu.brand_string"], ram, limit)
		if g.TotalBytes != tt.ws || g.FreeBytes != tt.ws || !g.UnifiedMemory || g.Vendor != "apple" || g.BandwidthBytes != tt.bandwidth {
			t.Errorf("%s: GPU %+v, want working set %d and %g B/s", tt.file, g, tt.ws, tt.bandwidth)
		}
	}
}

func TestMetalWorkingSet(t *testing.T) {
	for _, tt := range []struct {
		ram, limitMB, want uint64
	}{
		{16 << 30, 0, 11453246122},     // llama.cpp logs "recommendedMaxWorkingSetSize = 11453.25 MB" on a 16 GiB M1 Pro
		{32 << 30, 0, 22906492245},     // 21845.34 MiB, M1/M2 Max 32 GiB
		{64 << 30, 0, 48 << 30},        // 3/4 above 36 GiB
		{192 << 30, 0, 144 << 30},      // M2 Ultra: 154618.82 MB
		{128 << 30, 114688, 112 << 30}, // raised: Metal reports the sysctl exactly
		{16 << 30, 65536, 16 << 30},    // never more than the RAM
	} {
		if got, why := MetalWorkingSet(tt.ram, tt.limitMB); got != tt.want || why == "" {
			t.Errorf("MetalWorkingSet(%d GiB, %d MB) = %d (%s), want %d", tt.ram>>30, tt.limitMB, got, why, tt.want)
		}
	}
}

func hexFixture(t *testing.T, name string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(string(readFixture(t, "windows", name))), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWindowsPerformanceInfo(t *testing.T) {
	const GiB = 1 << 30
	for _, tt := range []struct {
		file                     string
		limit, total, cache, eff uint64
		source                   string
	}{
		{"perfinfo-32g.hex", 48 * GiB, 12 * GiB, 6 * GiB, 20 * GiB, "GlobalMemoryStatusEx"},
		// No page file and a large commit charge: the commit headroom binds.
		{"perfinfo-64g-nopagefile.hex", 63 * GiB, 58 * GiB, 36 * GiB, 5 * GiB, "commit limit"},
	} {
		p, err := decodePerfInfo(hexFixture(t, tt.file))
		if err != nil {
			t.Fatal(err)
		}
		var m Memory
		p.fill(&m)
		if m.CommitLimitBytes != tt.limit || m.CommitTotalBytes != tt.total || m.PageCacheBytes != tt.cache ||
			m.EffectiveAvailableBytes != tt.eff || m.LimitSource != tt.source {
			t.Errorf("%s: %+v", tt.file, m)
		}
	}
	b := hexFixture(t, "perfinfo-32g.hex")
	if _, err := decodePerfInfo(b[:50]); err == nil {
		t.Error("a short PERFORMANCE_INFORMATION decoded")
	}
	b[0] = 56 // the 32-bit layout's cb
	if _, err := decodePerfInfo(b); err == nil {
		t.Error("a 32-bit PERFORMANCE_INFORMATION decoded as 64-bit")
	}
}

func TestNvidiaSMI(t *testing.T) {
	gpus, err := parseNvidiaSMI(readFixture(t, "nvidia-smi", "h100x2.csv"))
	if err != nil || len(gpus) != 2 {
		t.Fatalf("%v %v", gpus, err)
	}
	g := gpus[1]
	if g.Index != 1 || g.Name != "NVIDIA H100 80GB HBM3" || g.TotalBytes != 81559<<20 || g.FreeBytes != 60532<<20 || g.UsedBytes != 20480<<20 ||
		g.ComputeCapability != "9.0" || g.PCIBusID != "00000000:2A:00.0" || g.Driver != "550.54.15" || g.UUID == "" {
		t.Errorf("%+v", g)
	}
	gpus, err = parseNvidiaSMI(readFixture(t, "nvidia-smi", "gb10.csv"))
	if err != nil || len(gpus) != 1 || !gpus[0].UnifiedMemory || gpus[0].TotalBytes != 0 {
		t.Errorf("GB10: %+v %v", gpus, err)
	}
	gpus, err = parseNvidiaSMI(readFixture(t, "nvidia-smi", "rtx3090-old-driver.csv"))
	if err != nil || len(gpus) != 1 || gpus[0].ComputeCapability != "" || gpus[0].FreeBytes != 23259<<20 {
		t.Errorf("old driver: %+v %v", gpus, err)
	}
	for _, bad := range []string{"0, x\n", "a, b, c, 1, 2, 3, d, e\n", "0, n, u, lots, 1, 2, p, d\n"} {
		if _, err := parseNvidiaSMI([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// Where NVML cannot be used, the probe asks nvidia-smi, and says so.
func TestNvidiaSMIFallback(t *testing.T) {
	csv := readFixture(t, "nvidia-smi", "h100x2.csv")
	o := Options{Root: testutil.Path("probe", "v2-max"), NVML: failingNVML{}, Env: func(k string) string {
		return map[string]string{"CUDA_VISIBLE_DEVICES": "1"}[k]
	}, NvidiaSMI: func(context.Context) ([]byte, error) { return csv, nil }}
	s, err := Probe(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.GPUs) != 1 || s.GPUs[0].Index != 0 || s.GPUs[0].FreeBytes != 60532<<20 || s.GPUs[0].Vendor != "nvidia" {
		t.Errorf("GPUs %+v", s.GPUs)
	}
	o.NvidiaSMI = func(context.Context) ([]byte, error) { return nil, errors.New("nvidia-smi not found in $PATH") }
	if s, err = Probe(context.Background(), o); err != nil || len(s.GPUs) != 0 || !strings.Contains(s.GPUNote, "nvidia-smi not found") {
		t.Errorf("note %q, GPUs %v, err %v", s.GPUNote, s.GPUs, err)
	}
}

func TestArm64Fixtures(t *testing.T) {
	for _, tt := range []struct {
		root     string
		model    string
		features []string
		sve      int
		cores    int
	}{
		{"graviton3", "Arm Neoverse V1", []string{"dotprod", "i8mm", "neon", "sve", "sve256"}, 256, 8},
		{"rpi4", "Arm Cortex-A72", []string{"neon"}, 0, 4},
		{"gb10", "Arm Cortex-X925", []string{"dotprod", "i8mm", "neon", "sve", "sve2"}, 128, 20},
	} {
		s, err := Probe(context.Background(), Options{Root: testutil.Path("probe", tt.root), NVML: failingNVML{}, Env: func(string) string { return "" }})
		if err != nil {
			t.Fatal(err)
		}
		c := s.CPU
		if c.Model != tt.model || !reflect.DeepEqual(c.Features, tt.features) || c.SVEVectorBits != tt.sve || c.LogicalCores != tt.cores || c.PhysicalCores != tt.cores {
			t.Errorf("%s: %+v", tt.root, c)
		}
	}
}
