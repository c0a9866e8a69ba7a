package gguf

import (
	"bytes"
	"encoding/binary"
	"math"
)

// testWriter builds GGUF files for tests: valid ones, and ones broken on purpose.
type testWriter struct {
	bytes.Buffer
}

func (w *testWriter) u32(v uint32) { binary.Write(&w.Buffer, binary.LittleEndian, v) }
func (w *testWriter) u64(v uint64) { binary.Write(&w.Buffer, binary.LittleEndian, v) }
func (w *testWriter) str(s string) { w.u64(uint64(len(s))); w.WriteString(s) }

type testKV struct {
	key string
	typ ValueType
	val any // scalar, string, or testArr
}

type testArr struct {
	elem ValueType
	vals []any
}

type testTensor struct {
	name  string
	typ   Type
	shape []uint64
	off   uint64 // relative to the data section
}

func (w *testWriter) scalar(t ValueType, v any) {
	switch t {
	case ValueString:
		w.str(v.(string))
	case ValueArray:
		a := v.(testArr)
		w.u32(uint32(a.elem))
		w.u64(uint64(len(a.vals)))
		for _, x := range a.vals {
			w.scalar(a.elem, x)
		}
	case ValueBool:
		if v.(bool) {
			w.WriteByte(1)
		} else {
			w.WriteByte(0)
		}
	case ValueFloat32:
		w.u32(math.Float32bits(v.(float32)))
	case ValueFloat64:
		w.u64(math.Float64bits(v.(float64)))
	default:
		binary.Write(&w.Buffer, binary.LittleEndian, v)
	}
}

// build writes a v3 file with the kvs and tensors, padded to alignment, and
// dataBytes bytes of tensor data (pass -1 for "all of it").
func build(kvs []testKV, tensors []testTensor, dataBytes int64) []byte {
	var w testWriter
	w.WriteString("GGUF")
	w.u32(3)
	w.u64(uint64(len(tensors)))
	w.u64(uint64(len(kvs)))
	align := uint64(DefaultAlignment)
	for _, kv := range kvs {
		w.str(kv.key)
		w.u32(uint32(kv.typ))
		w.scalar(kv.typ, kv.val)
		if kv.key == "general.alignment" {
			align = uint64(kv.val.(uint32))
		}
	}
	var end uint64
	for _, t := range tensors {
		w.str(t.name)
		w.u32(uint32(len(t.shape)))
		for _, d := range t.shape {
			w.u64(d)
		}
		w.u32(uint32(t.typ))
		w.u64(t.off)
		row, _ := t.typ.RowBytes(t.shape[0])
		n := row
		for _, d := range t.shape[1:] {
			n *= d
		}
		end = max(end, t.off+n)
	}
	for uint64(w.Len())%align != 0 {
		w.WriteByte(0)
	}
	if dataBytes < 0 {
		dataBytes = int64(end)
	}
	w.Write(make([]byte, dataBytes))
	return w.Bytes()
}

// tinyModel is a two-layer llama-shaped model with every tensor group.
func tinyModel() ([]testKV, []testTensor) {
	kvs := []testKV{
		{"general.architecture", ValueString, "llama"},
		{"llama.block_count", ValueUint32, uint32(2)},
		{"llama.context_length", ValueUint32, uint32(128)},
		{"llama.embedding_length", ValueUint32, uint32(64)},
		{"llama.feed_forward_length", ValueUint32, uint32(128)},
		{"llama.attention.head_count", ValueUint32, uint32(4)},
		{"llama.attention.head_count_kv", ValueArray, testArr{ValueInt32, []any{int32(2), int32(1)}}},
		{"llama.rope.freq_base", ValueFloat32, float32(10000)},
		{"tokenizer.ggml.tokens", ValueArray, testArr{ValueString, []any{"<unk>", "<s>", "</s>", "a"}}},
		{"nested", ValueArray, testArr{ValueArray, []any{testArr{ValueUint8, []any{uint8(1), uint8(2)}}, testArr{ValueString, []any{"x"}}}}},
		{"f64", ValueFloat64, 2.5},
		{"b", ValueBool, true},
		{"i64", ValueInt64, int64(-7)},
		{"u16", ValueUint16, uint16(9)},
	}
	ts := []testTensor{
		{"token_embd.weight", TypeQ8_0, []uint64{64, 4}, 0},
		{"blk.0.attn_q.weight", TypeQ4_0, []uint64{64, 64}, 288},
		{"blk.1.attn_q.weight", TypeF16, []uint64{64, 64}, 288 + 2304},
		{"output_norm.weight", TypeF32, []uint64{64}, 288 + 2304 + 8192},
		{"output.weight", TypeQ6_K, []uint64{256, 4}, 288 + 2304 + 8192 + 256},
	}
	return kvs, ts
}
