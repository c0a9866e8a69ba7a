//go:build !amd64 || purego

package quant

import "github.com/modelfit/modelfit/gguf"

// Off amd64 (or with -tags purego) the scalar reference runs, except for
// BF16.
const (
	hasAVX2   = false
	hasAVX512 = false
)

// fastKernels gives BF16 the AVX2 kernel's summation order in Go: a BF16
// model rounds every activation to bf16 (its vec_dot_type), so the
// reference's float64 sum flips roundings the SIMD build does not and the
// logits drift from llama.cpp's (0.02 on the 260K test model); the lanes
// keep them as the amd64 build has them.
func fastKernels() map[gguf.Type]dotKernel {
	return map[gguf.Type]dotKernel{gguf.TypeBF16: dotBF16Lanes}
}

// f32ToF16Row converts x to f16 into dst (2*len(x) bytes).
func f32ToF16Row(x []float32, dst []byte) {
	for i, v := range x {
		putU16(dst[2*i:], F32ToF16(v))
	}
}

func fast4Kernels() map[gguf.Type]dot4Kernel { return nil }

func fastRows4Kernels() map[gguf.Type]rows4Kernel { return nil }

func quantizeQ8KBlock(xs []float32, b []byte) { quantizeQ8KBlockRef(xs, b) }

func quantizeQ8_0(x []float32, dst []byte) { quantizeQ8_0Ref(x, dst) }

func quantizeQ8_1(x []float32, dst []byte) { quantizeQ8_1Ref(x, dst) }

func tileKernels() map[gguf.Type]tileKernel { return nil }
