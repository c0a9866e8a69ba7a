package gguf_test

import (
	"fmt"
	"log"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
)

func ExampleOpen() {
	f, err := gguf.Open(testutil.Path("models", "synth-llama-gqa-Q4_K_M.gguf"))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	h := f.HParams()
	fmt.Println(f.Architecture(), h.BlockCount, "layers,", h.HeadCount.At(0), "heads,", h.HeadCountKV.At(0), "KV heads")
	fmt.Println(len(f.Tensors), "tensors,", f.TensorBytes(), "bytes, all present:", f.DataPresent())
	for _, s := range f.TypeStats() {
		fmt.Printf("%s: %d tensors, %d bytes\n", s.Type, s.Tensors, s.Bytes)
	}
	// Output:
	// llama 4 layers, 8 heads, 4 KV heads
	// 39 tensors, 1602048 bytes, all present: true
	// q4_K: 25 tensors, 1216512 bytes
	// q6_K: 5 tensors, 376320 bytes
	// f32: 9 tensors, 9216 bytes
}

func ExampleFile_Tensor() {
	f, err := gguf.Open(testutil.Path("zoo", "mixtral-8x7b-Q4_K_M.header.gguf"))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	t, _ := f.Tensor("blk.0.ffn_down_exps.weight")
	fmt.Println(t.Type, t.Shape, t.Size, "bytes, layer", t.Layer, t.Group())
	// A header-only file plans fine but cannot run.
	fmt.Println("missing:", f.MissingBytes() == f.TensorBytes())
	// Output:
	// q6_K [14336 4096 8] 385351680 bytes, layer 0 layer
	// missing: true
}
