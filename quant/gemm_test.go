package quant

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/modelfit/modelfit/gguf"
)

// TestGemmMatchesRef checks every matrix-matrix kernel against the scalar
// reference dot product, bit for bit, through MatMul: random rows (every
// byte value), activations quantized from normal and from large values and
// raw random activation bytes (-128 included), row counts with full and
// partial 16-row tiles, token counts with whole and partial groups of 8
// (the rest of the tokens go through Dot).
func TestGemmMatchesRef(t *testing.T) {
	ks := tileKernels()
	if len(ks) == 0 {
		t.Skip("no matrix-matrix kernels on this CPU")
	}
	r := rand.New(rand.NewPCG(31, 32))
	for ty := range ks {
		t.Run(ty.String(), func(t *testing.T) {
			a, _ := ActType(ty)
			for _, c := range []struct{ nb, rows, nTok int }{
				{1, 16, 8}, {2, 16, 9}, {3, 5, 8}, {8, 37, 16}, {33, 48, 23}, {64, 19, 8},
			} {
				for rep := range 3 {
					n := c.nb * int(ty.BlockSize())
					rb, ab := rowBytes(ty, n), rowBytes(a, n)
					w := randRow(r, ty, n*c.rows)
					acts := make([]byte, ab*c.nTok)
					for i := range c.nTok {
						act := acts[i*ab : (i+1)*ab]
						x := randVec(r, n)
						if rep == 1 {
							for j := range x {
								x[j] *= 1e3
							}
						}
						if err := QuantizeAct(ty, x, act); err != nil {
							t.Fatal(err)
						}
						if rep == 2 {
							randActQuants(r, ty, act)
						}
					}
					dst := make([]float32, c.rows*c.nTok)
					MatMul(ty, dst, w, acts, n, c.nTok)
					for tok := range c.nTok {
						for row := range c.rows {
							x, y := w[row*rb:][:rb], acts[tok*ab:][:ab]
							want, kind := dotRef[ty](x, y, c.nb), "reference"
							if tok >= c.nTok&^(gemmTokens-1) {
								if rep == 2 {
									continue // -128 is outside the AVX2 kernels' domain
								}
								want, kind = Dot(ty, x, y, n), "Dot"
							}
							if g := dst[tok*c.rows+row]; math.Float32bits(g) != math.Float32bits(want) {
								t.Errorf("%+v rep %d, row %d token %d: %g, %s %g", c, rep, row, tok, g, kind, want)
							}
						}
					}
				}
			}
		})
	}
}

// randActQuants overwrites the quants of an activation row with random
// bytes (-128 included), keeping q8_K's block sums consistent with them.
func randActQuants(r *rand.Rand, ty gguf.Type, act []byte) {
	if a, _ := ActType(ty); a != gguf.TypeQ8_K {
		for b := 0; b < len(act)/34; b++ {
			for j := 2; j < 34; j++ {
				act[b*34+j] = byte(r.Uint32())
			}
		}
		return
	}
	for b := 0; b < len(act)/q8KBytes; b++ {
		blk := act[b*q8KBytes : (b+1)*q8KBytes]
		for j := 4; j < 260; j++ {
			blk[j] = byte(r.Uint32())
		}
		for j := range 16 {
			var s int32
			for _, q := range blk[4+16*j : 20+16*j] {
				s += int32(int8(q))
			}
			putU16(blk[260+2*j:], uint16(int16(s)))
		}
	}
}
