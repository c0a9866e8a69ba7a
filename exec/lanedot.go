package exec

import (
	"encoding/binary"
	"fmt"

	"github.com/modelfit/modelfit/quant"
)

// laneDots sets out[r] to gemmDot of the f16 row at a[r*stride:] (len(b)
// values) with b, b holding f16 values widened to float32 and len(b) a
// multiple of vecLanes: tinyBLAS's lanes and halving sum, straight from the
// f16 KV cache with no widened copy of it. On amd64 with AVX-512 an assembly
// kernel converts and multiplies 16 lanes at a time.
func laneDots(a []byte, stride int, b []float32, out []float32) {
	n := len(b)
	if len(out) > 0 && (n%vecLanes != 0 || len(a) < (len(out)-1)*stride+2*n) {
		panic(fmt.Sprintf("exec: laneDots over %d bytes, stride %d, %d rows of %d", len(a), stride, len(out), n))
	}
	if laneDotsAsm(a, stride, b, out) {
		return
	}
	laneDotsGo(a, stride, b, out)
}

func laneDotsGo(a []byte, stride int, b []float32, out []float32) {
	w := vecLanes
	for r := range out {
		row := a[r*stride:]
		var acc [16]float32
		for l := 0; l < len(b); l += w {
			for i := range w {
				acc[i] += quant.F16ToF32(binary.LittleEndian.Uint16(row[2*(l+i):])) * b[l+i]
			}
		}
		out[r] = hsum(acc[:w])
	}
}
