package planner_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/probe"
)

// Plan the 671B DeepSeek-V3 layout on an assumed machine with 64 GiB RAM and
// one 80 GiB GPU: it runs with mmap (paging from disk), and not without.
func ExampleMake() {
	f, err := gguf.Open(testutil.Path("zoo", "deepseek-v3-Q2_K.header.gguf"))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	machine := probe.Describe(probe.Description{RAMBytes: 64 << 30, GPUs: []probe.GPU{{Name: "H100", TotalBytes: 80 << 30}}})

	p, err := planner.Make(context.Background(), f, machine, planner.Request{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("fits:", p.Fits, "mmap:", p.Settings.MMap, "decode bound by:", p.Predicted.DecodeBound)
	fmt.Printf("verdict: %s, %.1f GiB read from disk per token\n", p.Verdict, p.Predicted.DiskBytesPerToken/(1<<30))

	var req planner.Request
	req.Settings.MMap, req.Pinned.MMap = false, true
	_, err = planner.Make(context.Background(), f, machine, req)
	var nf *planner.NoFitError
	fmt.Println("no-mmap fits:", !errors.As(err, &nf))
	fmt.Println("nearest plan: mmap", nf.NearestSettings.MMap, "no-repack", nf.NearestSettings.NoRepack)
	// Output:
	// fits: true mmap: true decode bound by: disk reads (paging)
	// verdict: runs_paging, 2.8 GiB read from disk per token
	// no-mmap fits: false
	// nearest plan: mmap true no-repack true
}

func ExampleEstimate() {
	f, err := gguf.Open(testutil.Path("models", "synth-llama-gqa-Q4_K_M.gguf"))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	s := planner.DefaultSettings()
	s.NCtx = 8192
	b, err := planner.Estimate(f, s, planner.Env{})
	if err != nil {
		log.Fatal(err)
	}
	cpu := b.Devices[0]
	fmt.Printf("weights %d, KV %d, compute %d bytes\n", cpu.WeightsBytes, cpu.KVBytes, cpu.ComputeBytes)
	// Output:
	// weights 1602048, KV 16777216, compute 13121536 bytes
}

// Render a plan as llama.cpp arguments, in the spelling of older and of
// newer builds, and as Ollama options.
func ExamplePlan_LlamaCppArgs() {
	f, err := gguf.Open(testutil.Path("models", "synth-llama-gqa-Q8_0.gguf"))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	machine := probe.Describe(probe.Description{RAMBytes: 8 << 30, Cores: 4, Features: []string{"avx2"}})
	var req planner.Request
	req.Settings.NCtx, req.Pinned.NCtx = 2048, true
	req.Settings.MMap, req.Pinned.MMap = false, true
	p, err := planner.Make(context.Background(), f, machine, req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Join(p.LlamaCppArgs(planner.ArgsClassic), " "))
	fmt.Println(strings.Join(p.LlamaCppArgs(planner.ArgsLoadMode), " "))
	// Output:
	// -c 2048 -b 2048 -ub 512 -np 1 -t 4 -ngl 0 -fa on -ctk f16 -ctv f16 --no-mmap
	// -c 2048 -b 2048 -ub 512 -np 1 -t 4 -ngl 0 -fa on -ctk f16 -ctv f16 --load-mode none
}

// A plan for Ollama, rendered as the Modelfile of `ollama create`: only
// what Ollama's options and server environment can express.
func ExamplePlan_Modelfile() {
	f, err := gguf.Open(testutil.Path("models", "synth-llama-gqa-Q8_0.gguf"))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	machine := probe.Describe(probe.Description{RAMBytes: 8 << 30, Cores: 4, Features: []string{"avx2"}})
	req := planner.Request{Runtime: planner.RuntimeOllama, OllamaName: "synth:q8"}
	req.Settings.NCtx, req.Pinned.NCtx = 2048, true
	p, err := planner.Make(context.Background(), f, machine, req)
	if err != nil {
		log.Fatal(err)
	}
	mf, err := p.Modelfile(planner.OllamaEnv{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(mf)
	// Output:
	// FROM synth:q8
	// PARAMETER num_ctx 2048
	// PARAMETER num_batch 512
	// PARAMETER num_gpu 0
	// PARAMETER num_thread 4
	// PARAMETER use_mmap true
}
