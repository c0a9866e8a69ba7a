package exec

import (
	"math"
	"math/rand"
	"testing"

	"github.com/modelfit/modelfit/quant"
)

// TestGemmDotF32Lanes checks the unrolled 8- and 16-lane dots against the
// plain lane loop and halving sum of gemmDot, bit for bit.
func TestGemmDotF32Lanes(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	ref := func(a, b []float32, w int) float32 {
		acc := make([]float32, w)
		for l := 0; l+w <= len(b); l += w {
			for i := range w {
				acc[i] += a[l+i] * b[l+i]
			}
		}
		return hsum(acc)
	}
	for _, n := range []int{16, 32, 48, 64, 128, 512} {
		a, b := make([]float32, n), make([]float32, n)
		for i := range a {
			a[i] = quant.F16ToF32(quant.F32ToF16(float32(r.NormFloat64())))
			b[i] = quant.F16ToF32(quant.F32ToF16(float32(r.Float64())))
		}
		if g, w := gemmDotF32x8(a, b), ref(a, b, 8); math.Float32bits(g) != math.Float32bits(w) {
			t.Errorf("n=%d x8: %v, want %v", n, g, w)
		}
		if g, w := gemmDotF32x16(a, b), ref(a, b, 16); math.Float32bits(g) != math.Float32bits(w) {
			t.Errorf("n=%d x16: %v, want %v", n, g, w)
		}
	}
}
