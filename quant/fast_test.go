package quant

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/modelfit/modelfit/gguf"
)

// fastTol is the tolerance of a fast kernel against the reference, relative
// to the sum of the magnitudes of the products: the integer sums per block
// are identical, only the float accumulation order differs (eight lanes and
// FMA against one running sum).
const fastTol = 2e-6

// magnitude returns the sum of |w_i*x_i| over the dequantized operands.
func magnitude(ty gguf.Type, row, act []byte, n int) float64 {
	a, _ := ActType(ty)
	w := make([]float32, n)
	if err := DequantizeRow(ty, row, w); err != nil {
		panic(err)
	}
	x := dequantAct(a, act, n)
	var m float64
	for i := range w {
		m += math.Abs(float64(w[i]) * float64(x[i]))
	}
	return m
}

func checkFast(t *testing.T, ty gguf.Type, row []byte, x []float32) {
	t.Helper()
	n := len(x)
	a, _ := ActType(ty)
	act := make([]byte, rowBytes(a, n))
	if err := QuantizeAct(ty, x, act); err != nil {
		t.Fatal(err)
	}
	ref, got := DotRef(ty, row, act, n), Dot(ty, row, act, n)
	if mag := magnitude(ty, row, act, n); math.Abs(float64(got-ref)) > fastTol*mag {
		t.Errorf("%v n=%d: fast %g, reference %g (diff %g, sum|p| %g)", ty, n, got, ref, got-ref, mag)
	}
}

// TestFastMatchesRef checks every kernel in use against the scalar reference
// on random rows of odd and even block counts. Off amd64 it compares the
// reference with itself.
func TestFastMatchesRef(t *testing.T) {
	t.Logf("AVX2 kernels: %v", hasAVX2)
	r := rand.New(rand.NewPCG(11, 12))
	for _, ty := range SupportedTypes() {
		t.Run(ty.String(), func(t *testing.T) {
			bs := int(ty.BlockSize())
			counts := []int{1, 2, 3, 4, 5, 7, 16, 33}
			if bs == 1 {
				counts = []int{1, 31, 32, 33, 64, 100, 4096, 4097}
			}
			for _, c := range counts {
				n := c * bs
				for rep := 0; rep < 3; rep++ {
					x := randVec(r, n)
					if rep == 2 { // large activations
						for i := range x {
							x[i] *= 1e3
						}
					}
					checkFast(t, ty, randRow(r, ty, n), x)
				}
			}
		})
	}
}

// TestFastRealRows runs the fast kernels on rows of the test models.
func TestFastRealRows(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, m := range testModels {
		t.Run(m.name, func(t *testing.T) {
			eachTensor(t, m.path(t), 1, func(tn gguf.Tensor, buf []byte, _ int) {
				n := int(tn.Shape[0])
				checkFast(t, tn.Type, buf, randVec(r, n))
				// An odd prefix of the row as well.
				if bs := int(tn.Type.BlockSize()); n/bs > 2 && bs > 1 {
					m := (n/bs - 1) | 1
					checkFast(t, tn.Type, buf[:rowBytes(tn.Type, m*bs)], randVec(r, m*bs))
				}
			})
		})
	}
}

func TestDotF32(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, n := range []int{0, 1, 31, 32, 100, 4096} {
		a, b := randVec(r, n), randVec(r, n+3)
		act := make([]byte, 4*n)
		row := make([]byte, 4*n)
		for i := 0; i < n; i++ {
			putU32(row[4*i:], math.Float32bits(a[i]))
			putU32(act[4*i:], math.Float32bits(b[i]))
		}
		want := Dot(gguf.TypeF32, row, act, n)
		if n == 0 {
			want = 0
		}
		if got := DotF32(a, b); got != want {
			t.Errorf("n=%d: DotF32 = %g, Dot = %g", n, got, want)
		}
	}
}

