// Command estimate shows the library's memory model: how much a model takes
// on the CPU at a few context sizes, with and without flash attention.
//
//	go run ./examples/estimate testdata/models/synth-llama-gqa-Q4_K_M.gguf
package main

import (
	"fmt"
	"log"
	"os"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/planner"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: estimate MODEL.gguf")
	}
	f, err := gguf.Open(os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	fmt.Println("n_ctx  flash_attn  weights  KV  compute  total(anon)")
	for _, ctx := range []int{2048, 8192, 32768} {
		for _, fa := range []bool{false, true} {
			s := planner.DefaultSettings()
			s.NCtx, s.FlashAttn = ctx, fa
			b, err := planner.Estimate(f, s, planner.Env{})
			if err != nil {
				log.Fatal(err)
			}
			cpu := b.Devices[0]
			fmt.Printf("%5d  %-10v  %s  %s  %s  %s\n", b.NCtx, fa, mib(cpu.WeightsBytes), mib(cpu.KVBytes), mib(cpu.ComputeBytes), mib(cpu.TotalBytes))
		}
	}
}

func mib(b uint64) string { return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20)) }
