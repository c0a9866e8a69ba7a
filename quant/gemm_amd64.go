//go:build !purego

package quant

import "github.com/modelfit/modelfit/gguf"

// tileKernels are the matrix-matrix kernels this CPU can run.
func tileKernels() map[gguf.Type]tileKernel {
	if !hasVNNI {
		return nil
	}
	return map[gguf.Type]tileKernel{
		gguf.TypeQ8_0: {gguf.TypeQ8_0, 128, repack16Q8_0, gemm16},
		gguf.TypeQ4_0: {gguf.TypeQ4_0, 8, repack16Q4_0, gemm16},
	}
}

//go:noescape
func gemm16(w, a *byte, astride int, side *byte, nb int, dst *float32, dstride int)

//go:noescape
func repack16Q8_0(w *byte, idx *int32, nb int, dst *byte)

//go:noescape
func repack16Q4_0(w *byte, idx *int32, nb int, dst *byte)
