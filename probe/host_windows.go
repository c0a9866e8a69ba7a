package probe

import (
	"context"
	"unsafe"

	"golang.org/x/sys/windows"
)

var procGetPerformanceInfo = windows.NewLazySystemDLL("psapi.dll").NewProc("GetPerformanceInfo")

// platformMemory adds the commit limit and the system file cache from
// GetPerformanceInfo.
func platformMemory(m *Memory) {
	var buf [perfInfoSize]byte
	*(*uint32)(unsafe.Pointer(&buf[0])) = perfInfoSize
	if r, _, _ := procGetPerformanceInfo.Call(uintptr(unsafe.Pointer(&buf[0])), perfInfoSize); r == 0 {
		return
	}
	if p, err := decodePerfInfo(buf[:]); err == nil {
		p.fill(m)
	}
}

func platformCPU(c *CPU) {}

func platformGPUs(ctx context.Context, o *Options, host *Memory) ([]GPU, string) { return nil, "" }
