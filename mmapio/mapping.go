package mmapio

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/modelfit/modelfit/internal/pagecache"
)

// Mapping is a set of files mapped read-only, one mapping per file. It is
// safe for concurrent use; Close waits for Prefetch chunks in flight.
type Mapping struct {
	mu     sync.RWMutex
	closed bool
	parts  []*mapped
}

type mapped struct {
	path string
	f    *os.File // kept open for Residency and Verify
	data []byte   // nil once closed
	size int64    // len(data) when mapped; never changes
}

var _ Source = (*Mapping)(nil)

// Map maps each path read-only, in order (part i is paths[i]). On error
// nothing stays mapped.
func Map(paths []string, opts Options) (*Mapping, error) {
	if len(paths) == 0 {
		return nil, errors.New("mmapio: map: no files")
	}
	m := &Mapping{}
	for i, p := range paths {
		mp, err := mapFile(p, opts.Populate)
		if err != nil {
			m.Close()
			return nil, err
		}
		m.parts = append(m.parts, mp)
		if len(mp.data) > 0 {
			base := uintptr(unsafe.Pointer(&mp.data[0]))
			regions.add(region{base: base, end: base + uintptr(len(mp.data)), path: p, part: i})
		}
		r := Range{Part: i, N: mp.size}
		if opts.Advice != AdviceNormal {
			if err := m.Advise(r, opts.Advice); err != nil {
				m.Close()
				return nil, err
			}
		}
		if opts.Mlock {
			if err := m.Lock(r); err != nil {
				m.Close()
				return nil, err
			}
		}
	}
	return m, nil
}

func mapFile(path string, populate bool) (*mapped, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("mmapio: %w", err)
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("not a regular file (%v)", st.Mode().Type())
	}
	if err == nil && st.Size() > math.MaxInt {
		err = fmt.Errorf("%d bytes do not fit the address space", st.Size())
	}
	var data []byte
	if err == nil && st.Size() > 0 {
		data, err = mmapFile(f, st.Size(), populate)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("mmapio: map %s: %w", path, err)
	}
	return &mapped{path: path, f: f, data: data, size: int64(len(data))}, nil
}

// Parts is the number of mapped files.
func (m *Mapping) Parts() int { return len(m.parts) }

// Size is the mapped length of a part: its file's size when mapped.
func (m *Mapping) Size(part int) int64 {
	if part < 0 || part >= len(m.parts) {
		return 0
	}
	return m.parts[part].size
}

// Bytes returns the n mapped bytes at offset off of part, without copying.
// Reading them can fault if the file shrinks: do it inside Guard.
func (m *Mapping) Bytes(part int, off, n int64) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	if err := checkRange(Range{part, off, n}, len(m.parts), m.Size); err != nil {
		return nil, err
	}
	return m.parts[part].data[off : off+n : off+n], nil
}

// pages returns the page-aligned mapped bytes covering r, which must be
// checked; the caller holds m.mu.
func (m *Mapping) pages(r Range) []byte {
	page := int64(os.Getpagesize())
	lo := r.Off / page * page
	return m.parts[r.Part].data[lo : r.Off+r.N]
}

// use validates r and runs fn on its pages under the read lock.
func (m *Mapping) use(r Range, fn func(mp *mapped, b []byte) error) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return ErrClosed
	}
	if err := checkRange(r, len(m.parts), m.Size); err != nil {
		return err
	}
	if r.N == 0 {
		return nil
	}
	return fn(m.parts[r.Part], m.pages(r))
}

// Advise applies a madvise hint to the pages covering r.
func (m *Mapping) Advise(r Range, a Advice) error {
	return m.use(r, func(mp *mapped, b []byte) error {
		if err := madvise(b, a); err != nil {
			return fmt.Errorf("mmapio: madvise %v %s %v: %w", a, mp.path, r, err)
		}
		return nil
	})
}

// Lock locks the pages covering r in RAM (reading them in). When
// RLIMIT_MEMLOCK is too low the error is a *MlockError that says so.
func (m *Mapping) Lock(r Range) error {
	return m.use(r, func(mp *mapped, b []byte) error {
		if err := mlock(b); err != nil {
			return &MlockError{Path: mp.path, Bytes: int64(len(b)), Limit: memlockLimit(), Capable: canLock(), Err: err}
		}
		return nil
	})
}

