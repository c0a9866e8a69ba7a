package planner

import (
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
)

// TestSplitNormPins checks the scheduler's split against a run that
// allocates: the synthetic Q8_0 model over two ggml-rpc-servers (-ts 1,2,
// every layer offloaded) with build 10587's llama-server, which logged
//
//	llama-server -m synth-llama-gqa-Q8_0.gguf --rpc H1,H2 -ngl 99 -ts 1,2 -fa on -t 1 -c 4096 -b 2048 -ub 512 -v
//	(its fit step, no_alloc)  RPC0 8.51, RPC0 8.01, CPU 5.01 MiB
//	(the reserve)             RPC0 8.51, RPC0 8.51, CPU 5.01 MiB
//
// The fit step measures with ggml_backend_sched_reserve_size, which resets
// the scheduler and drops graph_get_cb's pin of each layer's norm to its
// device; the reserve keeps it, and the second device then receives the
// first's residual and computes its first layer's norm itself.
func TestSplitNormPins(t *testing.T) {
	f, err := gguf.Open(testutil.Path("models", "synth-llama-gqa-Q8_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := DefaultSettings()
	s.NCtx, s.NBatch, s.NUbatch, s.NParallel = 4096, 2048, 512, 1
	s.FlashAttn, s.NGPULayers, s.TensorSplit = true, 99, []float64{1, 2}
	env := Env{GPUs: []string{"RPC0", "RPC1"}, GPUFree: []uint64{1 << 34, 1 << 34}, Remote: []RemoteKind{RemoteCPU, RemoteCPU}}
	const mib = 1 << 20
	for _, c := range []struct {
		noAlloc bool
		want    [3]float64 // CPU, RPC0, RPC1
	}{
		{false, [3]float64{5.01, 8.51, 8.51}},
		{true, [3]float64{5.01, 8.51, 8.01}},
	} {
		env.NoAllocReserve = c.noAlloc
		b, err := Estimate(f, s, env)
		if err != nil {
			t.Fatal(err)
		}
		for d, want := range c.want {
			if got := float64(b.Devices[d].ComputeBytes) / mib; got < want-0.005 || got > want+0.005 {
				t.Errorf("no_alloc %v: %s compute %.3f MiB, llama.cpp %.2f", c.noAlloc, b.Devices[d].Name, got, want)
			}
		}
	}
}
