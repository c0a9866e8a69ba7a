package quant

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/modelfit/modelfit/gguf"
)

// TestMatVecRows checks MatVec against one Dot per row, bit for bit, and
// against the scalar reference within the fast-kernel tolerance, on row
// counts around the four-row decode kernels' tile (odd counts and tails of 1
// to 3 rows) and odd and even block counts. Where a type has a four-row
// kernel (q4_0 with AVX512-VNNI), most rows go through it.
func TestMatVecRows(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, ty := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ4_K, gguf.TypeQ8_0} {
		t.Run(ty.String(), func(t *testing.T) {
			t.Logf("four-row kernel: %v", rows4Fn[ty] != nil)
			a, _ := ActType(ty)
			bs := int(ty.BlockSize())
			for _, nb := range []int{1, 2, 3, 5, 8, 33} {
				n := nb * bs
				rb := rowBytes(ty, n)
				for _, rows := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 16} {
					for rep := range 2 {
						x := randVec(r, n)
						if rep == 1 {
							for i := range x {
								x[i] *= 1e3
							}
						}
						w := randRow(r, ty, n*rows)
						act := make([]byte, rowBytes(a, n))
						if err := QuantizeAct(ty, x, act); err != nil {
							t.Fatal(err)
						}
						dst := make([]float32, rows)
						MatVec(ty, dst, w, act, n)
						for i := range dst {
							row := w[i*rb : (i+1)*rb]
							if want := Dot(ty, row, act, n); math.Float32bits(dst[i]) != math.Float32bits(want) {
								t.Errorf("%d blocks, %d rows, row %d: MatVec %g, Dot %g", nb, rows, i, dst[i], want)
							}
							ref := DotRef(ty, row, act, n)
							if mag := magnitude(ty, row, act, n); math.Abs(float64(dst[i]-ref)) > fastTol*mag {
								t.Errorf("%d blocks, %d rows, row %d: MatVec %g, reference %g", nb, rows, i, dst[i], ref)
							}
						}
					}
				}
			}
		})
	}
}
