package probe

import "context"

// On Linux the probe reads /proc and /sys itself (see meminfo.go, cpu.go,
// gpu.go): gopsutil folds SReclaimable into Cached and hides the file LRU
// split the planner needs.

func readHostMemory(o *Options, m *Memory) error { return readMemory(o, m) }

func readHostCPU(o *Options, cg cgroupDirs) CPU { return readCPU(o, cg) }

// platformGPUs finds the GPUs no driver library reports: none on Linux
// (NVML and the amdgpu sysfs cover them).
func platformGPUs(ctx context.Context, o *Options, host *Memory) ([]GPU, string) { return nil, "" }
