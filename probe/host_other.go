//go:build !linux

package probe

import (
	"fmt"
	"slices"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/mem"
	xcpu "golang.org/x/sys/cpu"
)

// readHostMemory reads memory through gopsutil, then adds what the
// platform reports beyond it (platformMemory: macOS's vm_stat figures,
// Windows' commit limit and file cache). Options.Root still points the
// probe at Linux-format fixtures.
func readHostMemory(o *Options, m *Memory) error {
	if o.Root != "" {
		return readMemory(o, m)
	}
	vm, err := mem.VirtualMemory()
	if err != nil {
		return fmt.Errorf("probe: memory: %w", err)
	}
	m.TotalBytes, m.FreeBytes, m.AvailableBytes = vm.Total, vm.Free, vm.Available
	m.PageCacheBytes, m.BuffersBytes = vm.Cached, vm.Buffers
	if sw, err := mem.SwapMemory(); err == nil {
		m.SwapTotalBytes, m.SwapFreeBytes = sw.Total, sw.Free
	}
	m.EffectiveAvailableBytes, m.LimitSource = m.AvailableBytes, "gopsutil"
	platformMemory(m)
	if m.TotalBytes == 0 {
		return fmt.Errorf("probe: memory: the OS reports no physical memory")
	}
	return nil
}

// readHostCPU counts cores through gopsutil and reads the instruction-set
// features of the running CPU (golang.org/x/sys/cpu, or macOS's sysctls).
func readHostCPU(o *Options, cg cgroupDirs) CPU {
	if o.Root != "" {
		return readCPU(o, cg)
	}
	c := CPU{Arch: goarch, Features: hostFeatures()}
	c.LogicalCores, _ = cpu.Counts(true)
	c.PhysicalCores, _ = cpu.Counts(false)
	if infos, err := cpu.Info(); err == nil && len(infos) > 0 {
		c.Model = infos[0].ModelName
	}
	platformCPU(&c)
	if c.PhysicalCores <= 0 {
		c.PhysicalCores = c.LogicalCores
	}
	c.UsableCores = float64(c.LogicalCores)
	slices.Sort(c.Features)
	c.Features = slices.Compact(c.Features)
	return c
}

// hostFeatures maps golang.org/x/sys/cpu's view of the running CPU to the
// planner's feature names (the same as /proc/cpuinfo's on Linux).
func hostFeatures() []string {
	var out []string
	add := func(has bool, name string) {
		if has {
			out = append(out, name)
		}
	}
	x := &xcpu.X86
	add(x.HasAVX2, "avx2")
	add(x.HasAVX512F, "avx512f")
	add(x.HasAVX512BW, "avx512bw")
	add(x.HasAVX512VNNI, "avx512_vnni")
	add(x.HasAVX512BF16, "avx512_bf16")
	add(x.HasAVXVNNI, "avx_vnni")
	add(x.HasFMA, "fma")
	a := &xcpu.ARM64
	add(a.HasASIMD, "neon")
	add(a.HasASIMDDP, "dotprod")
	add(a.HasI8MM, "i8mm")
	add(a.HasSVE, "sve")
	add(a.HasSVE2, "sve2")
	if goarch == "arm64" && !a.HasASIMD {
		// Every arm64 CPU has Advanced SIMD; x/sys/cpu leaves it unset
		// where the OS offers no way to ask (Windows).
		out = append(out, "neon")
	}
	return out
}
