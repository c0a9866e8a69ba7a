package quant

import (
	"unsafe"

	"github.com/modelfit/modelfit/gguf"
)

// littleEndian reports whether float32 memory is laid out as GGUF stores it,
// so that a []float32 can be handed to the byte kernels without copying.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// DotF32 returns the dot product of a and b over min(len(a), len(b))
// elements, with the same kernel and result as Dot(gguf.TypeF32, ...): for
// attention scores and other float-only products of the engine.
func DotF32(a, b []float32) float32 {
	n := min(len(a), len(b))
	if n == 0 {
		return 0
	}
	if !littleEndian {
		var s float64
		for i := 0; i < n; i++ {
			s += float64(a[i] * b[i])
		}
		return float32(s)
	}
	ab := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(a))), 4*n)
	bb := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(b))), 4*n)
	return dotFn[gguf.TypeF32](ab, bb, n)
}
