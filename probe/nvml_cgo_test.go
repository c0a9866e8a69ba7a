//go:build linux && cgo

package probe

import (
	"context"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxa100"

	"github.com/modelfit/modelfit/internal/testutil"
)

// TestNVMLMockDGXA100 reads go-nvml's simulated DGX A100 (8 GPUs) through the
// same adapter the real driver uses.
func TestNVMLMockDGXA100(t *testing.T) {
	for _, tt := range []struct {
		visible string
		n       int
	}{{"", 8}, {"3,5", 2}} {
		s, err := Probe(context.Background(), Options{Root: testutil.Path("probe", "v2-max"), NVML: &nvmlLib{lib: dgxa100.New()},
			Env: func(k string) string {
				if k == "CUDA_VISIBLE_DEVICES" {
					return tt.visible
				}
				return ""
			}})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.GPUs) != tt.n {
			t.Fatalf("CUDA_VISIBLE_DEVICES=%q: %d GPUs, want %d (note %q)", tt.visible, len(s.GPUs), tt.n, s.GPUNote)
		}
		g := s.GPUs[len(s.GPUs)-1]
		if g.Vendor != "nvidia" || g.Name != "Mock NVIDIA A100-SXM4-40GB" || g.TotalBytes != 40960<<20 || g.FreeBytes > g.TotalBytes ||
			g.ComputeCapability != "8.0" || g.UUID == "" || g.Driver != "550.54.15" || g.CUDAVersion != "12.4" || g.Index != tt.n-1 {
			t.Errorf("GPU = %+v", g)
		}
	}
}
