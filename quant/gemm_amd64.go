//go:build !purego

package quant

import (
	"unsafe"

	"github.com/modelfit/modelfit/gguf"
)

// tileKernels are the matrix-matrix kernels this CPU can run.
func tileKernels() map[gguf.Type]tileKernel {
	if !hasVNNI {
		return nil
	}
	asm := func(f func(w *byte, idx *int32, nb int, dst, next *byte)) func([]byte, *[gemmRows]int32, int, []byte, []byte) {
		return func(w []byte, idx *[gemmRows]int32, nb int, dst, next []byte) {
			f(unsafe.SliceData(w), &idx[0], nb, unsafe.SliceData(dst), unsafe.SliceData(next))
		}
	}
	return map[gguf.Type]tileKernel{
		gguf.TypeQ8_0: {gguf.TypeQ8_0, 34, 576, 64, false, sideQ8(128), asm(repack16Q8_0), gemm16},
		gguf.TypeQ4_0: {gguf.TypeQ4_0, 34, 576, 64, false, sideQ8(8), asm(repack16Q4_0), gemm16},
		gguf.TypeQ4_K: {gguf.TypeQ4_K, q8KBytes, 4992, 160, true, sideQ8K, asm(repack16Q4K), gemm16Q4K},
		gguf.TypeQ6_K: {gguf.TypeQ6_K, q8KBytes, 5696, 0, true, nil, asm(repack16Q6K), gemm16Q6K},
	}
}

//go:noescape
func gemm16(w, a *byte, astride int, side *byte, nb int, dst *float32, dstride int, pf *byte)

//go:noescape
func repack16Q8_0(w *byte, idx *int32, nb int, dst, next *byte)

//go:noescape
func repack16Q4_0(w *byte, idx *int32, nb int, dst, next *byte)

//go:noescape
func gemm16Q4K(w, a *byte, astride int, side *byte, nb int, dst *float32, dstride int, pf *byte)

//go:noescape
func repack16Q4K(w *byte, idx *int32, nb int, dst, next *byte)

//go:noescape
func gemm16Q6K(w, a *byte, astride int, side *byte, nb int, dst *float32, dstride int, pf *byte)

//go:noescape
func repack16Q6K(w *byte, idx *int32, nb int, dst, next *byte)
