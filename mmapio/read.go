package mmapio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"sync"
)

// Buffer holds copies of file ranges in anonymous memory: the no-mmap path.
// It never faults on a changed file and is not shared with the page cache
// (the memory counts as the process's own). Like a mapping it is read-only:
// a write faults. It is safe for concurrent use.
type Buffer struct {
	mu     sync.RWMutex
	closed bool
	mem    []byte
	spans  []span // merged ranges, sorted, with their place in mem
	parts  int
}

type span struct {
	Range
	at int64
}

var _ Source = (*Buffer)(nil)

// Read copies the ranges of the files (part i is paths[i]) into anonymous
// memory, a few chunks at a time, reporting progress. Overlapping ranges are
// stored once. Only bytes inside the files can be asked for, so the memory
// allocated is bounded by the files' sizes.
func Read(ctx context.Context, paths []string, ranges []Range, progress Progress) (*Buffer, error) {
	files := make([]*os.File, 0, len(paths))
	sizes := make([]int64, 0, len(paths))
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("mmapio: %w", err)
		}
		files = append(files, f)
		st, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("mmapio: %w", err)
		}
		sizes = append(sizes, st.Size())
	}
	size := func(part int) int64 { return sizes[part] }
	for _, r := range ranges {
		if err := checkRange(r, len(paths), size); err != nil {
			return nil, err
		}
	}
	merged := merge(ranges)
	cs, total := split(merged)
	if total > math.MaxInt {
		return nil, fmt.Errorf("mmapio: read: %d bytes do not fit the address space", total)
	}
	mem, err := allocAnon(int(total))
	if err != nil {
		return nil, fmt.Errorf("mmapio: read: allocating %d bytes: %w", total, err)
	}
	err = run(ctx, cs, total, progress, func(c chunk) error {
		n := c.hi - c.lo
		_, err := files[c.part].ReadAt(mem[c.at:c.at+n], c.lo)
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("the file ends early (shrank after it was opened?): %w", io.ErrUnexpectedEOF)
		}
		if err != nil {
			return fmt.Errorf("mmapio: read %s at %d: %w", paths[c.part], c.lo, err)
		}
		return nil
	})
	if err == nil {
		err = readOnly(mem)
	}
	if err != nil {
		freeAnon(mem)
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("mmapio: read: %w", err)
		}
		return nil, err
	}
	b := &Buffer{mem: mem, parts: len(paths)}
	at := int64(0)
	for _, r := range merged {
		b.spans = append(b.spans, span{Range: r, at: at})
		at += r.N
	}
	return b, nil
}

// Len is the bytes of memory the buffer holds.
func (b *Buffer) Len() int64 { return int64(len(b.mem)) }

// Bytes returns the copy of the n bytes at offset off of part. They must lie
// inside one range given to Read (or a union of overlapping ones).
func (b *Buffer) Bytes(part int, off, n int64) ([]byte, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return nil, ErrClosed
	}
	r := Range{part, off, n}
	if off < 0 || n < 0 || part < 0 || part >= b.parts {
		return nil, fmt.Errorf("mmapio: %v: %w", r, ErrRange)
	}
	// The last span starting at or before (part, off).
	i := sort.Search(len(b.spans), func(i int) bool {
		s := b.spans[i]
		return s.Part > part || s.Part == part && s.Off > off
	}) - 1
	if i < 0 || b.spans[i].Part != part || off-b.spans[i].Off > b.spans[i].N-n {
		if n == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("mmapio: %v: not among the ranges read: %w", r, ErrRange)
	}
	p := b.spans[i].at + off - b.spans[i].Off
	return b.mem[p : p+n : p+n], nil
}

// Close returns the memory to the kernel. Slices from Bytes must not be used
// afterwards. Close is idempotent.
func (b *Buffer) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	err := freeAnon(b.mem)
	b.mem = nil
	if err != nil {
		return fmt.Errorf("mmapio: %w", err)
	}
	return nil
}
