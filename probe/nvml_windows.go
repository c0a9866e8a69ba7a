package probe

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/windows"
)

// nvmlDLL calls NVIDIA's nvml.dll directly: go-nvml loads its library
// through cgo and dlopen, which Windows builds do not have, while the DLL's
// C functions can be called with the system's own calling convention.
// Drivers since 2019 install it in System32; older ones in
// %ProgramFiles%\NVIDIA Corporation\NVSMI.
type nvmlDLL struct {
	dll *windows.LazyDLL
}

func defaultNVML() NVML { return &nvmlDLL{} }

// nvmlSuccess is NVML_SUCCESS; nvmlClockMem is NVML_CLOCK_MEM.
const (
	nvmlSuccess  = 0
	nvmlClockMem = 2
)

func (n *nvmlDLL) Init() error {
	candidates := []*windows.LazyDLL{windows.NewLazySystemDLL("nvml.dll")}
	if pf := os.Getenv("ProgramFiles"); pf != "" {
		candidates = append(candidates, windows.NewLazyDLL(filepath.Join(pf, "NVIDIA Corporation", "NVSMI", "nvml.dll")))
	}
	var loadErr error
	for _, d := range candidates {
		if loadErr = d.Load(); loadErr == nil {
			n.dll = d
			break
		}
	}
	if n.dll == nil {
		return fmt.Errorf("nvml.dll not loadable (no NVIDIA driver?): %v", loadErr)
	}
	if ret, err := n.call("nvmlInit_v2"); err != nil || ret != nvmlSuccess {
		return fmt.Errorf("NVML init: %s", n.why(ret, err))
	}
	return nil
}

func (n *nvmlDLL) Shutdown() { n.call("nvmlShutdown") }

// call calls an exported function; an error when the DLL lacks it (an old
// driver), never a crash.
func (n *nvmlDLL) call(name string, args ...uintptr) (uintptr, error) {
	p := n.dll.NewProc(name)
	if err := p.Find(); err != nil {
		return 0, err
	}
	r, _, _ := p.Call(args...)
	return r, nil
}

func (n *nvmlDLL) why(ret uintptr, err error) string {
	if err != nil {
		return err.Error()
	}
	if name, ok := nvmlErrors[ret]; ok {
		return name
	}
	return fmt.Sprintf("NVML error %d", ret)
}

// nvmlErrors names the nvmlReturn_t values a probe meets (nvml.h).
var nvmlErrors = map[uintptr]string{
	1: "NVML_ERROR_UNINITIALIZED", 2: "NVML_ERROR_INVALID_ARGUMENT", 3: "NVML_ERROR_NOT_SUPPORTED",
	4: "NVML_ERROR_NO_PERMISSION", 9: "NVML_ERROR_DRIVER_NOT_LOADED", 12: "NVML_ERROR_LIBRARY_NOT_FOUND",
	15: "NVML_ERROR_GPU_IS_LOST", 18: "NVML_ERROR_LIB_RM_VERSION_MISMATCH", 999: "NVML_ERROR_UNKNOWN",
}

func (n *nvmlDLL) str(name string, h uintptr) string {
	var buf [96]byte
	args := []uintptr{uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf))}
	if h != 0 {
		args = append([]uintptr{h}, args...)
	}
	if ret, err := n.call(name, args...); err != nil || ret != nvmlSuccess {
		return ""
	}
	return windows.ByteSliceToString(buf[:])
}

func (n *nvmlDLL) Devices() ([]GPU, string, string, error) {
	driver := n.str("nvmlSystemGetDriverVersion", 0)
	var cuda string
	var v int32
	if ret, err := n.call("nvmlSystemGetCudaDriverVersion", uintptr(unsafe.Pointer(&v))); err == nil && ret == nvmlSuccess {
		cuda = fmt.Sprintf("%d.%d", v/1000, v%1000/10)
	}
	var count uint32
	if ret, err := n.call("nvmlDeviceGetCount_v2", uintptr(unsafe.Pointer(&count))); err != nil || ret != nvmlSuccess {
		return nil, driver, cuda, errors.New("NVML device count: " + n.why(ret, err))
	}
	gpus := make([]GPU, 0, count)
	for i := uint32(0); i < count; i++ {
		var h uintptr
		if ret, err := n.call("nvmlDeviceGetHandleByIndex_v2", uintptr(i), uintptr(unsafe.Pointer(&h))); err != nil || ret != nvmlSuccess {
			return gpus, driver, cuda, fmt.Errorf("NVML device %d: %s", i, n.why(ret, err))
		}
		g := GPU{Index: int(i), Name: n.str("nvmlDeviceGetName", h), UUID: n.str("nvmlDeviceGetUUID", h)}
		var mem struct{ Total, Free, Used uint64 } // nvmlMemory_t
		switch ret, err := n.call("nvmlDeviceGetMemoryInfo", h, uintptr(unsafe.Pointer(&mem))); {
		case err == nil && ret == nvmlSuccess:
			g.TotalBytes, g.FreeBytes, g.UsedBytes = mem.Total, mem.Free, mem.Used
		case err == nil && ret == 3: // NVML_ERROR_NOT_SUPPORTED: no memory of its own
			g.UnifiedMemory = true
		}
		var major, minor int32
		if ret, err := n.call("nvmlDeviceGetCudaComputeCapability", h, uintptr(unsafe.Pointer(&major)), uintptr(unsafe.Pointer(&minor))); err == nil && ret == nvmlSuccess {
			g.ComputeCapability = fmt.Sprintf("%d.%d", major, minor)
		}
		var pci struct { // nvmlPciInfo_t
			BusIDLegacy                                      [16]byte
			Domain, Bus, Device, PCIDeviceID, PCISubSystemID uint32
			BusID                                            [32]byte
		}
		if ret, err := n.call("nvmlDeviceGetPciInfo_v3", h, uintptr(unsafe.Pointer(&pci))); err == nil && ret == nvmlSuccess {
			g.PCIBusID = windows.ByteSliceToString(pci.BusID[:])
		}
		var width, clock uint32
		if ret, err := n.call("nvmlDeviceGetMemoryBusWidth", h, uintptr(unsafe.Pointer(&width))); err == nil && ret == nvmlSuccess {
			g.MemoryBusWidth = width
		}
		if ret, err := n.call("nvmlDeviceGetMaxClockInfo", h, nvmlClockMem, uintptr(unsafe.Pointer(&clock))); err == nil && ret == nvmlSuccess {
			g.MemoryClockMHz = clock
		}
		if g.MemoryBusWidth > 0 && g.MemoryClockMHz > 0 {
			g.BandwidthBytes = bandwidth(g.MemoryBusWidth, g.MemoryClockMHz)
		}
		gpus = append(gpus, g)
	}
	return gpus, driver, cuda, nil
}
