package gguf_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

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

func ExampleFile_CheckShapes() {
	f, err := gguf.Open(testutil.Path("zoo", "mixtral-8x7b-Q4_K_M.header.gguf"))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	// nil: every tensor has the shape llama.cpp's loader expects. A file
	// with one dimension set to 2^40 would say which tensor and what shape
	// the hyperparameters ask for, as a *gguf.ShapeError.
	fmt.Println(f.CheckShapes())
	// Output:
	// <nil>
}

func ExampleParseURLOptions() {
	// A server for the example; any HTTP server with the file will do.
	srv := httptest.NewServer(http.FileServer(http.Dir(testutil.Path("zoo"))))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f, err := gguf.ParseURLOptions(ctx, srv.URL+"/mixtral-8x7b-Q4_K_M.header.gguf", gguf.RemoteOptions{
		Timeout: 30 * time.Second, // the whole header; connect, headers and idle bodies are bounded too
	})
	if err != nil {
		log.Fatal(err) // names the URL and the phase: "gguf: GET URL: connect: …"
	}
	fmt.Println(f.Metadata.String("general.name"), len(f.Tensors), "tensors")
	// Output:
	// Mixtral-8x7B-Instruct-v0.1 323 tensors
}
