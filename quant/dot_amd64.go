//go:build !purego

package quant

import (
	"math"
	"unsafe"

	"github.com/modelfit/modelfit/gguf"
	"golang.org/x/sys/cpu"
)

//go:noescape
func dotQ8_0AVX2(x, y *byte, nb int) float32

//go:noescape
func dotQ4_0AVX2(x, y *byte, nb int) float32

//go:noescape
func dotQ4KAVX2(x, y *byte, nb int) float32

//go:noescape
func dotQ6KAVX2(x, y *byte, nb int) float32

//go:noescape
func dotQ5KAVX2(x, y *byte, nb int) float32

//go:noescape
func dotQ3KAVX2(x, y *byte, nb int) float32

//go:noescape
func dotQ2KAVX2(x, y *byte, nb int) float32

//go:noescape
func dotQ4_1AVX2(x, y *byte, nb int) float32

//go:noescape
func dotQ5_0AVX2(x, y *byte, nb int) float32

//go:noescape
func dotQ5_1AVX2(x, y *byte, nb int) float32

//go:noescape
func dotIQ4NLAVX2(x, y *byte, nb int) float32

//go:noescape
func dotBF16AVX2(x, y *byte, n int) float32

//go:noescape
func dotF32AVX2(x, y *byte, n int) float32

//go:noescape
func dotF16AVX2(x, y *byte, n int) float32

// hasAVX2 reports whether the AVX2 kernels can run: they also use FMA and F16C.
var hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C

// fastKernels are the assembly kernels for this CPU.
func fastKernels() map[gguf.Type]dotKernel {
	if !hasAVX2 {
		return nil
	}
	return map[gguf.Type]dotKernel{
		gguf.TypeQ8_0: func(row, act []byte, nb int) float32 {
			return dotQ8_0AVX2(unsafe.SliceData(row), unsafe.SliceData(act), nb)
		},
		gguf.TypeQ4_0: func(row, act []byte, nb int) float32 {
			return dotQ4_0AVX2(unsafe.SliceData(row), unsafe.SliceData(act), nb)
		},
		gguf.TypeQ4_K: func(row, act []byte, nb int) float32 {
			return dotQ4KAVX2(unsafe.SliceData(row), unsafe.SliceData(act), nb)
		},
		gguf.TypeQ6_K: func(row, act []byte, nb int) float32 {
			return dotQ6KAVX2(unsafe.SliceData(row), unsafe.SliceData(act), nb)
		},
		gguf.TypeQ5_K: func(row, act []byte, nb int) float32 {
			return dotQ5KAVX2(unsafe.SliceData(row), unsafe.SliceData(act), nb)
		},
		gguf.TypeQ3_K: func(row, act []byte, nb int) float32 {
			return dotQ3KAVX2(unsafe.SliceData(row), unsafe.SliceData(act), nb)
		},
		gguf.TypeQ2_K: func(row, act []byte, nb int) float32 {
			return dotQ2KAVX2(unsafe.SliceData(row), unsafe.SliceData(act), nb)
		},
		gguf.TypeQ4_1: func(row, act []byte, nb int) float32 {
			return dotQ4_1AVX2(unsafe.SliceData(row), unsafe.SliceData(act), nb)
		},
		gguf.TypeQ5_0: func(row, act []byte, nb int) float32 {
			return dotQ5_0AVX2(unsafe.SliceData(row), unsafe.SliceData(act), nb)
		},
		gguf.TypeQ5_1: func(row, act []byte, nb int) float32 {
			return dotQ5_1AVX2(unsafe.SliceData(row), unsafe.SliceData(act), nb)
		},
		gguf.TypeIQ4_NL: func(row, act []byte, nb int) float32 {
			return dotIQ4NLAVX2(unsafe.SliceData(row), unsafe.SliceData(act), nb)
		},
		gguf.TypeBF16: func(row, act []byte, n int) float32 {
			m := n &^ 31
			s := float64(dotBF16AVX2(unsafe.SliceData(row), unsafe.SliceData(act), m))
			for i := m; i < n; i++ {
				s += float64(BF16ToF32(u16(row[2*i:])) * BF16ToF32(u16(act[2*i:])))
			}
			return float32(s)
		},
		gguf.TypeF32: func(row, act []byte, n int) float32 {
			m := n &^ 31
			s := float64(dotF32AVX2(unsafe.SliceData(row), unsafe.SliceData(act), m))
			for i := m; i < n; i++ {
				s += float64(math.Float32frombits(u32(row[4*i:])) * math.Float32frombits(u32(act[4*i:])))
			}
			return float32(s)
		},
		gguf.TypeF16: func(row, act []byte, n int) float32 {
			m := n &^ 31
			s := float64(dotF16AVX2(unsafe.SliceData(row), unsafe.SliceData(act), m))
			for i := m; i < n; i++ {
				s += float64(f16(row[2*i:]) * f16(act[2*i:]))
			}
			return float32(s)
		},
	}
}
