//go:build !purego

package quant

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/modelfit/modelfit/gguf"
)

// TestWideKernelsMatchAVX2 checks that every AVX-512 kernel gives exactly the
// AVX2 kernel's float, bit for bit, on random rows and activations of many
// block counts (odd ones for the two-block loops), large activations and the
// test models' rows. The AVX2 kernels stay tested on their own by the golden
// and reference tests, through this pairing and TestFastMatchesRef on CPUs
// without AVX-512.
func TestWideKernelsMatchAVX2(t *testing.T) {
	ks := wideKernels()
	if len(ks) == 0 {
		t.Skip("no AVX-512 kernels on this CPU")
	}
	r := rand.New(rand.NewPCG(21, 22))
	for ty, k := range ks {
		t.Run(ty.String(), func(t *testing.T) {
			a, _ := ActType(ty)
			bs := int(ty.BlockSize())
			for _, nb := range []int{0, 1, 2, 3, 4, 5, 7, 8, 16, 33, 64} {
				for rep := range 4 {
					n := nb * bs
					x := randVec(r, n)
					if rep == 3 {
						for i := range x {
							x[i] *= 1e3
						}
					}
					row := randRow(r, ty, n)
					act := make([]byte, rowBytes(a, n))
					if err := QuantizeAct(ty, x, act); err != nil {
						t.Fatal(err)
					}
					if want, got := k[0](row, act, nb), k[1](row, act, nb); math.Float32bits(want) != math.Float32bits(got) {
						t.Errorf("%d blocks: AVX-512 %g, AVX2 %g", nb, got, want)
					}
				}
			}
		})
	}
}

// TestWide4KernelsMatchAVX2 is TestWideKernelsMatchAVX2 for the four-token
// kernels.
func TestWide4KernelsMatchAVX2(t *testing.T) {
	ks := wide4Kernels()
	if len(ks) == 0 {
		t.Skip("no AVX-512 kernels on this CPU")
	}
	r := rand.New(rand.NewPCG(23, 24))
	for ty, k := range ks {
		t.Run(ty.String(), func(t *testing.T) {
			a, _ := ActType(ty)
			bs := int(ty.BlockSize())
			for _, nb := range []int{0, 1, 2, 3, 5, 8, 16, 33} {
				n := nb * bs
				ab := rowBytes(a, n)
				row := randRow(r, ty, n)
				acts := make([]byte, 4*ab)
				for tok := range 4 {
					x := randVec(r, n)
					if tok == 3 {
						for i := range x {
							x[i] *= 1e3
						}
					}
					if err := QuantizeAct(ty, x, acts[tok*ab:(tok+1)*ab]); err != nil {
						t.Fatal(err)
					}
				}
				var want, got [4]float32
				k[0](row, acts, ab, nb, &want)
				k[1](row, acts, ab, nb, &got)
				for tok := range 4 {
					if math.Float32bits(want[tok]) != math.Float32bits(got[tok]) {
						t.Errorf("%d blocks, token %d: AVX-512 %g, AVX2 %g", nb, tok, got[tok], want[tok])
					}
				}
			}
		})
	}
}

// The Go lanes that builds without the assembly use for BF16 must sum as
// dotBF16AVX2 does, bit for bit, tails included.
func TestBF16LanesMatchAVX2(t *testing.T) {
	if !hasAVX2 {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewPCG(7, 7))
	for _, n := range []int{1, 31, 32, 33, 64, 96, 1000, 4096} {
		row, act := make([]byte, 2*n), make([]byte, 2*n)
		for i := 0; i < n; i++ {
			putU16(row[2*i:], F32ToBF16(float32(r.NormFloat64())))
			putU16(act[2*i:], F32ToBF16(float32(r.NormFloat64()*100)))
		}
		want := fastKernels()[gguf.TypeBF16](row, act, n)
		if got := dotBF16Lanes(row, act, n); math.Float32bits(got) != math.Float32bits(want) {
			t.Errorf("n=%d: lanes %v, AVX2 %v", n, got, want)
		}
	}
}
