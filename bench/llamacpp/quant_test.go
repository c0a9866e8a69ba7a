package llamacpp_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/modelfit/modelfit/bench/llamacpp"
	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/quant"
)

// TestQuantMatchesGGML is a differential test of modelfit's quant package
// against the live ggml, on rows ggml itself quantized and on random bytes:
// dequantization must be bit-exact, activation quantization exact, and the
// dot product within float32 rounding of ggml's.
func TestQuantMatchesGGML(t *testing.T) {
	for _, typ := range quant.SupportedTypes() {
		t.Run(typ.String(), func(t *testing.T) {
			tr, err := llamacpp.TypeTraits(int(typ))
			if err != nil {
				t.Fatal(err)
			}
			act, err := quant.ActType(typ)
			if err != nil {
				t.Fatal(err)
			}
			if act != gguf.Type(tr.VecDotType) {
				t.Fatalf("quant.ActType %v, ggml vec_dot_type %d", act, tr.VecDotType)
			}
			n := 8 * 256
			if tr.BlockSize == 1 {
				n = 1000
			}
			for seed := range uint64(6) {
				rng := rand.New(rand.NewPCG(seed, uint64(typ)))
				scale := []float64{1, 0.02, 1e-4, 30, 1, 1}[seed]
				w := make([]float32, n)
				x := make([]float32, n)
				for i := range w {
					w[i] = float32(rng.NormFloat64() * scale)
					x[i] = float32(rng.NormFloat64())
				}
				if seed == 4 { // a block of zeros and a block of one outlier
					clear(w[:tr.BlockSize*max(1, 256/tr.BlockSize)])
					w[len(w)-1] = 1000
				}
				raw, err := llamacpp.Quantize(int(typ), w, n)
				if err != nil {
					t.Fatal(err)
				}
				if seed == 5 { // arbitrary bytes: every bit pattern is a valid block
					for i := range raw {
						raw[i] = byte(rng.Uint32())
					}
				}
				compare(t, fmt.Sprintf("seed %d", seed), typ, act, raw, x, n, seed != 5)
			}
		})
	}
}

func compare(t *testing.T, name string, typ, act gguf.Type, raw []byte, x []float32, n int, checkDot bool) {
	t.Helper()
	want, err := llamacpp.ToFloat(int(typ), raw, n)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float32, n)
	if err := quant.DequantizeRow(typ, raw, got); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
			t.Errorf("%s: dequantize [%d] = %v, ggml %v", name, i, got[i], want[i])
			break
		}
	}
	wantAct, err := llamacpp.FromFloat(int(act), x)
	if err != nil {
		t.Fatal(err)
	}
	gotAct := make([]byte, len(wantAct))
	if err := quant.QuantizeAct(typ, x, gotAct); err != nil {
		t.Fatal(err)
	}
	diff := 0
	for i := range gotAct {
		if gotAct[i] != wantAct[i] {
			diff++
		}
	}
	if diff > 0 {
		t.Errorf("%s: %v activations differ from ggml's from_float in %d of %d bytes", name, act, diff, len(gotAct))
	}
	if !checkDot {
		return
	}
	wantDot, err := llamacpp.VecDot(int(typ), raw, wantAct, n)
	if err != nil {
		t.Fatal(err)
	}
	// Bound the rounding of either summation order by the sum of |terms|.
	var mag float64
	for i := range want {
		mag += math.Abs(float64(want[i]) * float64(x[i]))
	}
	for _, f := range []struct {
		name string
		dot  func(gguf.Type, []byte, []byte, int) float32
	}{{"Dot", quant.Dot}, {"DotRef", quant.DotRef}} {
		got := f.dot(typ, raw, wantAct, n)
		if d := math.Abs(float64(got) - float64(wantDot)); !(d <= 1e-5*mag+1e-6) {
			t.Errorf("%s: %s = %v, ggml %v (diff %.3g, scale %.3g)", name, f.name, got, wantDot, d, mag)
		}
	}
}
