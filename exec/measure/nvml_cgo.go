//go:build linux && cgo

package measure

import (
	"fmt"
	"math"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// OpenNVML opens NVIDIA's management library (libnvidia-ml.so.1, which the
// driver installs). Close it when done.
func OpenNVML() (GPUs, error) { return openNVML(nvml.New()) }

// openNVML initialises lib; after a failed Init no other call is made (any
// NVML call then kills the process).
func openNVML(lib nvml.Interface) (g GPUs, err error) {
	defer func() {
		// go-nvml panics when libnvidia-ml.so cannot be loaded at all.
		if r := recover(); r != nil {
			g, err = nil, fmt.Errorf("measure: NVML: %v", r)
		}
	}()
	if ret := lib.Init(); ret != nvml.SUCCESS {
		return nil, fmt.Errorf("measure: NVML init: %s", errorString(lib, ret))
	}
	return &nvmlGPUs{lib: lib}, nil
}

type nvmlGPUs struct{ lib nvml.Interface }

func (n *nvmlGPUs) Close() { n.lib.Shutdown() }

func (n *nvmlGPUs) ProcessMemory(pid int) ([]GPUMemory, error) {
	count, ret := n.lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("measure: NVML device count: %s", errorString(n.lib, ret))
	}
	var out []GPUMemory
	for i := 0; i < count; i++ {
		d, ret := n.lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			return out, fmt.Errorf("measure: NVML device %d: %s", i, errorString(n.lib, ret))
		}
		procs, ret := d.GetComputeRunningProcesses()
		if ret != nvml.SUCCESS {
			return out, fmt.Errorf("measure: NVML device %d processes: %s", i, errorString(n.lib, ret))
		}
		for _, p := range procs {
			if int(p.Pid) != pid {
				continue
			}
			if p.UsedGpuMemory == math.MaxUint64 { // NVML_VALUE_NOT_AVAILABLE
				return out, fmt.Errorf("measure: NVML device %d: the driver does not report per-process memory", i)
			}
			g := GPUMemory{Index: i, Bytes: p.UsedGpuMemory}
			g.Name, _ = d.GetName()
			g.UUID, _ = d.GetUUID()
			out = append(out, g)
		}
	}
	return out, nil
}

// errorString names an NVML return code; go-nvml's mocks may not implement
// ErrorString, so a panic falls back to the number.
func errorString(lib nvml.Interface, ret nvml.Return) (s string) {
	defer func() {
		if recover() != nil {
			s = fmt.Sprintf("NVML error %d", int(ret))
		}
	}()
	return lib.ErrorString(ret)
}
