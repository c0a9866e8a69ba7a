// Package ggufwrite encodes small GGUF v3 files for tests: metadata of the
// common Go types and tensors with their raw bytes. The gguf package's own
// tests build broken files by hand instead; this writer only writes valid ones.
package ggufwrite

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/modelfit/modelfit/gguf"
)

// Alignment is the tensor data alignment the writer uses (GGUF's default).
const Alignment = gguf.DefaultAlignment

// KV is one metadata entry. Value is a string, bool, uint8, uint16, uint32,
// uint64, int8, int16, int32, int64, float32, float64, or a slice of string,
// uint32, int32, float32 or bool.
type KV struct {
	Key   string
	Value any
}

// Tensor is one tensor: Data holds its bytes in the stored type.
type Tensor struct {
	Name  string
	Type  gguf.Type
	Shape []uint64 // ggml order: Shape[0] is the row length
	Data  []byte
}

// TensorInfo describes a tensor by name, type and shape only, for files
// written without their data (see EncodeHeader).
type TensorInfo struct {
	Name  string
	Type  gguf.Type
	Shape []uint64 // ggml order: Shape[0] is the row length
}

// Encode returns the GGUF v3 file holding kvs and tensors, each tensor's
// data aligned to Alignment.
func Encode(kvs []KV, tensors []Tensor) ([]byte, error) {
	infos := make([]TensorInfo, len(tensors))
	sizes := make([]uint64, len(tensors))
	for i, t := range tensors {
		infos[i] = TensorInfo{t.Name, t.Type, t.Shape}
		sizes[i] = uint64(len(t.Data))
	}
	var b bytes.Buffer
	if _, err := encodeHeader(&b, kvs, infos, sizes); err != nil {
		return nil, err
	}
	for _, t := range tensors {
		b.Write(t.Data)
		pad(&b)
	}
	return b.Bytes(), nil
}

// Write writes the file Encode returns to w, streaming the tensor data:
// tensors may share one Data slice, so a large file needs little memory.
func Write(w io.Writer, kvs []KV, tensors []Tensor) error {
	infos := make([]TensorInfo, len(tensors))
	sizes := make([]uint64, len(tensors))
	for i, t := range tensors {
		infos[i] = TensorInfo{t.Name, t.Type, t.Shape}
		sizes[i] = uint64(len(t.Data))
	}
	var b bytes.Buffer
	if _, err := encodeHeader(&b, kvs, infos, sizes); err != nil {
		return err
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return err
	}
	zeros := make([]byte, Alignment)
	for _, t := range tensors {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
		n := uint64(len(t.Data))
		if _, err := w.Write(zeros[:align(n)-n]); err != nil {
			return err
		}
	}
	return nil
}

// EncodeHeader returns the header of the GGUF v3 file holding kvs and
// tensors (metadata, tensor infos with their offsets, padding to the data
// section) and the size of the data section that would follow it: a file
// that is the header followed by dataSize bytes (a hole will do) is the
// whole model as llama.cpp lays it out, each tensor aligned to Alignment.
func EncodeHeader(kvs []KV, tensors []TensorInfo) (header []byte, dataSize uint64, err error) {
	sizes := make([]uint64, len(tensors))
	for i, t := range tensors {
		if len(t.Shape) == 0 {
			return nil, 0, fmt.Errorf("ggufwrite: tensor %q without a shape", t.Name)
		}
		row, ok := t.Type.RowBytes(t.Shape[0])
		if !ok {
			return nil, 0, fmt.Errorf("ggufwrite: tensor %q: %s cannot store rows of %d elements", t.Name, t.Type, t.Shape[0])
		}
		for _, d := range t.Shape[1:] {
			row *= d
		}
		sizes[i] = row
	}
	var b bytes.Buffer
	dataSize, err = encodeHeader(&b, kvs, tensors, sizes)
	return b.Bytes(), dataSize, err
}

// encodeHeader writes the header for tensors of the given data sizes and
// returns the size of the data section.
func encodeHeader(b *bytes.Buffer, kvs []KV, tensors []TensorInfo, sizes []uint64) (uint64, error) {
	le := func(v any) { binary.Write(b, binary.LittleEndian, v) }
	str := func(s string) { le(uint64(len(s))); b.WriteString(s) }
	b.WriteString(gguf.Magic)
	le(uint32(3))
	le(uint64(len(tensors)))
	le(uint64(len(kvs)))
	for _, e := range kvs {
		str(e.Key)
		if err := value(b, e.Value, le, str); err != nil {
			return 0, fmt.Errorf("ggufwrite: %s: %w", e.Key, err)
		}
	}
	var off uint64
	for i, t := range tensors {
		str(t.Name)
		le(uint32(len(t.Shape)))
		for _, d := range t.Shape {
			le(d)
		}
		le(uint32(t.Type))
		le(off)
		off += align(sizes[i])
	}
	pad(b)
	return off, nil
}

