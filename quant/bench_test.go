package quant

import (
	"math/rand/v2"
	"testing"

	"github.com/modelfit/modelfit/gguf"
)

// benchTypes are benchmarked in decode order of importance.
var benchTypes = []gguf.Type{gguf.TypeQ8_0, gguf.TypeQ4_K, gguf.TypeQ6_K, gguf.TypeQ4_0, gguf.TypeF16, gguf.TypeF32,
	gguf.TypeBF16, gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1, gguf.TypeIQ4_NL, gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ5_K}

// BenchmarkDot measures one 4096-element row (in L1/L2): bytes/s are weight
// bytes. "ref" is the scalar reference, "fast" what Dot uses on this CPU.
func BenchmarkDot(b *testing.B) {
	const n = 4096
	r := rand.New(rand.NewPCG(1, 1))
	for _, ty := range benchTypes {
		a, _ := ActType(ty)
		row := randRow(r, ty, n)
		act := make([]byte, rowBytes(a, n))
		if err := QuantizeAct(ty, randVec(r, n), act); err != nil {
			b.Fatal(err)
		}
		for _, k := range []struct {
			name string
			f    dotKernel
		}{{"ref", dotRef[ty]}, {"fast", dotFn[ty]}} {
			b.Run(ty.String()+"/"+k.name, func(b *testing.B) {
				b.SetBytes(int64(len(row)))
				nb := n / int(ty.BlockSize())
				for b.Loop() {
					k.f(row, act, nb)
				}
			})
		}
	}
}

// BenchmarkMatVec measures a 4096x4096 matrix (larger than L2, most of it in
// L3 or DRAM): bytes/s are weight bytes, one thread.
func BenchmarkMatVec(b *testing.B) {
	const n, rows = 4096, 4096
	r := rand.New(rand.NewPCG(2, 2))
	for _, ty := range benchTypes {
		a, _ := ActType(ty)
		w := randRow(r, ty, n*rows)
		act := make([]byte, rowBytes(a, n))
		if err := QuantizeAct(ty, randVec(r, n), act); err != nil {
			b.Fatal(err)
		}
		dst := make([]float32, rows)
		b.Run(ty.String(), func(b *testing.B) {
			b.SetBytes(int64(len(w)))
			for b.Loop() {
				MatVec(ty, dst, w, act, n)
			}
		})
	}
}

// BenchmarkQuantizeAct measures converting a 4096-float activation row.
func BenchmarkQuantizeAct(b *testing.B) {
	x := randVec(rand.New(rand.NewPCG(3, 3)), 4096)
	for _, ty := range []gguf.Type{gguf.TypeQ8_0, gguf.TypeQ4_1, gguf.TypeQ4_K, gguf.TypeF16} {
		a, _ := ActType(ty)
		dst := make([]byte, rowBytes(a, len(x)))
		b.Run(a.String(), func(b *testing.B) {
			b.SetBytes(int64(4 * len(x)))
			for b.Loop() {
				_ = QuantizeAct(ty, x, dst)
			}
		})
	}
}

// BenchmarkDotHead measures the public Dot on a 128-element f16 row, the
// shape of one attention score: per-call overhead dominates here.
func BenchmarkDotHead(b *testing.B) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, ty := range []gguf.Type{gguf.TypeF16, gguf.TypeF32, gguf.TypeQ8_0} {
		const n = 128
		a, _ := ActType(ty)
		row := randRow(r, ty, n)
		act := make([]byte, rowBytes(a, n))
		if err := QuantizeAct(ty, randVec(r, n), act); err != nil {
			b.Fatal(err)
		}
		b.Run(ty.String(), func(b *testing.B) {
			for b.Loop() {
				Dot(ty, row, act, n)
			}
		})
	}
}

// BenchmarkMatMul measures prompt-sized products: 1024 rows of 4096 against
// 16 tokens. bytes/s count the weight bytes once per token, so the figure
// compares with BenchmarkMatVec.
func BenchmarkMatMul(b *testing.B) {
	const n, rows, nTok = 4096, 1024, 16
	r := rand.New(rand.NewPCG(5, 5))
	for _, ty := range []gguf.Type{gguf.TypeQ4_K, gguf.TypeQ6_K, gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ5_K, gguf.TypeQ3_K, gguf.TypeQ2_K, gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1, gguf.TypeF16} {
		a, _ := ActType(ty)
		w := randRow(r, ty, n*rows)
		ab := rowBytes(a, n)
		acts := make([]byte, ab*nTok)
		for t := 0; t < nTok; t++ {
			if err := QuantizeAct(ty, randVec(r, n), acts[t*ab:(t+1)*ab]); err != nil {
				b.Fatal(err)
			}
		}
		dst := make([]float32, rows*nTok)
		b.Run(ty.String(), func(b *testing.B) {
			b.SetBytes(int64(len(w) * nTok))
			for b.Loop() {
				MatMul(ty, dst, w, acts, n, nTok)
			}
		})
		if k := tileFn[ty]; k != nil {
			// The same without the matrix-matrix kernel, for comparison.
			b.Run(ty.String()+"/x4", func(b *testing.B) {
				tileFn[ty] = nil
				defer func() { tileFn[ty] = k }()
				b.SetBytes(int64(len(w) * nTok))
				for b.Loop() {
					MatMul(ty, dst, w, acts, n, nTok)
				}
			})
		}
		if f4 := dot4Fn[ty]; f4 != nil {
			// The same without the four-token kernel, for comparison.
			b.Run(ty.String()+"/single", func(b *testing.B) {
				dot4Fn[ty] = nil
				defer func() { dot4Fn[ty] = f4 }()
				b.SetBytes(int64(len(w) * nTok))
				for b.Loop() {
					MatMul(ty, dst, w, acts, n, nTok)
				}
			})
		}
	}
}

// BenchmarkMatVecL2 measures a 256x2048 matrix (a decode step's share of
// rows for one thread that stays in L2): the kernels' compute speed rather
// than memory's, one thread; bytes/s are weight bytes.
func BenchmarkMatVecL2(b *testing.B) { benchMatVec(b, benchTypes, 2048, 256) }

// BenchmarkMatVecDRAM measures a 32768x2048 matrix of the decode types (tens
// of MB, past the caches, as a model's weights are): whether a kernel keeps
// memory streaming; one thread, bytes/s are weight bytes.
func BenchmarkMatVecDRAM(b *testing.B) {
	benchMatVec(b, []gguf.Type{gguf.TypeQ8_0, gguf.TypeQ6_K, gguf.TypeQ4_K, gguf.TypeQ4_0}, 2048, 32768)
}

func benchMatVec(b *testing.B, types []gguf.Type, n, rows int) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, ty := range types {
		a, _ := ActType(ty)
		w := randRow(r, ty, n*rows)
		act := make([]byte, rowBytes(a, n))
		if err := QuantizeAct(ty, randVec(r, n), act); err != nil {
			b.Fatal(err)
		}
		dst := make([]float32, rows)
		b.Run(ty.String(), func(b *testing.B) {
			b.SetBytes(int64(len(w)))
			for b.Loop() {
				MatVec(ty, dst, w, act, n)
			}
		})
	}
}
