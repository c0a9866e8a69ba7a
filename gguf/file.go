package gguf

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"unsafe"
)

// Magic is the four bytes every GGUF file starts with.
const Magic = "GGUF"

// DefaultAlignment is the tensor data alignment when general.alignment is absent.
const DefaultAlignment = 32

// maxDims is ggml's GGML_MAX_DIMS.
const maxDims = 4

// File is a parsed GGUF model: the header of one file, or of every part of a
// split model merged into one logical model. A File holds no file position
// and is safe for concurrent use once returned.
type File struct {
	Version    uint32   // GGUF version of the first part (2 or 3)
	Alignment  uint64   // tensor data alignment in bytes
	DataOffset int64    // absolute offset of the tensor data in the first part
	Metadata   Metadata // key/value pairs of the first part
	Tensors    []Tensor // every tensor, in header order, parts in order
	Parts      []Part   // one entry per file (one for an unsplit model)

	byName  map[string]int
	closers []io.Closer
}

// Part describes one file of a (possibly split) model.
type Part struct {
	Path       string `json:"path"`        // file name or URL, "" for an anonymous reader
	Size       int64  `json:"size"`        // bytes the file really has
	DataOffset int64  `json:"data_offset"` // absolute offset of its tensor data
	DataEnd    int64  `json:"data_end"`    // offset just past the last tensor's data
	Tensors    int    `json:"tensors"`     // number of tensors stored in this part
}

// MissingBytes is how many bytes of tensor data the part lacks (a
// header-only or truncated download).
func (p Part) MissingBytes() int64 { return max(0, p.DataEnd-p.Size) }

// Tensor is one tensor info from the header.
type Tensor struct {
	Name   string
	Type   Type
	Shape  []uint64 // ggml order: Shape[0] is the row length
	Offset int64    // absolute byte offset of the data in its part's file
	Size   int64    // exact bytes of data
	Part   int      // index into File.Parts
	Layer  int      // N from a "blk.N." name, -1 otherwise
}

// Elements is the number of elements (product of Shape).
func (t *Tensor) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Group says where a tensor sits in the model's stack.
type Group int

// Tensor groups, in the order a runtime places them.
const (
	GroupInput  Group = iota // token embedding and other tensors outside the layers
	GroupLayer               // blk.N.*
	GroupOutput              // output, output_norm: offloaded with the last layers
)

func (g Group) String() string {
	switch g {
	case GroupInput:
		return "input"
	case GroupLayer:
		return "layer"
	case GroupOutput:
		return "output"
	}
	return "group(" + strconv.Itoa(int(g)) + ")"
}

// Group classifies the tensor by its name.
func (t *Tensor) Group() Group {
	if t.Layer >= 0 {
		return GroupLayer
	}
	if t.Name == "output" || strings.HasPrefix(t.Name, "output.") || strings.HasPrefix(t.Name, "output_norm") {
		return GroupOutput
	}
	return GroupInput
}

