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
		if m, ret := d.GetMemoryInfo(); ret == nvml.SUCCESS {
			g.TotalBytes, g.FreeBytes, g.UsedBytes = m.Total, m.Free, m.Used
		}
		if major, minor, ret := d.GetCudaComputeCapability(); ret == nvml.SUCCESS {
			g.ComputeCapability = fmt.Sprintf("%d.%d", major, minor)
		}
		if pci, ret := d.GetPciInfo(); ret == nvml.SUCCESS {
			g.PCIBusID = cString(pci.BusId[:])
		}
		g.MemoryBusWidth = optional(d.GetMemoryBusWidth)
		g.MemoryClockMHz = optional(func() (uint32, nvml.Return) { return d.GetMaxClockInfo(nvml.CLOCK_MEM) })
		if g.MemoryBusWidth > 0 && g.MemoryClockMHz > 0 {
			g.BandwidthBytes = bandwidth(g.MemoryBusWidth, g.MemoryClockMHz)
		}
		gpus = append(gpus, g)
	}
	return gpus, driver, cuda, nil
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
