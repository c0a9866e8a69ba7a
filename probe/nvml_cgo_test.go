//go:build linux && cgo

package probe

import (
	"context"
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxa100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"

	"github.com/modelfit/modelfit/internal/testutil"
)

// dgx is go-nvml's simulated DGX A100 (8 × 40 GiB) with GPU i using i GiB:
// the mock reports free = used = 0 unless told otherwise, and leaves the PCI
// bus id out of its PciInfo, which the real driver fills in.
func dgx() *dgxa100.Server {
	s := dgxa100.New()
	for i, d := range s.Devices {
		dev := d.(*server.Device)
		dev.MemoryInfo.Used = uint64(i) << 30
		dev.MemoryInfo.Free = dev.MemoryInfo.Total - dev.MemoryInfo.Used
		pci := nvml.PciInfo{PciDeviceId: dev.Config.PciDeviceId}
		for j := range min(len(dev.PciBusID), len(pci.BusId)-1) {
			pci.BusId[j] = int8(dev.PciBusID[j])
		}
		dev.GetPciInfoFunc = func() (nvml.PciInfo, nvml.Return) { return pci, nvml.SUCCESS }
	}
	return s
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// TestNVMLMockDGXA100 reads the simulated server through the same adapter
// the real driver uses, with and without CUDA_VISIBLE_DEVICES.
func TestNVMLMockDGXA100(t *testing.T) {
	srv := dgx()
	uuid5, _ := srv.Devices[5].GetUUID()
	tests := []struct {
		visible string
		want    []int // physical indices, in the order the runtime numbers them
	}{
		{"", []int{0, 1, 2, 3, 4, 5, 6, 7}},
		{"3,5", []int{3, 5}},
		{uuid5[:12] + ",1", []int{5, 1}},
		{"1,9,2", []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.visible, func(t *testing.T) {
			s, err := Probe(context.Background(), Options{Root: testutil.Path("probe", "v2-max"), NVML: &nvmlLib{lib: srv},
				Env: env(map[string]string{"CUDA_VISIBLE_DEVICES": tt.visible})})
			if err != nil {
				t.Fatal(err)
			}
			if len(s.GPUs) != len(tt.want) {
				t.Fatalf("%d GPUs, want %d (note %q)", len(s.GPUs), len(tt.want), s.GPUNote)
			}
			for i, g := range s.GPUs {
				phys := tt.want[i]
				uuid, _ := srv.Devices[phys].GetUUID()
				if g.Index != i || g.UUID != uuid || g.Vendor != "nvidia" || g.Name != "Mock NVIDIA A100-SXM4-40GB" ||
					g.TotalBytes != 40960<<20 || g.UsedBytes != uint64(phys)<<30 || g.FreeBytes != 40960<<20-uint64(phys)<<30 ||
					g.ComputeCapability != "8.0" || g.PCIBusID != srv.Devices[phys].(*server.Device).PciBusID || g.Driver != "550.54.15" || g.CUDAVersion != "12.4" {
					t.Errorf("GPU %d (physical %d) = %+v", i, phys, g)
				}
			}
		})
	}
}

// TestNVMLUnifiedMemory: a device without memory of its own (GB10, Jetson)
// answers NOT_SUPPORTED and shares the host's memory.
func TestNVMLUnifiedMemory(t *testing.T) {
	srv := dgx()
	srv.Devices = srv.Devices[:1]
	srv.Devices[0].(*server.Device).GetMemoryInfoFunc = func() (nvml.Memory, nvml.Return) {
		return nvml.Memory{}, nvml.ERROR_NOT_SUPPORTED
	}
	s, err := Probe(context.Background(), Options{Root: testutil.Path("probe", "v2-limit"), NVML: &nvmlLib{lib: srv}, Env: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	g := s.GPUs[0]
	if !g.UnifiedMemory || g.TotalBytes != s.Memory.TotalBytes || g.FreeBytes != s.Memory.EffectiveAvailableBytes {
		t.Errorf("unified GPU = %+v; host total %d, effective %d", g, s.Memory.TotalBytes, s.Memory.EffectiveAvailableBytes)
	}
}

// TestNVMLInitFails: after a failed init no other NVML function may be
// called (the real library kills the process); the bare mock panics on any
// function not set, so a stray call fails the test.
func TestNVMLInitFails(t *testing.T) {
	lib := &mock.Interface{InitFunc: func() nvml.Return { return nvml.ERROR_DRIVER_NOT_LOADED }}
	s, err := Probe(context.Background(), Options{Root: testutil.Path("probe", "v2-max"), NVML: &nvmlLib{lib: lib}, Env: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.GPUs) != 0 || !strings.Contains(s.GPUNote, "no NVIDIA GPUs") || !strings.Contains(s.GPUNote, "DRIVER_NOT_LOADED") {
		t.Errorf("GPUs %v, note %q", s.GPUs, s.GPUNote)
	}
	if n := len(lib.InitCalls()); n != 1 {
		t.Errorf("Init called %d times", n)
	}
}
