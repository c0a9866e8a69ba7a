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
func dotF32AVX512(x, y *byte, n int) float32

//go:noescape
func dotF16AVX512(x, y *byte, n int) float32

//go:noescape
func quantQ8_0AVX2(x *float32, dst *byte, nb int)

//go:noescape
func quantQ8_1AVX2(x *float32, dst *byte, nb int)

//go:noescape
func absMaxAVX2(x *float32, n int) float32

//go:noescape
func q8KBlockAVX2(x *float32, iscale float32, dst *byte)

//go:noescape
func f32ToF16F16C(dst *byte, src *float32, n int)

//go:noescape
func dotF32AVX2(x, y *byte, n int) float32

//go:noescape
func dotF16AVX2(x, y *byte, n int) float32

// hasAVX2 reports whether the AVX2 kernels can run: they also use FMA and F16C.
var hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C

// hasAVX512 reports whether the 16-lane float kernels can run.
var hasAVX512 = hasAVX2 && cpu.X86.HasAVX512F

// fastKernels are the assembly kernels for this CPU.
func fastKernels() map[gguf.Type]dotKernel {
	if !hasAVX2 {
		return nil
	}
	m := map[gguf.Type]dotKernel{
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
		gguf.TypeF32: f32Kernel(dotF32AVX2, 32),
		gguf.TypeF16: f16Kernel(dotF16AVX2, 32),
	}
	if hasAVX512 {
		// ggml built for AVX-512 sums f32 and f16 rows in 16-lane registers.
		m[gguf.TypeF32] = f32Kernel(dotF32AVX512, 64)
		m[gguf.TypeF16] = f16Kernel(dotF16AVX512, 64)
	}
	for t, k := range wideKernels() {
		m[t] = k[1]
	}
	return m
}

// f32Kernel runs k over the largest multiple of step elements and adds the
// rest in float64, as ggml's ggml_vec_dot_f32 does.
func f32Kernel(k func(x, y *byte, n int) float32, step int) dotKernel {
	return func(row, act []byte, n int) float32 {
		m := n - n%step
		s := float64(k(unsafe.SliceData(row), unsafe.SliceData(act), m))
		for i := m; i < n; i++ {
			s += float64(math.Float32frombits(u32(row[4*i:])) * math.Float32frombits(u32(act[4*i:])))
		}
		return float32(s)
	}
}

// f16Kernel is f32Kernel for f16 rows.
func f16Kernel(k func(x, y *byte, n int) float32, step int) dotKernel {
	return func(row, act []byte, n int) float32 {
		m := n - n%step
		s := float64(k(unsafe.SliceData(row), unsafe.SliceData(act), m))
		for i := m; i < n; i++ {
			s += float64(f16(row[2*i:]) * f16(act[2*i:]))
		}
		return float32(s)
	}
}

// f32ToF16Row converts x to f16 into dst (2*len(x) bytes).
func f32ToF16Row(x []float32, dst []byte) {
	m := 0
	if hasAVX2 {
		m = len(x) &^ 7
		if m > 0 {
			f32ToF16F16C(unsafe.SliceData(dst), unsafe.SliceData(x), m)
		}
	}
	for i := m; i < len(x); i++ {
		putU16(dst[2*i:], F32ToF16(x[i]))
	}
}

//go:noescape
func dotQ4KAVX2x4(x, y *byte, ystride, nb int, dst *float32)

//go:noescape
func dotQ6KAVX2x4(x, y *byte, ystride, nb int, dst *float32)

//go:noescape
func dotQ5KAVX2x4(x, y *byte, ystride, nb int, dst *float32)

//go:noescape
func dotQ3KAVX2x4(x, y *byte, ystride, nb int, dst *float32)

//go:noescape
func dotQ2KAVX2x4(x, y *byte, ystride, nb int, dst *float32)

//go:noescape
func dotQ5_0AVX2x4(x, y *byte, ystride, nb int, dst *float32)

//go:noescape
func dotQ4_1AVX2x4(x, y *byte, ystride, nb int, dst *float32)

//go:noescape
func dotQ5_1AVX2x4(x, y *byte, ystride, nb int, dst *float32)

//go:noescape
func dotF16AVX512x4(x, y *byte, ystride, n int, dst *float32)

//go:noescape
func dotF32AVX512x4(x, y *byte, ystride, n int, dst *float32)

//go:noescape
func dotQ8_0AVX2x4(x, y *byte, ystride, nb int, dst *float32)

//go:noescape
func dotQ4_0AVX2x4(x, y *byte, ystride, nb int, dst *float32)

