package exec

import (
	"encoding/binary"
	"math"
	"math/rand"
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/quant"
)

// TestLaneDots checks laneDots (the assembly kernel where there is one, and
// the Go loop) against gemmDot, tinyBLAS's lanes computed from the f16
// bytes, bit for bit, over strided rows as the KV cache holds them.
func TestLaneDots(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, n := range []int{0, 16, 32, 48, 64, 128, 512} {
		if n%vecLanes != 0 {
			continue
		}
		const rows, stride = 5, 2 * 600
		a := make([]byte, rows*stride)
		for i := 0; i+1 < len(a); i += 2 {
			binary.LittleEndian.PutUint16(a[i:], quant.F32ToF16(float32(r.NormFloat64())))
		}
		bh := make([]byte, 2*n)
		b := make([]float32, n)
		for i := range b {
			h := quant.F32ToF16(float32(r.Float64()))
			binary.LittleEndian.PutUint16(bh[2*i:], h)
			b[i] = quant.F16ToF32(h)
		}
		got, gotGo := make([]float32, rows), make([]float32, rows)
		laneDots(a, stride, b, got)
		laneDotsGo(a, stride, b, gotGo)
		for row := range rows {
			want, ok := gemmDot(gguf.TypeF16, a[row*stride:], bh, n)
			if !ok && n > 0 {
				t.Fatalf("n=%d: gemmDot refused", n)
			}
			if math.Float32bits(got[row]) != math.Float32bits(want) || math.Float32bits(gotGo[row]) != math.Float32bits(want) {
				t.Errorf("n=%d row %d: laneDots %v, Go %v, gemmDot %v", n, row, got[row], gotGo[row], want)
			}
		}
	}
}
