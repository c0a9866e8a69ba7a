package quant_test

import (
	"fmt"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/quant"
)

// A matrix-vector product with Q8_0 weights: quantize the activations once,
// then dot every weight row with them.
func ExampleMatVec() {
	const n = 32
	w := gguf.TypeQ8_0
	// Two weight rows: row 0 is all 1, row 1 is all -0.5.
	var weights []byte
	for _, v := range []float32{1, -0.5} {
		x := make([]float32, n)
		for i := range x {
			x[i] = v
		}
		blk := make([]byte, 34)
		if err := quant.QuantizeAct(w, x, blk); err != nil { // Q8_0 rows quantize like Q8_0 activations
			panic(err)
		}
		weights = append(weights, blk...)
	}
	act := make([]byte, 34)
	x := make([]float32, n)
	for i := range x {
		x[i] = 2
	}
	if err := quant.QuantizeAct(w, x, act); err != nil {
		panic(err)
	}
	dst := make([]float32, 2)
	quant.MatVec(w, dst, weights, act, n)
	fmt.Printf("%.2f %.2f\n", dst[0], dst[1]) // scales are stored in f16
	// Output: 63.99 -32.00
}

// Dequantizing one Q4_0 block: a scale of 0.5 and nibbles 0..15 give the
// values (q-8)*0.5.
func ExampleDequantizeRow() {
	blk := make([]byte, 18)
	blk[0], blk[1] = 0x00, 0x38 // f16 0.5
	for j := 0; j < 16; j++ {
		blk[2+j] = byte(j) | byte(15-j)<<4 // element j: j, element j+16: 15-j
	}
	out := make([]float32, 32)
	if err := quant.DequantizeRow(gguf.TypeQ4_0, blk, out); err != nil {
		panic(err)
	}
	fmt.Println(out[:4], out[16:20])
	// Output: [-4 -3.5 -3 -2.5] [3.5 3 2.5 2]
}
