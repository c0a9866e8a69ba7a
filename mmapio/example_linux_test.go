package mmapio_test

import (
	"context"
	"fmt"
	"log"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/mmapio"
)

// Map a model, warm its tensors, and read one under Guard.
func ExampleMap() {
	path := testutil.Path("models", "synth-llama-gqa-Q4_0.gguf")
	f, err := gguf.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	m, err := mmapio.Map([]string{path}, mmapio.Options{Advice: mmapio.AdviceWillNeed})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	if err := m.Prefetch(context.Background(), mmapio.RangesOf(f.Tensors), nil); err != nil {
		log.Fatal(err)
	}
	t, _ := f.Tensor("blk.0.attn_q.weight")
	err = mmapio.Guard(func() error { // a truncated file gives a *FaultError here
		b, err := m.Bytes(t.Part, t.Offset, t.Size)
		if err != nil {
			return err
		}
		fmt.Printf("%s: %v, %d bytes, first block scale bits %#04x\n", t.Name, t.Type, len(b), uint16(b[0])|uint16(b[1])<<8)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output: blk.0.attn_q.weight: q4_0, 36864 bytes, first block scale bits 0x24aa
}

// Read copies the same tensors into private memory: the no-mmap path.
func ExampleRead() {
	path := testutil.Path("models", "synth-llama-gqa-Q4_0.gguf")
	f, err := gguf.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	var last int64
	b, err := mmapio.Read(context.Background(), []string{path}, mmapio.RangesOf(f.Tensors), func(done, total int64) { last = done })
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	fmt.Println(b.Len() == f.TensorBytes(), last == b.Len())
	// Output: true true
}
