package planner

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/probe"
)

// referenceCPU is the machine llama-bench ran on for the shared notes
// (PERF.md §7.2): 2 Zen 4 vCPUs with AVX-512, 23.5 GiB RAM, no GPU.
var referenceCPU = probe.Description{RAMBytes: 23 << 30, Cores: 2,
	Features: []string{"avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "f16c", "fma"}}

// llamaBench holds llama-bench's tokens/s (llama.cpp build 6529, CPU
// backend, mmap, CPU_REPACK on): tg128, and pp with the prompt length given.
// The 1-thread decode figures of Q8_0 and Q4_K set kernelRate and the
// prefill figures set hostFlopsAVX512, so only the 2-thread decode figures
// test the model out of sample; 8B Q4_K_M 2t is the mean of two runs (6.68,
// 7.41).
var llamaBench = []struct {
	model     string
	threads   int
	decode    float64
	prefill   float64
	promptLen int
}{
	{"qwen2.5-0.5b-Q8_0", 1, 43.3, 141.7, 64},
	{"qwen2.5-0.5b-Q8_0", 2, 53.4, 265.8, 64},
	{"llama-3.1-8b-Q4_K_M", 1, 3.83, 8.44, 32},
	{"llama-3.1-8b-Q4_K_M", 2, 7.05, 15.22, 32},
	{"llama-3.1-8b-Q8_0", 1, 2.78, 7.56, 32},
	{"llama-3.1-8b-Q8_0", 2, 3.85, 13.38, 32},
}

// TestPredictionAccuracy compares the speed model with llama.cpp measured on
// the reference machine; it logs the accuracy table of the docs.
func TestPredictionAccuracy(t *testing.T) {
	const decodeTol, prefillTol = 0.12, 0.25
	snap := probe.Describe(referenceCPU)
	t.Log("| model | threads | decode predicted | llama.cpp | error | prefill predicted | llama.cpp | error |")
	for _, tt := range llamaBench {
		t.Run(fmt.Sprintf("%s/%dt", tt.model, tt.threads), func(t *testing.T) {
			f, err := gguf.Open(testutil.Shared(t, "zoo", tt.model+".header.gguf"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			req := Request{Settings: Settings{NCtx: 512, NUbatch: tt.promptLen, Threads: tt.threads},
				Pinned: Pins{NCtx: true, NUbatch: true, Threads: true}}
			p, err := Make(context.Background(), f, snap, req)
			if err != nil {
				t.Fatal(err)
			}
			d, pp := p.Predicted.DecodeTokensPerSecond, p.Predicted.PrefillTokensPerSecond
			de, pe := d/tt.decode-1, pp/tt.prefill-1
			t.Logf("| %s | %d | %.2f | %.2f | %+.0f%% | %.1f | %.1f | %+.0f%% |", tt.model, tt.threads, d, tt.decode, de*100, pp, tt.prefill, pe*100)
			if math.Abs(de) > decodeTol {
				t.Errorf("decode %.2f tok/s, llama.cpp %.2f (%+.0f%%, tolerance %.0f%%)", d, tt.decode, de*100, decodeTol*100)
			}
			if math.Abs(pe) > prefillTol {
				t.Errorf("prefill %.1f tok/s, llama.cpp %.1f (%+.0f%%, tolerance %.0f%%)", pp, tt.prefill, pe*100, prefillTol*100)
			}
		})
	}
}

// The load counts every byte of fresh host memory llama.cpp writes before it
// serves (weights read without mmap, the repack copy, the KV cache it
// clears, the compute buffers) at the first-touch speed plan calibrate
// measured: halving that speed adds exactly those bytes' time once more.
func TestLoadCountsFreshMemory(t *testing.T) {
	f, err := gguf.Open(testutil.Path("models", "synth-llama-gqa-Q4_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	snap := probe.Describe(referenceCPU)
	for _, mmap := range []bool{true, false} {
		load := func(touch float64) (float64, PlanDevice) {
			req := Request{Settings: Settings{NCtx: 4096, MMap: mmap, Threads: 2}, Pinned: Pins{NCtx: true, MMap: true, Threads: true},
				Speed: &SpeedProfile{Schema: SpeedSchema, FirstTouchBandwidth: touch}}
			p, err := Make(context.Background(), f, snap, req)
			if err != nil {
				t.Fatal(err)
			}
			return p.Predicted.LoadSeconds, p.Devices[0]
		}
		fast, cpu := load(1 << 31)
		slow, _ := load(1 << 30)
		fresh := float64(cpu.AnonWeightsBytes + cpu.RepackBytes + cpu.KVBytes + cpu.StateBytes + cpu.ComputeBytes)
		if want := fresh / (1 << 31); math.Abs(slow-fast-want) > 0.01*want {
			t.Errorf("mmap %v: load %.4g s at 2 GiB/s, %.4g s at 1 GiB/s: the difference should be %.4g s (%.0f fresh bytes)", mmap, fast, slow, want, fresh)
		}
		if cpu.KVBytes == 0 || cpu.RepackBytes == 0 || !mmap && cpu.AnonWeightsBytes == 0 {
			t.Errorf("mmap %v: %+v lacks the KV cache, the repack copy or the read weights", mmap, cpu)
		}
	}
}
