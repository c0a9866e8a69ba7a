package ggufwrite

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"

	"github.com/modelfit/modelfit/gguf"
)

// WriteSparse writes a GGUF v3 file of any size to path without holding its
// data: the header is written and the file extended to its full size, so
// every tensor reads as zeros (a sparse file on filesystems that have
// holes). Tensor.Data is ignored; each tensor's size comes from its type
// and shape. It returns the file's size.
func WriteSparse(path string, kvs []KV, tensors []Tensor) (int64, error) {
	var b bytes.Buffer
	le := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	str := func(s string) { le(uint64(len(s))); b.WriteString(s) }
	b.WriteString(gguf.Magic)
	le(uint32(3))
	le(uint64(len(tensors)))
	le(uint64(len(kvs)))
	for _, e := range kvs {
		str(e.Key)
		if err := value(&b, e.Value, le, str); err != nil {
			return 0, fmt.Errorf("ggufwrite: %s: %w", e.Key, err)
		}
	}
	var off uint64
	for _, t := range tensors {
		if len(t.Shape) == 0 || t.Shape[0]%t.Type.BlockSize() != 0 {
			return 0, fmt.Errorf("ggufwrite: tensor %s: row length %v is not a multiple of %v's block", t.Name, t.Shape, t.Type)
		}
		size, _ := t.Type.RowBytes(t.Shape[0])
		for _, d := range t.Shape[1:] {
			size *= d
		}
		str(t.Name)
		le(uint32(len(t.Shape)))
		for _, d := range t.Shape {
			le(d)
		}
		le(uint32(t.Type))
		le(off)
		off += align(size)
	}
	total := align(uint64(b.Len())) + off
	f, err := os.Create(path)
	if err != nil {
		return 0, fmt.Errorf("ggufwrite: %w", err)
	}
	if _, err := f.Write(b.Bytes()); err != nil {
		f.Close()
		return 0, fmt.Errorf("ggufwrite: %w", err)
	}
	if err := f.Truncate(int64(total)); err != nil {
		f.Close()
		return 0, fmt.Errorf("ggufwrite: %w", err)
	}
	return int64(total), f.Close()
}
