package ggufwrite

import (
	"bytes"
	"io"
	"testing"

	"github.com/modelfit/modelfit/gguf"
)

func TestRoundTrip(t *testing.T) {
	kvs := []KV{
		{"general.architecture", "llama"}, {"b", true}, {"u8", uint8(7)}, {"u16", uint16(8)}, {"u32", uint32(9)},
		{"u64", uint64(10)}, {"i8", int8(-1)}, {"i16", int16(-2)}, {"i32", int32(-3)}, {"i64", int64(-4)},
		{"f32", float32(0.5)}, {"f64", 0.25}, {"ss", []string{"a", "bc"}}, {"u32s", []uint32{1, 2}},
		{"i32s", []int32{-1, 2}}, {"f32s", []float32{1.5, 2}},
	}
	ts := []Tensor{
		{Name: "a", Type: gguf.TypeF32, Shape: []uint64{3}, Data: F32([]float32{1, 2, 3})},
		{Name: "b", Type: gguf.TypeF32, Shape: []uint64{2, 2}, Data: F32([]float32{4, 5, 6, 7})},
	}
	raw, err := Encode(kvs, ts)
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata.Len() != len(kvs) || len(f.Tensors) != 2 || !f.DataPresent() || f.Architecture() != "llama" {
		t.Fatalf("parsed %d kvs, %d tensors", f.Metadata.Len(), len(f.Tensors))
	}
	for _, kv := range kvs {
		v, ok := f.Metadata.Get(kv.Key)
		if !ok {
			t.Errorf("%s missing", kv.Key)
			continue
		}
		if a, isArr := v.Array(); isArr {
			if a.Len() != 2 {
				t.Errorf("%s: %d elements", kv.Key, a.Len())
			}
		} else if got := v.Any(); got != kv.Value {
			t.Errorf("%s = %v (%T), want %v", kv.Key, got, got, kv.Value)
		}
	}
	b, _ := f.Tensor("b")
	if b.Offset != f.DataOffset+Alignment || b.Size != 16 || raw[b.Offset] != F32([]float32{4})[0] {
		t.Errorf("tensor b at %d, %d bytes", b.Offset, b.Size)
	}
	if _, err := Encode([]KV{{"x", struct{}{}}}, nil); err == nil {
		t.Error("unsupported value accepted")
	}
}

func TestEncodeHeader(t *testing.T) {
	kvs := []KV{{"general.architecture", "llama"}, {"pattern", []bool{true, false}}}
	infos := []TensorInfo{
		{Name: "a", Type: gguf.TypeQ4_K, Shape: []uint64{256, 3}},
		{Name: "b", Type: gguf.TypeF32, Shape: []uint64{5}},
	}
	hdr, size, err := EncodeHeader(kvs, infos)
	if err != nil {
		t.Fatal(err)
	}
	// Each tensor's data is padded to the alignment, the last one too (as
	// ggml's gguf writer does); the parser counts up to the last tensor's end.
	if want := uint64(448 + 32); size != want {
		t.Errorf("data size %d, want %d", size, want)
	}
	f, err := gguf.Parse(bytes.NewReader(hdr), int64(len(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tensors) != 2 || f.DataPresent() || f.MissingBytes() != 448+20 {
		t.Fatalf("parsed %d tensors, %d bytes missing", len(f.Tensors), f.MissingBytes())
	}
	if _, _, err := EncodeHeader(nil, []TensorInfo{{Name: "c", Type: gguf.TypeQ4_K, Shape: []uint64{100}}}); err == nil {
		t.Error("a q4_K row of 100 elements was accepted")
	}
}

// Stream writes exactly what Encode does, and refuses a fill that writes
// the wrong number of bytes.
func TestStream(t *testing.T) {
	kvs := []KV{{"general.architecture", "llama"}}
	ts := []Tensor{
		{Name: "a", Type: gguf.TypeF32, Shape: []uint64{3}, Data: F32([]float32{1, 2, 3})},
		{Name: "b", Type: gguf.TypeF32, Shape: []uint64{2, 5}, Data: F32([]float32{4, 5, 6, 7, 8, 9, 10, 11, 12, 13})},
	}
	want, err := Encode(kvs, ts)
	if err != nil {
		t.Fatal(err)
	}
	infos := []TensorInfo{{ts[0].Name, ts[0].Type, ts[0].Shape}, {ts[1].Name, ts[1].Type, ts[1].Shape}}
	var got bytes.Buffer
	err = Stream(&got, kvs, infos, func(i int, size uint64, w io.Writer) error {
		if size != uint64(len(ts[i].Data)) {
			t.Errorf("tensor %d: size %d, want %d", i, size, len(ts[i].Data))
		}
		_, err := w.Write(ts[i].Data)
		return err
	})
	if err != nil || !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("Stream differs from Encode (%d vs %d bytes, err %v)", got.Len(), len(want), err)
	}
	err = Stream(io.Discard, kvs, infos, func(i int, size uint64, w io.Writer) error { _, err := w.Write([]byte{1}); return err })
	if err == nil {
		t.Error("a short fill was accepted")
	}
}
