package planner_test

import (
	"fmt"
	"log"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/planner"
)

// Two of the synthetic model's four layers and its output on one GPU: the
// breakdown per device and per layer.
func ExampleEstimate_partialOffload() {
	f, err := gguf.Open(testutil.Path("models", "synth-llama-gqa-Q4_K_M.gguf"))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	s := planner.DefaultSettings()
	s.NGPULayers = 3 // current llama.cpp: the output layer first, then the last two layers
	b, err := planner.Estimate(f, s, planner.Env{GPUs: []string{"CUDA0"}, GPUFree: []uint64{8 << 30}})
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range b.Devices {
		fmt.Printf("%-5s layers %v weights %d KV %d compute %d overhead %d\n", d.Name, d.Layers, d.WeightsBytes, d.KVBytes, d.ComputeBytes, d.OverheadBytes)
	}
	for il, l := range b.Layers {
		fmt.Printf("layer %d on %s: %d cells, K %d V %d\n", il, b.Devices[l.Device].Name, l.KVCells, l.KBytes, l.VBytes)
	}
	// Output:
	// CPU   layers [0 1] weights 741376 KV 4194304 compute 14680064 overhead 0
	// CUDA0 layers [2 3] weights 864000 KV 4194304 compute 11024384 overhead 536870912
	// layer 0 on CPU: 4096 cells, K 1048576 V 1048576
	// layer 1 on CPU: 4096 cells, K 1048576 V 1048576
	// layer 2 on CUDA0: 4096 cells, K 1048576 V 1048576
	// layer 3 on CUDA0: 4096 cells, K 1048576 V 1048576
}
