//go:build !amd64 || purego

package quant

import "github.com/modelfit/modelfit/gguf"

// Off amd64 (or with -tags purego) the scalar reference runs.
const (
	hasAVX2   = false
	hasAVX512 = false
)

func fastKernels() map[gguf.Type]dotKernel { return nil }

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
