package llamacpp_test

import (
	"runtime"
	"testing"

	"github.com/modelfit/modelfit/bench/llamacpp"
	"github.com/modelfit/modelfit/internal/testutil"
)

// These benchmarks repeat exec's BenchmarkPrefill and BenchmarkDecode
// (same models, prompts, context and thread count) through llama.cpp, so
// that their tok/s can be compared line by line.

// benchFiles are the synthetic llama in every quantization the test data
// has; shared ones are skipped when /work/shared is absent.
var benchFiles = []struct {
	quant  string
	shared bool
}{
	{"Q2_K", false}, {"Q3_K_M", false}, {"Q4_0", false}, {"Q4_K_M", false}, {"Q5_K_M", false},
	{"Q6_K", false}, {"Q8_0", false}, {"F16", true}, {"Q4_1", true}, {"Q5_0", true}, {"Q5_1", true},
}

func benchModel(b *testing.B, quant string, shared bool) *llamacpp.Model {
	name := "synth-llama-gqa-" + quant + ".gguf"
	path := testutil.Path("models", name)
	if shared {
		path = testutil.Shared(b, "testdata", "models", name)
	}
	m, err := llamacpp.Load(path, llamacpp.Options{Threads: runtime.GOMAXPROCS(0), Ctx: 512})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(m.Close)
	return m
}

// benchPrompt is n token ids spread over the vocabulary, as in exec.
func benchPrompt(m *llamacpp.Model, n int) []int32 {
	toks := make([]int32, n)
	for i := range toks {
		toks[i] = int32((i*131 + 7) % m.VocabSize())
	}
	return toks
}

// BenchmarkPrefill decodes a 128-token prompt in one batch; the metric is
// prompt tokens per second.
func BenchmarkPrefill(b *testing.B) {
	for _, bf := range benchFiles {
		b.Run(bf.quant, func(b *testing.B) {
			m := benchModel(b, bf.quant, bf.shared)
			prompt := benchPrompt(m, 128)
			for b.Loop() {
				m.Reset()
				if err := m.Eval(prompt); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(prompt)*b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}

// BenchmarkDecode generates one greedy token per iteration after a
// 32-token prompt (the context restarts at position 256); the metric is
// tokens per second.
func BenchmarkDecode(b *testing.B) {
	for _, bf := range benchFiles {
		b.Run(bf.quant, func(b *testing.B) {
			m := benchModel(b, bf.quant, bf.shared)
			prompt := benchPrompt(m, 32)
			next := []int32{0}
			for b.Loop() {
				if m.Pos() == 0 || m.Pos() >= 256 {
					b.StopTimer()
					m.Reset()
					if err := m.Eval(prompt); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				next[0] = m.Argmax()
				if err := m.Eval(next); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}
