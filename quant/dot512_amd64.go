//go:build !purego

package quant

import (
	"unsafe"

	"github.com/modelfit/modelfit/gguf"
	"golang.org/x/sys/cpu"
)

//go:noescape
func dotQ4KAVX512(x, y *byte, nb int) float32

//go:noescape
func dotQ6KAVX512(x, y *byte, nb int) float32

//go:noescape
func dotQ4_0VNNI(x, y *byte, nb int) float32

//go:noescape
func dotQ4_0VNNIx4(x, y *byte, nb int, dst *float32)

//go:noescape
func dotQ4KAVX512x4(x, y *byte, ystride, nb int, dst *float32)

//go:noescape
func dotQ6KAVX512x4(x, y *byte, ystride, nb int, dst *float32)

// hasAVX512BW reports whether the 64-byte integer kernels can run (byte and
// word operations and VPERMW need AVX512BW; 256-bit EVEX forms need VL).
var hasAVX512BW = hasAVX512 && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL

// hasVNNI reports whether VPDPBUSD is there too.
var hasVNNI = hasAVX512BW && cpu.X86.HasAVX512VNNI

// wideKernels are the AVX-512 kernels this CPU can run, each paired with the
// AVX2 kernel it reproduces bit for bit (tested in dot512_amd64_test.go).
func wideKernels() map[gguf.Type][2]dotKernel {
	m := map[gguf.Type][2]dotKernel{}
	if hasAVX512BW {
		m[gguf.TypeQ4_K] = [2]dotKernel{
			func(row, act []byte, nb int) float32 {
				return dotQ4KAVX2(unsafe.SliceData(row), unsafe.SliceData(act), nb)
			},
			func(row, act []byte, nb int) float32 {
				return dotQ4KAVX512(unsafe.SliceData(row), unsafe.SliceData(act), nb)
			}}
		m[gguf.TypeQ6_K] = [2]dotKernel{
			func(row, act []byte, nb int) float32 {
				return dotQ6KAVX2(unsafe.SliceData(row), unsafe.SliceData(act), nb)
			},
			func(row, act []byte, nb int) float32 {
				return dotQ6KAVX512(unsafe.SliceData(row), unsafe.SliceData(act), nb)
			}}
	}
	if hasVNNI {
		m[gguf.TypeQ4_0] = [2]dotKernel{
			func(row, act []byte, nb int) float32 {
				return dotQ4_0AVX2(unsafe.SliceData(row), unsafe.SliceData(act), nb)
			},
			func(row, act []byte, nb int) float32 {
				return dotQ4_0VNNI(unsafe.SliceData(row), unsafe.SliceData(act), nb)
			}}
	}
	return m
}

// wide4Kernels are the AVX-512 four-token kernels this CPU can run, each
// paired with the AVX2 four-token kernel it reproduces bit for bit.
func wide4Kernels() map[gguf.Type][2]dot4Kernel {
	m := map[gguf.Type][2]dot4Kernel{}
	if hasAVX512BW {
		m[gguf.TypeQ4_K] = [2]dot4Kernel{
			func(row, act []byte, stride, nb int, dst *[4]float32) {
				dotQ4KAVX2x4(unsafe.SliceData(row), unsafe.SliceData(act), stride, nb, &dst[0])
			},
			func(row, act []byte, stride, nb int, dst *[4]float32) {
				dotQ4KAVX512x4(unsafe.SliceData(row), unsafe.SliceData(act), stride, nb, &dst[0])
			}}
		m[gguf.TypeQ6_K] = [2]dot4Kernel{
			func(row, act []byte, stride, nb int, dst *[4]float32) {
				dotQ6KAVX2x4(unsafe.SliceData(row), unsafe.SliceData(act), stride, nb, &dst[0])
			},
			func(row, act []byte, stride, nb int, dst *[4]float32) {
				dotQ6KAVX512x4(unsafe.SliceData(row), unsafe.SliceData(act), stride, nb, &dst[0])
			}}
	}
	return m
}

// fastRows4Kernels are the four-row decode kernels this CPU can run, each
// equal bit for bit to four calls of the type's kernel in fastKernels (tested
// in dot512_amd64_test.go).
func fastRows4Kernels() map[gguf.Type]rows4Kernel {
	m := map[gguf.Type]rows4Kernel{}
	if hasVNNI {
		m[gguf.TypeQ4_0] = func(rows, act []byte, nb int, dst *[4]float32) {
			if nb == 0 {
				*dst = [4]float32{}
				return
			}
			_ = rows[4*18*nb-1]
			_ = act[34*nb-1]
			dotQ4_0VNNIx4(unsafe.SliceData(rows), unsafe.SliceData(act), nb, &dst[0])
		}
	}
	return m
}
