//go:build linux && cgo

package probe

import (
	"fmt"
	"strings"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// nvmlLib adapts go-nvml (the real driver library or one of its mocks).
type nvmlLib struct {
	lib nvml.Interface
}

func defaultNVML() NVML { return &nvmlLib{lib: nvml.New()} }

func (n *nvmlLib) Init() (err error) {
	defer func() {
		// go-nvml panics when libnvidia-ml.so cannot be loaded at all.
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	if ret := n.lib.Init(); ret != nvml.SUCCESS {
		return fmt.Errorf("NVML init: %s", nvml.ErrorString(ret))
	}
	return nil
}

func (n *nvmlLib) Shutdown() { n.lib.Shutdown() }

func (n *nvmlLib) Devices() ([]GPU, string, string, error) {
	driver, _ := n.lib.SystemGetDriverVersion()
	var cuda string
	if v, ret := n.lib.SystemGetCudaDriverVersion(); ret == nvml.SUCCESS {
		cuda = fmt.Sprintf("%d.%d", v/1000, v%1000/10)
	}
	count, ret := n.lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return nil, driver, cuda, fmt.Errorf("NVML device count: %s", nvml.ErrorString(ret))
	}
	gpus := make([]GPU, 0, count)
	for i := 0; i < count; i++ {
		d, ret := n.lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			return gpus, driver, cuda, fmt.Errorf("NVML device %d: %s", i, nvml.ErrorString(ret))
		}
		g := GPU{Index: i}
		g.Name, _ = d.GetName()
		g.UUID, _ = d.GetUUID()
		n.memory(d, &g)
		if major, minor, ret := d.GetCudaComputeCapability(); ret == nvml.SUCCESS {
			g.ComputeCapability = fmt.Sprintf("%d.%d", major, minor)
		}
		if pci, ret := d.GetPciInfo(); ret == nvml.SUCCESS {
			g.PCIBusID = cString(pci.BusId[:])
		}
		if n.has("nvmlDeviceGetMemoryBusWidth") {
			g.MemoryBusWidth = optional(d.GetMemoryBusWidth)
		}
		g.MemoryClockMHz = optional(func() (uint32, nvml.Return) { return d.GetMaxClockInfo(nvml.CLOCK_MEM) })
		if g.MemoryBusWidth > 0 && g.MemoryClockMHz > 0 {
			g.BandwidthBytes = bandwidth(g.MemoryBusWidth, g.MemoryClockMHz)
		}
		gpus = append(gpus, g)
	}
	return gpus, driver, cuda, nil
}

// has reports whether the driver library exports symbol. The binding
// resolves symbols lazily, so calling a function an old driver lacks kills
// the process ("symbol lookup error"); newer queries are gated on this.
func (n *nvmlLib) has(symbol string) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return n.lib.Extensions().LookupSymbol(symbol) == nil
}

// memory fills g's memory, preferring the v2 query (which leaves the
// driver's reserved memory out of "free") where the driver has it. A device
// that answers NOT_SUPPORTED shares host memory (GB10, Jetson): it is marked
// unified, not reported as a GPU with no memory.
func (n *nvmlLib) memory(d nvml.Device, g *GPU) {
	if n.has("nvmlDeviceGetMemoryInfo_v2") {
		m, ret := memoryV2(d)
		if ret == nvml.SUCCESS {
			g.TotalBytes, g.FreeBytes, g.UsedBytes = m.Total, m.Free, m.Used+m.Reserved
			return
		}
	}
	m, ret := d.GetMemoryInfo()
	switch ret {
	case nvml.SUCCESS:
		g.TotalBytes, g.FreeBytes, g.UsedBytes = m.Total, m.Free, m.Used
	case nvml.ERROR_NOT_SUPPORTED:
		g.UnifiedMemory = true
	}
}

// memoryV2 calls GetMemoryInfo_v2, which go-nvml's mock servers leave unset
// (calling it panics there).
func memoryV2(d nvml.Device) (m nvml.Memory_v2, ret nvml.Return) {
	defer func() {
		if recover() != nil {
			ret = nvml.ERROR_NOT_SUPPORTED
		}
	}()
	return d.GetMemoryInfo_v2()
}

// optional calls an NVML query that old drivers (and go-nvml's mocks) may
// not implement; a panic or an error yields 0.
func optional(f func() (uint32, nvml.Return)) (v uint32) {
	defer func() {
		if recover() != nil {
			v = 0
		}
	}()
	v, ret := f()
	if ret != nvml.SUCCESS {
		return 0
	}
	return v
}

func cString(b []int8) string {
	var sb strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		sb.WriteByte(byte(c))
	}
	return sb.String()
}