func pad(b *bytes.Buffer) {
	for b.Len()%Alignment != 0 {
		b.WriteByte(0)
	}
}

func align(n uint64) uint64 { return (n + Alignment - 1) / Alignment * Alignment }

func value(b *bytes.Buffer, v any, le func(any), str func(string)) error {
	arr := func(elem gguf.ValueType, n int) {
		le(uint32(gguf.ValueArray))
		le(uint32(elem))
		le(uint64(n))
	}
	switch x := v.(type) {
	case string:
		le(uint32(gguf.ValueString))
		str(x)
	case bool:
		le(uint32(gguf.ValueBool))
		le(x)
	case uint8:
		le(uint32(gguf.ValueUint8))
		le(x)
	case uint16:
		le(uint32(gguf.ValueUint16))
		le(x)
	case uint32:
		le(uint32(gguf.ValueUint32))
		le(x)
	case uint64:
		le(uint32(gguf.ValueUint64))
		le(x)
	case int8:
		le(uint32(gguf.ValueInt8))
		le(x)
	case int16:
		le(uint32(gguf.ValueInt16))
		le(x)
	case int32:
		le(uint32(gguf.ValueInt32))
		le(x)
	case int64:
		le(uint32(gguf.ValueInt64))
		le(x)
	case float32:
		le(uint32(gguf.ValueFloat32))
		le(math.Float32bits(x))
	case float64:
		le(uint32(gguf.ValueFloat64))
		le(math.Float64bits(x))
	case []string:
		arr(gguf.ValueString, len(x))
		for _, s := range x {
			str(s)
		}
	case []uint32:
		arr(gguf.ValueUint32, len(x))
		le(x)
	case []int32:
		arr(gguf.ValueInt32, len(x))
		le(x)
	case []float32:
		arr(gguf.ValueFloat32, len(x))
		le(x)
	case []bool:
		arr(gguf.ValueBool, len(x))
		le(x)
	default:
		return fmt.Errorf("unsupported value type %T", v)
	}
	return nil
}

// F32 returns the little-endian bytes of xs, for Tensor.Data of f32 tensors.
func F32(xs []float32) []byte {
	out := make([]byte, 4*len(xs))
	for i, x := range xs {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
	}
	return out
}

// PatchDim returns a copy of the GGUF file data with dimension dim of the
// named tensor set to v: a file whose shape contradicts its hyperparameters,
// for the tests of the checks that must refuse it. Its data offsets stay as
// they were, so the tensor's data may now reach past the end of the file.
func PatchDim(data []byte, tensor string, dim int, v uint64) ([]byte, error) {
	var name bytes.Buffer
	binary.Write(&name, binary.LittleEndian, uint64(len(tensor)))
	name.WriteString(tensor)
	i := bytes.Index(data, name.Bytes())
	if i < 0 {
		return nil, fmt.Errorf("ggufwrite: tensor %q not found", tensor)
	}
	at := i + name.Len()
	if at+4 > len(data) {
		return nil, fmt.Errorf("ggufwrite: tensor %q: truncated", tensor)
	}
	nDims := int(binary.LittleEndian.Uint32(data[at:]))
	if dim < 0 || dim >= nDims || at+4+8*nDims > len(data) {
		return nil, fmt.Errorf("ggufwrite: tensor %q has %d dimensions, not %d", tensor, nDims, dim+1)
	}
	out := bytes.Clone(data)
	binary.LittleEndian.PutUint64(out[at+4+8*dim:], v)
	return out, nil
}

// Stream writes to w the file Encode would, for files too large to hold in
// memory: the header (EncodeHeader), then each tensor's bytes as fill
// writes them (as many as its type and shape take), in order and aligned.
func Stream(w io.Writer, kvs []KV, tensors []TensorInfo, fill func(i int, size uint64, w io.Writer) error) error {
	hdr, _, err := EncodeHeader(kvs, tensors)
	if err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	off := uint64(len(hdr))
	cw := &countWriter{w: w}
	for i, t := range tensors {
		size, _ := t.Type.RowBytes(t.Shape[0]) // EncodeHeader checked it
		for _, d := range t.Shape[1:] {
			size *= d
		}
		cw.n = 0
		if err := fill(i, size, cw); err != nil {
			return err
		}
		if cw.n != size {
			return fmt.Errorf("ggufwrite: tensor %q: %d bytes written, want %d", t.Name, cw.n, size)
		}
		off += size
		if p := align(off) - off; p > 0 {
			if _, err := w.Write(make([]byte, p)); err != nil {
				return err
			}
			off += p
		}
	}
	return nil
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n uint64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += uint64(n)
	return n, err
}
