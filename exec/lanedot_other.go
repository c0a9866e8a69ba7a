//go:build !amd64 || purego

package exec

func laneDotsAsm(a []byte, stride int, b []float32, out []float32) bool { return false }