// Unlock undoes Lock for the pages covering r.
func (m *Mapping) Unlock(r Range) error {
	return m.use(r, func(mp *mapped, b []byte) error {
		if err := munlock(b); err != nil {
			return fmt.Errorf("mmapio: munlock %s %v: %w", mp.path, r, err)
		}
		return nil
	})
}

// Residency is the page-cache residency of a range, the same answer the
// probe gives for a file.
type Residency = pagecache.Result

// Residency is how much of r is in the page cache, without reading it:
// cachestat(2), else mincore(2) where the kernel would not lie, else
// Known=false with a note.
func (m *Mapping) Residency(r Range) (Residency, error) {
	var res Residency
	err := m.use(r, func(mp *mapped, _ []byte) error {
		var err error
		res, err = pagecache.Resident(mp.f, r.Off, r.N)
		return err
	})
	if r.N == 0 && err == nil {
		res = Residency{Known: true}
	}
	return res, err
}

// Prefetch reads the ranges into the page cache and maps their pages, so
// that later accesses do not wait on the disk, reporting progress as it
// goes; several chunks are in flight at once. It blocks until done, ctx is
// cancelled or a chunk fails (a *FaultError when a file has shrunk): run it
// in its own goroutine to warm in the background. Pages may be evicted again
// under memory pressure unless locked.
func (m *Mapping) Prefetch(ctx context.Context, ranges []Range, progress Progress) error {
	for _, r := range ranges {
		if err := checkRange(r, len(m.parts), m.Size); err != nil {
			return err
		}
	}
	cs, total := split(merge(ranges))
	err := run(ctx, cs, total, progress, func(c chunk) error {
		return m.use(Range{Part: c.part, Off: c.lo, N: c.hi - c.lo}, func(_ *mapped, b []byte) error {
			return warm(b)
		})
	})
	if err != nil && !errors.Is(err, ErrFault) && !errors.Is(err, ErrClosed) {
		return fmt.Errorf("mmapio: prefetch: %w", err)
	}
	return err
}

// warm faults b's pages in by reading one byte of each, under Guard.
// Measured on a 64 MiB file read from disk (BenchmarkMapPrefetch/cold),
// touching beat madvise(MADV_POPULATE_READ) by about 1.7x: faults in order
// drive the kernel's readahead, which the madvise did not.
func warm(b []byte) error {
	return Guard(func() error { touch(b); return nil })
}

// sink keeps touch's reads from being optimised away.
var sink atomic.Uint32

// touch reads one byte of every page of b.
func touch(b []byte) {
	page := os.Getpagesize()
	var s byte
	for i := 0; i < len(b); i += page {
		s += b[i]
	}
	sink.Store(uint32(s))
}

// Verify reports whether any file changed under the mapping: shrunk (reading
// past the new end would fault) or replaced at its path (the mapping still
// shows the old file). It is cheap: two stats per part.
func (m *Mapping) Verify() error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return ErrClosed
	}
	for _, mp := range m.parts {
		st, err := mp.f.Stat()
		if err != nil {
			return fmt.Errorf("mmapio: verify %s: %w", mp.path, err)
		}
		if st.Size() < int64(len(mp.data)) {
			return fmt.Errorf("mmapio: %s shrank from %d to %d bytes while mapped: %w", mp.path, len(mp.data), st.Size(), ErrChanged)
		}
		now, err := os.Stat(mp.path)
		if err != nil || !os.SameFile(st, now) {
			return fmt.Errorf("mmapio: %s was replaced or removed while mapped: %w", mp.path, ErrChanged)
		}
	}
	return nil
}

// Close unmaps every file and closes it. Slices from Bytes must not be used
// afterwards. Close is idempotent.
func (m *Mapping) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	var errs []error
	for _, mp := range m.parts {
		if len(mp.data) > 0 {
			regions.remove(uintptr(unsafe.Pointer(&mp.data[0])))
			if err := munmap(mp.data); err != nil {
				errs = append(errs, fmt.Errorf("mmapio: munmap %s: %w", mp.path, err))
			}
			mp.data = nil
		}
		if err := mp.f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("mmapio: %w", err))
		}
	}
	return errors.Join(errs...)
}
