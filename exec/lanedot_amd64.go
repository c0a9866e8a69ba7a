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

//go:noescape
func swiglu16(gate, up *float32, n int)

//go:noescape
func expSub16(x *float32, n int, mx float32)

// swigluAsm runs swiglu16 over the whole vectors of g[lo:hi] (the AVX-512
// build only) and returns where the Go loop goes on.
func swigluAsm(g, u []float32, lo, hi int) int {
	n := (hi - lo) &^ 15
	if vecLanes != 16 || n == 0 {
		return lo
	}
	swiglu16(&g[lo], &u[lo], n)
	return lo + n
}

// expSubAsm sets x[i] = vexp(x[i] - mx) over the whole vectors of x (the
// AVX-512 build only) and returns how many it did.
func expSubAsm(x []float32, mx float32) int {
	n := len(x) &^ 15
	if vecLanes != 16 || n == 0 {
		return 0
	}
	expSub16(&x[0], n, mx)
	return n
}
