package bench

import (
	"testing"

	parser "github.com/gpustack/gguf-parser-go"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/planner"
)

// BenchmarkEstimate times one CPU-only memory estimate at an 8192-token
// context of every zoo file, on an already parsed file: modelfit's
// planner.Estimate and gguf-parser-go's EstimateLLaMACppRun + Summarize.
func BenchmarkEstimate(b *testing.B) {
	dir := b.TempDir()
	const nCtx = 8192
	for _, m := range zoo(b) {
		b.Run(m.Name+"/modelfit", func(b *testing.B) {
			f, err := gguf.Open(m.Header)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			s := planner.DefaultSettings()
			s.NCtx = nCtx
			b.ReportAllocs()
			for b.Loop() {
				if _, err := planner.Estimate(f, s, planner.Env{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(m.Name+"/gguf-parser-go", func(b *testing.B) {
			gf, err := parser.ParseGGUFFile(sparseCopy(b, dir, m))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				e := gf.EstimateLLaMACppRun(parser.WithLLaMACppContextSize(nCtx), parser.WithLLaMACppOffloadLayers(0))
				if s := e.Summarize(true, 0, 0); len(s.Items) == 0 {
					b.Fatal("empty estimate")
				}
			}
		})
	}
}
