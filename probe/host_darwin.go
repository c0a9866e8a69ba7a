package probe

import (
	"context"
	"os/exec"
	"time"

	"golang.org/x/sys/unix"
)

// platformMemory replaces gopsutil's free+inactive estimate with vm_stat's
// figures (file-backed and purgeable pages), as Activity Monitor counts
// them; vm_stat is part of every macOS.
func platformMemory(m *Memory) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/bin/vm_stat").Output()
	if err != nil {
		return
	}
	if v, err := parseVMStat(out); err == nil {
		v.fill(m.TotalBytes, m)
	}
}

// platformCPU reads Apple Silicon's features from its sysctls and counts
// the performance cores as physical cores: llama.cpp's default thread count
// on macOS is hw.perflevel0.physicalcpu (common.cpp,
// cpu_get_num_physical_cores).
func platformCPU(c *CPU) {
	if goarch != "arm64" {
		return
	}
	c.Features = append(c.Features, appleFeatures(sysctlUint)...)
	if n, ok := sysctlUint("hw.perflevel0.physicalcpu"); ok && n > 0 {
		c.PhysicalCores = int(n)
	}
}

func sysctlUint(name string) (uint64, bool) {
	if v, err := unix.SysctlUint32(name); err == nil {
		return uint64(v), true
	}
	if v, err := unix.SysctlUint64(name); err == nil {
		return v, true
	}
	return 0, false
}

// platformGPUs reports an Apple Silicon Mac's GPU: llama.cpp's Metal
// device, sharing the unified memory up to the working set.
func platformGPUs(ctx context.Context, o *Options, host *Memory) ([]GPU, string) {
	if goarch != "arm64" {
		return nil, ""
	}
	chip, _ := unix.Sysctl("machdep.cpu.brand_string")
	limit, _ := sysctlUint("iogpu.wired_limit_mb")
	return []GPU{AppleGPU(chip, host.TotalBytes, limit)}, ""
}
