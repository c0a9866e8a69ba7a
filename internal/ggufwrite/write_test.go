package ggufwrite

import (
	"bytes"
	"testing"

	"github.com/modelfit/modelfit/gguf"
)

// Write streams exactly the bytes Encode returns.
func TestWriteMatchesEncode(t *testing.T) {
	shared := F32([]float32{1, 2, 3})
	kvs := []KV{{"general.architecture", "llama"}, {"llama.block_count", uint32(1)}}
	ts := []Tensor{{"a", gguf.TypeF32, []uint64{3}, shared}, {"b", gguf.TypeF32, []uint64{3}, shared}, {"c", gguf.TypeF32, []uint64{1}, F32([]float32{4})}}
	want, err := Encode(kvs, ts)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := Write(&got, kvs, ts); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("Write wrote %d bytes, Encode %d; they differ", got.Len(), len(want))
	}
}
