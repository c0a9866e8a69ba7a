//go:build linux && cgo

package measure

import (
	"math"
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
)

// fakeNVML is two GPUs; pid 4242 holds 20 GiB on the first and 3 GiB on
// the second, pid 7 1 GiB on the second.
func fakeNVML(initRet nvml.Return) *mock.Interface {
	dev := func(name string, procs []nvml.ProcessInfo) *mock.Device {
		return &mock.Device{
			GetNameFunc:                    func() (string, nvml.Return) { return name, nvml.SUCCESS },
			GetUUIDFunc:                    func() (string, nvml.Return) { return "GPU-" + name, nvml.SUCCESS },
			GetComputeRunningProcessesFunc: func() ([]nvml.ProcessInfo, nvml.Return) { return procs, nvml.SUCCESS },
		}
	}
	devs := []nvml.Device{
		dev("H100-a", []nvml.ProcessInfo{{Pid: 4242, UsedGpuMemory: 20 << 30}}),
		dev("H100-b", []nvml.ProcessInfo{{Pid: 7, UsedGpuMemory: 1 << 30}, {Pid: 4242, UsedGpuMemory: 3 << 30}}),
	}
	return &mock.Interface{
		InitFunc:     func() nvml.Return { return initRet },
		ShutdownFunc: func() nvml.Return { return nvml.SUCCESS },
		ErrorStringFunc: func(r nvml.Return) string {
			return "error " + map[bool]string{true: "driver not loaded", false: "other"}[r == nvml.ERROR_DRIVER_NOT_LOADED]
		},
		DeviceGetCountFunc:         func() (int, nvml.Return) { return len(devs), nvml.SUCCESS },
		DeviceGetHandleByIndexFunc: func(i int) (nvml.Device, nvml.Return) { return devs[i], nvml.SUCCESS },
	}
}

func TestNVMLProcessMemory(t *testing.T) {
	g, err := openNVML(fakeNVML(nvml.SUCCESS))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	got, err := g.ProcessMemory(4242)
	if err != nil {
		t.Fatal(err)
	}
	want := []GPUMemory{{0, "H100-a", "GPU-H100-a", 20 << 30}, {1, "H100-b", "GPU-H100-b", 3 << 30}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("pid 4242: %+v, want %+v", got, want)
	}
	if got, err := g.ProcessMemory(99); err != nil || len(got) != 0 {
		t.Errorf("a pid on no GPU: %+v, %v", got, err)
	}
}

// After a failed Init no other NVML call may be made: the mock panics on
// any function it was not given, so the calls are counted by the absence of
// a panic.
func TestNVMLInitFails(t *testing.T) {
	lib := &mock.Interface{
		InitFunc:        func() nvml.Return { return nvml.ERROR_DRIVER_NOT_LOADED },
		ErrorStringFunc: func(nvml.Return) string { return "Driver Not Loaded" },
	}
	if _, err := openNVML(lib); err == nil || !strings.Contains(err.Error(), "Driver Not Loaded") {
		t.Fatalf("err = %v", err)
	}
	if n := len(lib.InitCalls()); n != 1 {
		t.Errorf("Init called %d times", n)
	}
}

func TestNVMLNotAvailable(t *testing.T) {
	lib := fakeNVML(nvml.SUCCESS)
	d := &mock.Device{GetComputeRunningProcessesFunc: func() ([]nvml.ProcessInfo, nvml.Return) {
		return []nvml.ProcessInfo{{Pid: 5, UsedGpuMemory: math.MaxUint64}}, nvml.SUCCESS
	}}
	lib.DeviceGetCountFunc = func() (int, nvml.Return) { return 1, nvml.SUCCESS }
	lib.DeviceGetHandleByIndexFunc = func(int) (nvml.Device, nvml.Return) { return d, nvml.SUCCESS }
	g, _ := openNVML(lib)
	if _, err := g.ProcessMemory(5); err == nil {
		t.Error("NVML_VALUE_NOT_AVAILABLE reported as a size")
	}
}
