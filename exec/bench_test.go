package exec

import (
	"context"
	"os"
	"runtime"
	"testing"

	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/planner"
)

// benchFiles are the largest test model (the synthetic 2.6M-parameter llama)
// in every quantization the test data has.
var benchFiles = []struct {
	quant  string
	shared bool
}{
	{"Q2_K", false}, {"Q3_K_M", false}, {"Q4_0", false}, {"Q4_K_M", false}, {"Q5_K_M", false},
	{"Q6_K", false}, {"Q8_0", false}, {"F16", true}, {"Q4_1", true}, {"Q5_0", true}, {"Q5_1", true},
}

func benchModel(b *testing.B, quant string, shared bool) *Model {
	name := "synth-llama-gqa-" + quant + ".gguf"
	path := testutil.Path("models", name)
	if shared {
		path = testutil.Shared(b, "testdata", "models", name)
	}
	s := planner.Settings{NCtx: 512, NUbatch: 512, CacheTypeK: "f16", CacheTypeV: "f16", MMap: true, Threads: runtime.GOMAXPROCS(0)}
	return openModel(b, path, s)
}

// benchPrompt is n token ids spread over the vocabulary.
func benchPrompt(m *Model, n int) []int32 {
	toks := make([]int32, n)
	for i := range toks {
		toks[i] = int32((i*131 + 7) % m.VocabSize())
	}
	return toks
}

// BenchmarkPrefill processes a 128-token prompt in one ubatch; the metric is
// prompt tokens per second.
func BenchmarkPrefill(b *testing.B) {
	for _, bf := range benchFiles {
		b.Run(bf.quant, func(b *testing.B) {
			m := benchModel(b, bf.quant, bf.shared)
			prompt := benchPrompt(m, 128)
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				m.Reset()
				if err := m.eval(ctx, prompt, false, func([]float32) {}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(prompt)*b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}

// BenchmarkDecode generates one token per iteration after a 32-token prompt
// (the context restarts when full); the metric is tokens per second.
func BenchmarkDecode(b *testing.B) {
	for _, bf := range benchFiles {
		b.Run(bf.quant, func(b *testing.B) {
			m := benchModel(b, bf.quant, bf.shared)
			prompt := benchPrompt(m, 32)
			ctx := context.Background()
			logits := make([]float32, m.VocabSize())
			keep := func(l []float32) { copy(logits, l) }
			b.ResetTimer()
			for b.Loop() {
				if m.Pos() == 0 || m.Pos() >= 256 {
					b.StopTimer()
					m.Reset()
					if err := m.eval(ctx, prompt, false, keep); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				if err := m.eval(ctx, []int32{argmax(logits)}, false, keep); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}

// BenchmarkFile prefills 128 tokens and decodes 64 on the model named by
// $MODELFIT_BENCH_MODEL (a realistic size, e.g. one written by bench's
// enginespeed), for profiling: go test -run '^$' -bench File -cpuprofile.
func BenchmarkFile(b *testing.B) {
	path := os.Getenv("MODELFIT_BENCH_MODEL")
	if path == "" {
		b.Skip("MODELFIT_BENCH_MODEL not set")
	}
	s := planner.Settings{NCtx: 192, NUbatch: 512, CacheTypeK: "f16", CacheTypeV: "f16", MMap: true, Threads: runtime.GOMAXPROCS(0)}
	m := openModel(b, path, s)
	prompt := benchPrompt(m, 128)
	ctx := context.Background()
	for _, phase := range []string{"pp128", "tg64"} {
		b.Run(phase, func(b *testing.B) {
			n := 0
			for b.Loop() {
				m.Reset()
				if phase == "pp128" {
					if _, err := m.EvalLast(ctx, prompt); err != nil {
						b.Fatal(err)
					}
					n += len(prompt)
					continue
				}
				for i := range 64 {
					if _, err := m.EvalLast(ctx, prompt[i:i+1]); err != nil {
						b.Fatal(err)
					}
				}
				n += 64
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}
