//go:build !purego

package exec

import "unsafe"

//go:noescape
func laneDots16(a *byte, stride int, b *float32, n, rows int, out *float32)

// laneDotsAsm runs the assembly kernel where ggml's lanes are 16 wide (the
// AVX-512 build, the only one it covers) and reports whether it did.
func laneDotsAsm(a []byte, stride int, b []float32, out []float32) bool {
	if vecLanes != 16 || len(out) == 0 {
		return false
	}
	laneDots16(unsafe.SliceData(a), stride, unsafe.SliceData(b), len(b), len(out), unsafe.SliceData(out))
	return true
}
