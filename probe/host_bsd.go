//go:build !linux && !darwin && !windows

package probe

import "context"

// FreeBSD and the rest: gopsutil's figures as they are.

func platformMemory(m *Memory) {}

func platformCPU(c *CPU) {}

func platformGPUs(ctx context.Context, o *Options, host *Memory) ([]GPU, string) { return nil, "" }
