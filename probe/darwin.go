package probe

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// This file holds macOS's formats and rules, free of build tags so that the
// tests check them on any OS against captured output (testdata/probe/darwin).

// vmStat is the page counts `vm_stat` prints (the host_statistics64
// VM_INFO64 counters), in pages of PageSize bytes.
type vmStat struct {
	PageSize                          uint64
	Free, Active, Inactive, Speculate uint64
	Wired, Purgeable, FileBacked      uint64
	Anonymous, Compressor             uint64 // Compressor: pages occupied by the compressor
}

var vmStatHeader = regexp.MustCompile(`page size of (\d+) bytes`)

// parseVMStat parses vm_stat's output ("Pages free:  12345.").
func parseVMStat(data []byte) (vmStat, error) {
	var v vmStat
	sc := bufio.NewScanner(bytes.NewReader(data))
	seen := 0
	for sc.Scan() {
		line := sc.Text()
		if m := vmStatHeader.FindStringSubmatch(line); m != nil {
			v.PageSize, _ = strconv.ParseUint(m[1], 10, 64)
			continue
		}
		k, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(val), "."), 10, 64)
		if err != nil {
			continue // "Translation faults" and friends are counters we do not need
		}
		dst := map[string]*uint64{
			"Pages free": &v.Free, "Pages active": &v.Active, "Pages inactive": &v.Inactive,
			"Pages speculative": &v.Speculate, "Pages wired down": &v.Wired, "Pages purgeable": &v.Purgeable,
			"File-backed pages": &v.FileBacked, "Anonymous pages": &v.Anonymous,
			"Pages occupied by compressor": &v.Compressor,
		}[strings.TrimSpace(k)]
		if dst != nil {
			*dst = n
			seen++
		}
	}
	if v.PageSize == 0 || seen < 4 {
		return v, fmt.Errorf("probe: vm_stat: want its page size and page counts (Pages free, active, inactive, wired down)")
	}
	return v, sc.Err()
}

// fill sets m from the VM counters and the physical memory size. The page
// cache is what Activity Monitor calls "Cached Files": file-backed pages
// plus purgeable ones. Available is what the VM can hand out without
// compressing or swapping anyone's anonymous memory: free pages plus that
// cache, at most the memory not wired and not held by the compressor.
func (v vmStat) fill(total uint64, m *Memory) {
	pg := v.PageSize
	m.TotalBytes = total
	m.FreeBytes = v.Free * pg
	m.PageCacheBytes = (v.FileBacked + v.Purgeable) * pg
	m.ActiveFile, m.InactiveFile = 0, 0
	avail := m.FreeBytes + m.PageCacheBytes
	if pinned := (v.Wired + v.Compressor) * pg; pinned < total {
		avail = min(avail, total-pinned)
	}
	m.AvailableBytes = min(avail, total)
	m.EffectiveAvailableBytes = m.AvailableBytes
	m.LimitSource = "vm_stat"
}

// appleFeatureSysctls maps macOS's instruction-set sysctls ("Determining
// instruction set characteristics" in Apple's kernel documentation; macOS 12
// and older spell some differently) to the planner's feature names.
var appleFeatureSysctls = []struct{ sysctl, feature string }{
	{"hw.optional.AdvSIMD", "neon"},
	{"hw.optional.neon", "neon"},
	{"hw.optional.arm.FEAT_DotProd", "dotprod"},
	{"hw.optional.arm.FEAT_I8MM", "i8mm"},
	{"hw.optional.arm.FEAT_BF16", "bf16"},
	{"hw.optional.arm.FEAT_FP16", "fp16"},
	{"hw.optional.arm.FEAT_SME", "sme"},
	{"hw.optional.arm.FEAT_SME2", "sme2"},
}

// appleFeatures returns the CPU features whose sysctl reads 1.
func appleFeatures(sysctl func(string) (uint64, bool)) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, f := range appleFeatureSysctls {
		if v, ok := sysctl(f.sysctl); ok && v == 1 && !seen[f.feature] {
			seen[f.feature] = true
			out = append(out, f.feature)
		}
	}
	return out
}

// MetalWorkingSet returns the memory Metal lets one process keep resident
// on an Apple Silicon GPU (MTLDevice.recommendedMaxWorkingSetSize), which
// llama.cpp's Metal backend reports as the device's total and budgets its
// buffers against (ggml-metal-device.m, ggml_metal_device_get_memory), and
// how it was found.
//
// Metal itself is out of reach without cgo, so the figure is derived: a
// non-zero `sysctl iogpu.wired_limit_mb` (the knob users raise it with) is
// what Metal reports, exactly; otherwise macOS's default is 2/3 of RAM up to
// 36 GiB and 3/4 above, as llama.cpp's logs show on macOS 13–14 (16 GiB:
// 10922.67 MiB, 32 GiB: 21845.34 MiB, 64 GiB: 48 GiB, 192 GiB: 144 GiB).
// macOS 15 and later report more (16 GiB: 11.84 GiB, 24 GiB: 17.76 GiB,
// 128 GiB: 107.52 GiB), so without the sysctl the figure is a lower bound,
// up to about 12% low.
func MetalWorkingSet(ramBytes, wiredLimitMB uint64) (uint64, string) {
	if wiredLimitMB > 0 {
		return min(wiredLimitMB<<20, ramBytes), fmt.Sprintf("iogpu.wired_limit_mb = %d", wiredLimitMB)
	}
	if ramBytes <= 36<<30 {
		return ramBytes * 2 / 3, "macOS default, 2/3 of RAM up to 36 GiB (a lower bound on macOS 15 and later; set iogpu.wired_limit_mb to raise it)"
	}
	return ramBytes / 4 * 3, "macOS default, 3/4 of RAM above 36 GiB (a lower bound on macOS 15 and later; set iogpu.wired_limit_mb to raise it)"
}

// appleChips are the memory bandwidths Apple publishes for its SoCs, in
// bytes/s; where a chip ships in two memory widths (M3 Max, M4 Max) the
// narrower one.
var appleChips = []struct {
	name string
	bw   float64
}{
	{"M1 Ultra", 800e9}, {"M1 Max", 400e9}, {"M1 Pro", 200e9}, {"M1", 68.25e9},
	{"M2 Ultra", 800e9}, {"M2 Max", 400e9}, {"M2 Pro", 200e9}, {"M2", 100e9},
	{"M3 Ultra", 819e9}, {"M3 Max", 300e9}, {"M3 Pro", 150e9}, {"M3", 100e9},
	{"M4 Max", 410e9}, {"M4 Pro", 273e9}, {"M4", 120e9},
}

// AppleGPU describes the GPU of an Apple Silicon Mac (chip as its CPU
// brand string names it, e.g. "Apple M2 Ultra") with ramBytes of unified
// memory: llama.cpp's Metal device, whose budget is the working set.
func AppleGPU(chip string, ramBytes, wiredLimitMB uint64) GPU {
	ws, _ := MetalWorkingSet(ramBytes, wiredLimitMB)
	g := GPU{Vendor: "apple", Name: chip, TotalBytes: ws, FreeBytes: ws, UnifiedMemory: true}
	if g.Name == "" {
		g.Name = "Apple GPU"
	}
	for _, c := range appleChips {
		if strings.HasSuffix(chip, c.name) || strings.Contains(chip, c.name+" ") {
			g.BandwidthBytes = c.bw
			break
		}
	}
	return g
}
