package gguf

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strconv"
	"unsafe"
)

// cursor reads a header front to back from an io.ReaderAt through a window
// that grows geometrically, so a local header costs a few large reads and a
// remote one a few range requests. The window never holds more than the bytes
// the file really has, which bounds every allocation by the file's size.
type cursor struct {
	r     io.ReaderAt
	size  int64  // file size
	path  string // for errors
	base  int64  // file offset of buf[0]
	buf   []byte
	pos   int // read position in buf
	chunk int // size of the next read

	// The field being read, for errors; composed only when one occurs so
	// that the hot path formats nothing.
	field     string // "kv", "tensor", or a complete field name
	fieldName string // key or tensor name, when known
	fieldIdx  int    // index, when the name is not yet known
	fieldSub  string // ".type", ".shape", …
}

const (
	firstChunk = 1 << 20
	maxChunk   = 64 << 20
)

func newCursor(r io.ReaderAt, size int64, path string, first int) *cursor {
	if first <= 0 {
		first = firstChunk
	}
	return &cursor{r: r, size: size, path: path, chunk: first}
}

func (c *cursor) off() int64 { return c.base + int64(c.pos) }

func (c *cursor) remaining() int64 { return c.size - c.off() }

func (c *cursor) errf(off int64, msg string, err error) error {
	return &FormatError{Path: c.path, Off: off, Field: c.fieldString(), Msg: msg, Err: err}
}

// at sets the field being read: a plain name, or kind with an index or a name.
func (c *cursor) at(kind string, idx int, name, sub string) {
	c.field, c.fieldIdx, c.fieldName, c.fieldSub = kind, idx, name, sub
}

func (c *cursor) fieldString() string {
	switch {
	case c.field == "kv" && c.fieldName != "":
		return "kv[" + strconv.Quote(c.fieldName) + "]" + c.fieldSub
	case c.field == "tensor" && c.fieldName != "":
		return "tensor " + strconv.Quote(c.fieldName) + c.fieldSub
	case c.field == "kv" || c.field == "tensor":
		return c.field + "[" + strconv.Itoa(c.fieldIdx) + "]" + c.fieldSub
	}
	return c.field
}

// next returns the next n bytes and advances past them. The slice is valid
// until the following call.
func (c *cursor) next(n int) ([]byte, error) {
	if n <= len(c.buf)-c.pos {
		b := c.buf[c.pos : c.pos+n : c.pos+n]
		c.pos += n
		return b, nil
	}
	if int64(n) > c.remaining() {
		return nil, c.errf(c.off(), "needs "+itoa(int64(n))+" bytes, file has "+itoa(c.remaining())+" left", ErrTruncated)
	}
	if err := c.fill(n); err != nil {
		return nil, err
	}
	b := c.buf[c.pos : c.pos+n : c.pos+n]
	c.pos += n
	return b, nil
}

// fill makes at least n unread bytes available.
func (c *cursor) fill(n int) error {
	tail := len(c.buf) - c.pos
	want := max(c.chunk, n-tail)
	end := c.base + int64(len(c.buf))
	if left := c.size - end; int64(want) > left {
		want = int(left)
	}
	nb := make([]byte, tail+want)
	copy(nb, c.buf[c.pos:])
	got, err := c.r.ReadAt(nb[tail:], end)
	if got < want {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return c.errf(end+int64(got), "read failed", err)
	}
	c.base += int64(c.pos)
	c.buf, c.pos = nb, 0
	if c.chunk < maxChunk {
		c.chunk *= 4
	}
	return nil
}

func (c *cursor) u8() (uint8, error) {
	b, err := c.next(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (c *cursor) u16() (uint16, error) {
	b, err := c.next(2)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b), nil
}

func (c *cursor) u32() (uint32, error) {
	b, err := c.next(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (c *cursor) u64() (uint64, error) {
	b, err := c.next(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// count reads a uint64 element count and checks that count elements of at
// least minSize bytes each fit in the rest of the file.
func (c *cursor) count(minSize int) (int, error) {
	at := c.off()
	n, err := c.u64()
	if err != nil {
		return 0, err
	}
	if minSize < 1 {
		minSize = 1
	}
	if n > uint64(c.remaining())/uint64(minSize) {
		return 0, c.errf(at, "count "+utoa(n)+" exceeds what the remaining "+itoa(c.remaining())+" bytes can hold", nil)
	}
	return int(n), nil
}

// str reads a length-prefixed string. The string aliases the read window
// instead of being copied: a window is never written again once filled (fill
// always allocates a new one), so a vocabulary of 100k tokens costs no
// allocation per token, and the windows stay alive only as long as the
// strings that point into them.
func (c *cursor) str() (string, error) {
	at := c.off()
	n, err := c.u64()
	if err != nil {
		return "", err
	}
	if n > uint64(c.remaining()) {
		return "", c.errf(at, "string length "+utoa(n)+" exceeds the remaining "+itoa(c.remaining())+" bytes", ErrTruncated)
	}
	if n == 0 {
		return "", nil
	}
	b, err := c.next(int(n))
	if err != nil {
		return "", err
	}
	return unsafe.String(&b[0], len(b)), nil
}

func (c *cursor) skip(n int64) error {
	if n > c.remaining() {
		return c.errf(c.off(), "needs "+itoa(n)+" bytes, file has "+itoa(c.remaining())+" left", ErrTruncated)
	}
	if n <= int64(len(c.buf)-c.pos) {
		c.pos += int(n)
		return nil
	}
	c.base = c.off() + n
	c.buf, c.pos = nil, 0
	return nil
}

func f32(u uint32) float32 { return math.Float32frombits(u) }
func f64(u uint64) float64 { return math.Float64frombits(u) }

func itoa(i int64) string {
	if i < 0 {
		return "-" + utoa(uint64(-i))
	}
	return utoa(uint64(i))
}

func utoa(u uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	return string(b[i:])
}