// fast4Kernels are the four-token kernels for this CPU (used by MatMul).
func fast4Kernels() map[gguf.Type]dot4Kernel {
	if !hasAVX2 {
		return nil
	}
	m := map[gguf.Type]dot4Kernel{
		gguf.TypeQ4_K: func(row, act []byte, stride, nb int, dst *[4]float32) {
			dotQ4KAVX2x4(unsafe.SliceData(row), unsafe.SliceData(act), stride, nb, &dst[0])
		},
		gguf.TypeQ6_K: func(row, act []byte, stride, nb int, dst *[4]float32) {
			dotQ6KAVX2x4(unsafe.SliceData(row), unsafe.SliceData(act), stride, nb, &dst[0])
		},
		gguf.TypeQ5_K: func(row, act []byte, stride, nb int, dst *[4]float32) {
			dotQ5KAVX2x4(unsafe.SliceData(row), unsafe.SliceData(act), stride, nb, &dst[0])
		},
		gguf.TypeQ3_K: func(row, act []byte, stride, nb int, dst *[4]float32) {
			dotQ3KAVX2x4(unsafe.SliceData(row), unsafe.SliceData(act), stride, nb, &dst[0])
		},
		gguf.TypeQ2_K: func(row, act []byte, stride, nb int, dst *[4]float32) {
			dotQ2KAVX2x4(unsafe.SliceData(row), unsafe.SliceData(act), stride, nb, &dst[0])
		},
		gguf.TypeQ5_0: func(row, act []byte, stride, nb int, dst *[4]float32) {
			dotQ5_0AVX2x4(unsafe.SliceData(row), unsafe.SliceData(act), stride, nb, &dst[0])
		},
		gguf.TypeQ4_1: func(row, act []byte, stride, nb int, dst *[4]float32) {
			dotQ4_1AVX2x4(unsafe.SliceData(row), unsafe.SliceData(act), stride, nb, &dst[0])
		},
		gguf.TypeQ5_1: func(row, act []byte, stride, nb int, dst *[4]float32) {
			dotQ5_1AVX2x4(unsafe.SliceData(row), unsafe.SliceData(act), stride, nb, &dst[0])
		},
		gguf.TypeQ8_0: func(row, act []byte, stride, nb int, dst *[4]float32) {
			dotQ8_0AVX2x4(unsafe.SliceData(row), unsafe.SliceData(act), stride, nb, &dst[0])
		},
		gguf.TypeQ4_0: func(row, act []byte, stride, nb int, dst *[4]float32) {
			dotQ4_0AVX2x4(unsafe.SliceData(row), unsafe.SliceData(act), stride, nb, &dst[0])
		},
	}
	if hasAVX512 {
		m[gguf.TypeF16] = func(row, act []byte, stride, n int, dst *[4]float32) {
			k := n - n%64
			dotF16AVX512x4(unsafe.SliceData(row), unsafe.SliceData(act), stride, k, &dst[0])
			for t := range dst {
				s := float64(dst[t])
				a := act[t*stride:]
				for i := k; i < n; i++ {
					s += float64(f16(row[2*i:]) * f16(a[2*i:]))
				}
				dst[t] = float32(s)
			}
		}
		m[gguf.TypeF32] = func(row, act []byte, stride, n int, dst *[4]float32) {
			k := n - n%64
			dotF32AVX512x4(unsafe.SliceData(row), unsafe.SliceData(act), stride, k, &dst[0])
			for t := range dst {
				s := float64(dst[t])
				a := act[t*stride:]
				for i := k; i < n; i++ {
					s += float64(math.Float32frombits(u32(row[4*i:])) * math.Float32frombits(u32(a[4*i:])))
				}
				dst[t] = float32(s)
			}
		}
	}
	for t, k := range wide4Kernels() {
		m[t] = k[1]
	}
	return m
}

// quantizeQ8KBlock quantizes 256 values into the q8_K block b (292 bytes),
// exactly as ggml's quantize_row_q8_K_ref.
func quantizeQ8KBlock(xs []float32, b []byte) {
	if !hasAVX2 {
		quantizeQ8KBlockRef(xs, b)
		return
	}
	amax := absMaxAVX2(unsafe.SliceData(xs), 256)
	if !(amax > 0) { // zero, or NaN in the block: the reference decides
		quantizeQ8KBlockRef(xs, b)
		return
	}
	// ggml keeps the first element of largest magnitude, with its sign.
	var max float32
	for _, v := range xs[:256] {
		if abs32(v) == amax {
			max = v
			break
		}
	}
	iscale := -127 / max
	q8KBlockAVX2(unsafe.SliceData(xs), iscale, unsafe.SliceData(b))
	putU32(b, math.Float32bits(1/iscale))
}

// quantizeQ8_0 quantizes x (a multiple of 32 values) to q8_0 blocks in dst.
func quantizeQ8_0(x []float32, dst []byte) {
	if hasAVX2 && len(x) >= 32 {
		quantQ8_0AVX2(unsafe.SliceData(x), unsafe.SliceData(dst), len(x)/32)
		return
	}
	quantizeQ8_0Ref(x, dst)
}

// quantizeQ8_1 quantizes x (a multiple of 32 values) to q8_1 blocks in dst.
func quantizeQ8_1(x []float32, dst []byte) {
	if hasAVX2 && len(x) >= 32 {
		quantQ8_1AVX2(unsafe.SliceData(x), unsafe.SliceData(dst), len(x)/32)
		return
	}
	quantizeQ8_1Ref(x, dst)
}
