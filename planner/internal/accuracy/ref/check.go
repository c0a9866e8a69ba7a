package ref

import (
	"fmt"
	"math"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/planner"
)

const mib = 1 << 20

// logged is the rounding of llama.cpp's two-decimal MiB figures, plus a
// hair for float noise: a byte-exact prediction is always within it.
const logged = 0.0051

// Figure is one predicted quantity next to what llama.cpp logged.
type Figure struct {
	Name      string  // "weights", "repack", "K", "V", "KV", "compute", "output", "total"
	Pred      float64 // MiB
	Low, High float64 // the predicted range (MiB); equal to Pred where the term is exact
	Actual    float64 // MiB, as logged
	// Abs is the allowed absolute error in MiB (exact terms: the logging's
	// rounding); Rel the allowed relative error (approximate terms).
	Abs, Rel float64
	// Ranged terms must also hold the actual figure within [Low, High].
	Ranged bool
}

// Err is the relative error of the prediction.
func (f Figure) Err() float64 {
	if f.Actual == 0 {
		return f.Pred
	}
	return (f.Pred - f.Actual) / f.Actual
}

// OK reports whether the prediction meets its tolerance and, for ranged
// terms, whether the range holds the actual figure.
func (f Figure) OK() bool {
	if f.Abs > 0 {
		return math.Abs(f.Pred-f.Actual) <= f.Abs
	}
	return math.Abs(f.Err()) <= f.Rel && (!f.Ranged || f.Actual >= f.Low && f.Actual <= f.High)
}

func (f Figure) String() string {
	if f.Low != f.High {
		return fmt.Sprintf("%s %.2f [%.2f, %.2f] MiB, llama.cpp %.2f (%+.1f%%)", f.Name, f.Pred, f.Low, f.High, f.Actual, 100*f.Err())
	}
	return fmt.Sprintf("%s %.2f MiB, llama.cpp %.2f", f.Name, f.Pred, f.Actual)
}

// X86 is the feature set of the machine the reference figures were
// measured on (x86-64 with AVX2 and AVX-512).
var X86 = []string{"avx", "avx2", "f16c", "fma", "avx512f", "avx512bw", "avx512vl"}

// Settings and Env turn a row's configuration into the estimate's input.
func (r Row) Settings() (planner.Settings, planner.Env) {
	s := planner.DefaultSettings()
	s.NCtx, s.NBatch, s.NUbatch, s.NParallel = r.NCtx, r.NBatch, r.NUbatch, r.NSeq
	// On the CPU backend llama.cpp resolves "auto" to flash attention on.
	s.FlashAttn = r.FlashAttn != "off"
	s.CacheTypeK, s.CacheTypeV = r.TypeK, r.TypeV
	s.MMap, s.NoRepack = r.MMap, !r.Repack
	env := planner.Env{Runtime: planner.RuntimeOllama}
	if r.Source == "upstream" {
		env = planner.Env{Runtime: planner.RuntimeLlamaCppB6529, CPUFeatures: X86, CPUArch: "amd64"}
	}
	return s, env
}

// Check estimates the row's configuration for file f and pairs every
// predicted figure with the logged one. Breakdown is the estimate.
func Check(r Row, f *gguf.File) ([]Figure, *planner.Breakdown, error) {
	s, env := r.Settings()
	b, err := planner.Estimate(f, s, env)
	if err != nil {
		return nil, nil, err
	}
	cpu := b.Devices[0]
	m := func(v uint64) float64 { return float64(v) / mib }
	var figs []Figure
	exact := func(name string, pred uint64, actual float64) {
		if actual == Absent {
			return
		}
		figs = append(figs, Figure{Name: name, Pred: m(pred), Low: m(pred), High: m(pred), Actual: actual, Abs: logged})
	}
	// The CPU model buffer: every host weight when mapped; without mmap
	// the weights read into anonymous memory (repacked ones live in
	// CPU_REPACK instead).
	weights := cpu.WeightsBytes
	if !r.MMap {
		weights = cpu.AnonWeightsBytes
	}
	exact("weights", weights, r.Weights)
	exact("repack", cpu.RepackBytes, r.RepackMiB)
	if r.RepackBytes != 0 {
		figs = append(figs, Figure{Name: "repack bytes", Pred: float64(cpu.RepackBytes), Low: float64(cpu.RepackBytes),
			High: float64(cpu.RepackBytes), Actual: float64(r.RepackBytes), Abs: 0.5})
	}
	var k, v uint64
	for _, l := range b.Layers {
		k += l.KBytes
		v += l.VBytes
	}
	exact("K", k, r.K)
	exact("V", v, r.V)
	exact("KV", cpu.KVBytes, r.KV)
	exact("output", cpu.OutputBytes, r.Output)
	if r.Compute != Absent {
		figs = append(figs, Figure{Name: "compute", Pred: m(cpu.ComputeBytes), Low: m(cpu.ComputeLowBytes),
			High: m(cpu.ComputeHighBytes), Actual: r.Compute, Rel: 0.10, Ranged: true})
	}
	// The host total: llama.cpp's own when logged, else the sum of its
	// buffer lines; predicted the same way (mapped weights included).
	actual := r.TotalHost
	if actual == Absent && r.Failed == "" && !r.NoAlloc {
		actual = 0
		for _, x := range []float64{r.Weights, r.RepackMiB, r.KV, r.Compute, r.Output} {
			if x != Absent {
				actual += x
			}
		}
	}
	if actual != Absent {
		pred := weights + cpu.RepackBytes + cpu.KVBytes + cpu.OutputBytes
		lo, hi := m(pred+cpu.ComputeLowBytes), m(pred+cpu.ComputeHighBytes)
		p := m(pred + cpu.ComputeBytes)
		figs = append(figs, Figure{Name: "total", Pred: p, Low: lo, High: hi, Actual: actual, Rel: 0.02})
	}
	return figs, b, nil
}