// TestF16Row checks the row conversion (F16C on amd64) against F32ToF16 on
// random bit patterns, NaNs and subnormals included.
func TestF16Row(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	x := make([]float32, 4099)
	for i := range x {
		switch i % 3 {
		case 0:
			x[i] = math.Float32frombits(r.Uint32())
		case 1:
			x[i] = float32(r.NormFloat64() * 1e-6) // f16 subnormals
		default:
			x[i] = float32(r.NormFloat64() * 1e4)
		}
	}
	dst := make([]byte, 2*len(x))
	f32ToF16Row(x, dst)
	for i, v := range x {
		if got, want := u16(dst[2*i:]), F32ToF16(v); got != want {
			t.Fatalf("x[%d] = %g (%#08x): row %#04x, F32ToF16 %#04x", i, v, math.Float32bits(v), got, want)
		}
	}
}

// TestDot4 checks the four-token kernels against four single dots, bit for
// bit, on random and real-sized rows.
func TestDot4(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, ty := range SupportedTypes() {
		f4 := dot4Fn[ty]
		if f4 == nil {
			continue
		}
		t.Run(ty.String(), func(t *testing.T) {
			a, _ := ActType(ty)
			counts := []int{1, 2, 3, 16, 17}
			if ty.BlockSize() == 1 {
				counts = []int{1, 63, 64, 65, 200, 4096}
			}
			for _, nb := range counts {
				n := nb * int(ty.BlockSize())
				row := randRow(r, ty, n)
				ab := rowBytes(a, n)
				stride := ab + 64*(nb%2) // a padded stride too
				acts := make([]byte, 3*stride+ab)
				for k := 0; k < 4; k++ {
					if err := QuantizeAct(ty, randVec(r, n), acts[k*stride:k*stride+ab]); err != nil {
						t.Fatal(err)
					}
				}
				var got [4]float32
				f4(row, acts, stride, nb, &got)
				for k := range got {
					if want := Dot(ty, row, acts[k*stride:k*stride+ab], n); got[k] != want {
						t.Errorf("nb=%d token %d: %g, single dot %g", nb, k, got[k], want)
					}
				}
			}
		})
	}
}

// TestQ8KBlock checks the q8_K quantizer in use against the reference,
// byte for byte, on random, tied and zero blocks.
func TestQ8KBlock(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for i := 0; i < 300; i++ {
		x := randVec(r, 256)
		switch i % 5 {
		case 1: // the largest magnitude twice, with both signs
			x[r.IntN(128)], x[128+r.IntN(128)] = -9, 9
		case 2: // all zero
			clear(x)
		case 3: // integers, so that products land on .5 ties
			for j := range x {
				x[j] = float32(r.IntN(255) - 127)
			}
		case 4:
			for j := range x {
				x[j] *= 1e-30
			}
		}
		got, want := make([]byte, q8KBytes), make([]byte, q8KBytes)
		quantizeQ8KBlock(x, got)
		quantizeQ8KBlockRef(x, want)
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d: block differs:\n got  %x\n want %x", i, got, want)
		}
	}
}

// TestQ8Quantizers checks the q8_0 and q8_1 quantizers in use against their
// Go forms, byte for byte, on random, zero, tied and tiny blocks.
func TestQ8Quantizers(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	x := make([]float32, 32*64)
	for b := 0; b < 64; b++ {
		blk := x[32*b : 32*b+32]
		for j := range blk {
			switch b % 4 {
			case 0:
				blk[j] = float32(r.NormFloat64())
			case 1:
				blk[j] = 0
			case 2: // multiples of amax/254: products land on .5 ties
				blk[j] = float32(r.IntN(255)-127) / 2
			case 3:
				blk[j] = float32(r.NormFloat64() * 1e-20)
			}
		}
	}
	for _, c := range []struct {
		name     string
		fast, rf func([]float32, []byte)
		bs       int
	}{{"q8_0", quantizeQ8_0, quantizeQ8_0Ref, 34}, {"q8_1", quantizeQ8_1, quantizeQ8_1Ref, 36}} {
		got, want := make([]byte, 64*c.bs), make([]byte, 64*c.bs)
		c.fast(x, got)
		c.rf(x, want)
		for b := 0; b < 64; b++ {
			if g, w := got[b*c.bs:(b+1)*c.bs], want[b*c.bs:(b+1)*c.bs]; !bytes.Equal(g, w) {
				t.Errorf("%s block %d:\n got  %x\n want %x", c.name, b, g, w)
			}
		}
	}
}