// layerOf parses N from "blk.N.…"; -1 when the name has no such prefix.
func layerOf(name string) int {
	rest, ok := strings.CutPrefix(name, "blk.")
	if !ok {
		return -1
	}
	dot := strings.IndexByte(rest, '.')
	if dot <= 0 || dot > 6 {
		return -1
	}
	n := 0
	for _, c := range rest[:dot] {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// Tensor returns the tensor called name.
func (f *File) Tensor(name string) (*Tensor, bool) {
	i, ok := f.byName[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// TensorBytes is the sum of all tensor sizes.
func (f *File) TensorBytes() int64 {
	var n int64
	for i := range f.Tensors {
		n += f.Tensors[i].Size
	}
	return n
}

// MissingBytes is the tensor data absent from all parts; 0 when every byte is there.
func (f *File) MissingBytes() int64 {
	var n int64
	for _, p := range f.Parts {
		n += p.MissingBytes()
	}
	return n
}

// DataPresent reports whether every tensor's data is in the files.
func (f *File) DataPresent() bool { return f.MissingBytes() == 0 }

// CheckData returns an error naming the first tensor whose data runs past the
// end of its file; a runtime must call it before reading weights.
func (f *File) CheckData() error {
	for i := range f.Tensors {
		t := &f.Tensors[i]
		p := f.Parts[t.Part]
		if t.Offset+t.Size > p.Size {
			return &FormatError{Path: p.Path, Off: t.Offset, Field: "tensor " + strconv.Quote(t.Name),
				Msg: fmt.Sprintf("data [%d, %d) runs past the end of the file (%d bytes); %d bytes of tensor data missing in all",
					t.Offset, t.Offset+t.Size, p.Size, f.MissingBytes()), Err: ErrTruncated}
		}
	}
	return nil
}

// Architecture is general.architecture ("llama", "qwen2", …).
func (f *File) Architecture() string { return f.Metadata.String("general.architecture") }

// Close closes the files Open opened; it is a no-op for a File from Parse.
func (f *File) Close() error {
	var first error
	for _, c := range f.closers {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	f.closers = nil
	return first
}

// Open parses the GGUF file at path. When it is the first part of a split
// model ("name-00001-of-00003.gguf" with split.count > 1) the other parts are
// opened from the same directory and merged.
func Open(path string) (*File, error) {
	return openSplit(path, openLocal)
}

func openLocal(path string) (io.ReaderAt, int64, io.Closer, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("gguf: %w", err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, 0, nil, fmt.Errorf("gguf: %w", err)
	}
	if !st.Mode().IsRegular() {
		fh.Close()
		return nil, 0, nil, fmt.Errorf("gguf: %s: not a regular file", path)
	}
	return fh, st.Size(), fh, nil
}

// Parse parses a single GGUF file of the given size from r. It does not
// follow split parts (see Open and ParseURL).
func Parse(r io.ReaderAt, size int64) (*File, error) {
	return parse(r, size, "", 0)
}

type header struct {
	version   uint32
	alignment uint64
	dataOff   int64
	md        Metadata
	tensors   []Tensor
}

func parse(r io.ReaderAt, size int64, path string, first int) (*File, error) {
	h, err := parseHeader(newCursor(r, size, path, first))
	if err != nil {
		return nil, err
	}
	f := &File{Version: h.version, Alignment: h.alignment, DataOffset: h.dataOff, Metadata: h.md, Tensors: h.tensors}
	if err := f.addPart(Part{Path: path, Size: size, DataOffset: h.dataOff}, 0); err != nil {
		return nil, err
	}
	return f, f.index()
}

// addPart records part p whose tensors are f.Tensors[from:], and checks
// that their extents do not overlap.
func (f *File) addPart(p Part, from int) error {
	idx := len(f.Parts)
	ts := f.Tensors[from:]
	p.Tensors = len(ts)
	p.DataEnd = p.DataOffset
	order := make([]int, len(ts))
	for i := range ts {
		ts[i].Part = idx
		order[i] = i
		p.DataEnd = max(p.DataEnd, ts[i].Offset+ts[i].Size)
	}
	sort.Slice(order, func(a, b int) bool { return ts[order[a]].Offset < ts[order[b]].Offset })
	for k := 1; k < len(order); k++ {
		a, b := &ts[order[k-1]], &ts[order[k]]
		if a.Offset+a.Size > b.Offset && a.Size > 0 && b.Size > 0 {
			return &FormatError{Path: p.Path, Off: b.Offset, Field: "tensor " + strconv.Quote(b.Name),
				Msg: fmt.Sprintf("data [%d, %d) overlaps tensor %q [%d, %d)", b.Offset, b.Offset+b.Size, a.Name, a.Offset, a.Offset+a.Size)}
		}
	}
	f.Parts = append(f.Parts, p)
	return nil
}

func (f *File) index() error {
	f.byName = make(map[string]int, len(f.Tensors))
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if _, dup := f.byName[t.Name]; dup {
			p := f.Parts[t.Part]
			return &FormatError{Path: p.Path, Off: t.Offset, Field: "tensor " + strconv.Quote(t.Name), Msg: "duplicate tensor name"}
		}
		f.byName[t.Name] = i
	}
	return nil
}

func parseHeader(c *cursor) (*header, error) {
	c.at("header.magic", 0, "", "")
	b, err := c.next(4)
	if err != nil {
		return nil, err
	}
	if string(b) != Magic {
		return nil, c.errf(0, fmt.Sprintf("found %q, want %q", b, Magic), ErrBadMagic)
	}
	c.at("header.version", 0, "", "")
	v, err := c.u32()
	if err != nil {
		return nil, err
	}
	switch {
	case v == 2 || v == 3:
	case v&0xffff == 0 && (v>>24 == 2 || v>>24 == 3):
		return nil, c.errf(4, fmt.Sprintf("version reads 0x%08x: a big-endian file", v), ErrBigEndian)
	default:
		return nil, c.errf(4, fmt.Sprintf("version %d, want 2 or 3", v), ErrUnsupportedVersion)
	}
	h := &header{version: v, alignment: DefaultAlignment}

	c.at("header.tensor_count", 0, "", "")
	// A tensor info takes at least 8 (name) + 4 (n_dims) + 4 (type) + 8 (offset) bytes.
	nt, err := c.count(24)
	if err != nil {
		return nil, err
	}
	c.at("header.kv_count", 0, "", "")
	nkv, err := c.count(8 + 4 + 1)
	if err != nil {
		return nil, err
	}

	h.md.KVs = make([]KV, 0, nkv)
	h.md.index = make(map[string]int, nkv)
	for i := range nkv {
		at := c.off()
		c.at("kv", i, "", ".key")
		key, err := c.str()
		if err != nil {
			return nil, err
		}
		c.at("kv", i, key, "")
		val, err := c.value()
		if err != nil {
			return nil, err
		}
		if !h.md.add(KV{Key: key, Value: val}) {
			return nil, c.errf(at, "duplicate key", nil)
		}
	}
	if v, ok := h.md.Get("general.alignment"); ok {
		a, ok := v.Uint()
		if !ok || a == 0 || a&(a-1) != 0 || a > 1<<30 {
			c.at("kv", 0, "general.alignment", "")
			return nil, c.errf(c.off(), fmt.Sprintf("alignment %v, want a power of two", v.Any()), nil)
		}
		h.alignment = a
	}

	h.tensors = make([]Tensor, nt)
	for i := range h.tensors {
		if err := c.tensorInfo(&h.tensors[i], i); err != nil {
			return nil, err
		}
	}
	end := uint64(c.off())
	data := (end + h.alignment - 1) / h.alignment * h.alignment
	h.dataOff = int64(data)
	for i := range h.tensors {
		t := &h.tensors[i]
		rel := uint64(t.Offset)
		if rel%h.alignment != 0 {
			return nil, &FormatError{Path: c.path, Off: t.Offset, Field: "tensor " + strconv.Quote(t.Name) + ".offset",
				Msg: fmt.Sprintf("offset %d is not a multiple of the alignment %d", rel, h.alignment)}
		}
		t.Offset += h.dataOff
	}
	return h, nil
}

// maxOffset bounds tensor offsets and sizes so that sums never overflow int64.
const maxOffset = 1 << 56

func (c *cursor) tensorInfo(t *Tensor, i int) error {
	c.at("tensor", i, "", ".name")
	name, err := c.str()
	if err != nil {
		return err
	}
	t.Name = name
	c.at("tensor", i, name, ".n_dims")
	at := c.off()
	nd, err := c.u32()
	if err != nil {
		return err
	}
	if nd < 1 || nd > maxDims {
		return c.errf(at, fmt.Sprintf("%d dimensions, want 1 to %d", nd, maxDims), nil)
	}
	c.fieldSub = ".shape"
	at = c.off()
	b, err := c.next(8 * int(nd))
	if err != nil {
		return err
	}
	t.Shape = make([]uint64, nd)
	elems := uint64(1)
	for d := range t.Shape {
		t.Shape[d] = binary.LittleEndian.Uint64(b[8*d:])
		var of bool
		of, elems = mul64(elems, t.Shape[d])
		if of || t.Shape[d] > maxOffset {
			return c.errf(at, fmt.Sprintf("shape %v overflows", t.Shape), nil)
		}
	}
	c.fieldSub = ".type"
	at = c.off()
	ty, err := c.u32()
	if err != nil {
		return err
	}
	t.Type = Type(ty)
	if !t.Type.Known() {
		return c.errf(at, fmt.Sprintf("type id %d", ty), ErrUnknownType)
	}
	row, ok := t.Type.RowBytes(t.Shape[0])
	if !ok {
		return c.errf(at, fmt.Sprintf("row length %d is not a multiple of the %s block size %d", t.Shape[0], t.Type, t.Type.BlockSize()), nil)
	}
	of, size := mul64(row, elems/max(t.Shape[0], 1))
	if t.Shape[0] == 0 {
		size = 0
	}
	if of || size > maxOffset {
		return c.errf(at, fmt.Sprintf("size of shape %v overflows", t.Shape), nil)
	}
	t.Size = int64(size)
	c.fieldSub = ".offset"
	at = c.off()
	off, err := c.u64()
	if err != nil {
		return err
	}
	if off > maxOffset {
		return c.errf(at, fmt.Sprintf("offset %d out of range", off), nil)
	}
	t.Offset = int64(off)
	t.Layer = layerOf(name)
	return nil
}

// maxNesting bounds arrays of arrays; real files use at most one level.
const maxNesting = 8

func (c *cursor) value() (Value, error) {
	at := c.off()
	vt, err := c.u32()
	if err != nil {
		return Value{}, err
	}
	return c.valueOf(ValueType(vt), at, 0)
}

func (c *cursor) valueOf(vt ValueType, at int64, depth int) (Value, error) {
	switch vt {
	case ValueString:
		s, err := c.str()
		return Value{Type: vt, v: s}, err
	case ValueArray:
		if depth >= maxNesting {
			return Value{}, c.errf(at, fmt.Sprintf("arrays nested deeper than %d", maxNesting), nil)
		}
		a, err := c.array(depth)
		return Value{Type: vt, v: a}, err
	}
	n := vt.size()
	if n == 0 {
		return Value{}, c.errf(at, fmt.Sprintf("value type %d, want 0 to 12", uint32(vt)), nil)
	}
	b, err := c.next(n)
	if err != nil {
		return Value{}, err
	}
	var v any
	switch vt {
	case ValueUint8:
		v = b[0]
	case ValueInt8:
		v = int8(b[0])
	case ValueBool:
		if b[0] > 1 {
			return Value{}, c.errf(at+4, fmt.Sprintf("bool byte %d, want 0 or 1", b[0]), nil)
		}
		v = b[0] == 1
	case ValueUint16:
		v = binary.LittleEndian.Uint16(b)
	case ValueInt16:
		v = int16(binary.LittleEndian.Uint16(b))
	case ValueUint32:
		v = binary.LittleEndian.Uint32(b)
	case ValueInt32:
		v = int32(binary.LittleEndian.Uint32(b))
	case ValueFloat32:
		v = f32(binary.LittleEndian.Uint32(b))
	case ValueUint64:
		v = binary.LittleEndian.Uint64(b)
	case ValueInt64:
		v = int64(binary.LittleEndian.Uint64(b))
	case ValueFloat64:
		v = f64(binary.LittleEndian.Uint64(b))
	}
	return Value{Type: vt, v: v}, nil
}

func (c *cursor) array(depth int) (Array, error) {
	at := c.off()
	et, err := c.u32()
	if err != nil {
		return Array{}, err
	}
	elem := ValueType(et)
	if elem > ValueFloat64 {
		return Array{}, c.errf(at, fmt.Sprintf("array element type %d, want 0 to 12", et), nil)
	}
	n, err := c.count(elem.minSize())
	if err != nil {
		return Array{}, err
	}
	a := Array{Elem: elem}
	switch elem {
	case ValueString:
		s := make([]string, n)
		for i := range s {
			// Fast path: the length and the bytes are already in the window.
			if p := c.pos; p+8 <= len(c.buf) {
				l := binary.LittleEndian.Uint64(c.buf[p:])
				if l <= uint64(len(c.buf)-p-8) {
					if l > 0 {
						s[i] = unsafe.String(&c.buf[p+8], int(l))
					}
					c.pos = p + 8 + int(l)
					continue
				}
			}
			if s[i], err = c.str(); err != nil {
				return a, err
			}
		}
		a.Values = s
		return a, nil
	case ValueArray:
		s := make([]Array, n)
		for i := range s {
			if s[i], err = c.array(depth + 1); err != nil {
				return a, err
			}
		}
		a.Values = s
		return a, nil
	}
	b, err := c.next(n * elem.size())
	if err != nil {
		return a, err
	}
	a.Values = decodeScalars(elem, b, n)
	if elem == ValueBool {
		for i, x := range b {
			if x > 1 {
				return a, c.errf(c.off()-int64(len(b)-i), fmt.Sprintf("bool byte %d, want 0 or 1", x), nil)
			}
		}
	}
	return a, nil
}

func decodeScalars(elem ValueType, b []byte, n int) any {
	le := binary.LittleEndian
	switch elem {
	case ValueUint8:
		return append([]uint8(nil), b...)
	case ValueInt8:
		s := make([]int8, n)
		for i := range s {
			s[i] = int8(b[i])
		}
		return s
	case ValueBool:
		s := make([]bool, n)
		for i := range s {
			s[i] = b[i] == 1
		}
		return s
	case ValueUint16:
		s := make([]uint16, n)
		for i := range s {
			s[i] = le.Uint16(b[2*i:])
		}
		return s
	case ValueInt16:
		s := make([]int16, n)
		for i := range s {
			s[i] = int16(le.Uint16(b[2*i:]))
		}
		return s
	case ValueUint32:
		s := make([]uint32, n)
		for i := range s {
			s[i] = le.Uint32(b[4*i:])
		}
		return s
	case ValueInt32:
		s := make([]int32, n)
		for i := range s {
			s[i] = int32(le.Uint32(b[4*i:]))
		}
		return s
	case ValueFloat32:
		s := make([]float32, n)
		for i := range s {
			s[i] = f32(le.Uint32(b[4*i:]))
		}
		return s
	case ValueUint64:
		s := make([]uint64, n)
		for i := range s {
			s[i] = le.Uint64(b[8*i:])
		}
		return s
	case ValueInt64:
		s := make([]int64, n)
		for i := range s {
			s[i] = int64(le.Uint64(b[8*i:]))
		}
		return s
	case ValueFloat64:
		s := make([]float64, n)
		for i := range s {
			s[i] = f64(le.Uint64(b[8*i:]))
		}
		return s
	}
	return nil
}
