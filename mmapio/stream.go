package mmapio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Stream reads a fixed list of file ranges again and again, in order, into a
// small ring of anonymous buffers ahead of their use: the streamed part of a
// model whose weights do not fit in memory. Decode reads the weights in the
// same order every token, a cyclic scan larger than memory, which defeats
// the kernel's LRU (each page is evicted just before it is needed again) and
// faults synchronously while compute waits. A Stream instead keeps the disk
// busy with large reads one or two ranges ahead, and its buffers are reused,
// so the streamed bytes never crowd out the rest of the model: with direct
// I/O (O_DIRECT, where the filesystem allows it) they do not enter the page
// cache at all; otherwise each range's cached pages are dropped
// (POSIX_FADV_DONTNEED) once read.
//
// The consumer calls Acquire(i) for ranges in the cyclic order 0, 1, …, n-1,
// 0, …, and Release(i) when done with the bytes, both from one goroutine. Memory is Slots buffers of
// the largest range (plus alignment), whatever the number of ranges.
type Stream struct {
	ranges []Range
	files  []*os.File
	direct []bool
	opts   StreamOptions

	free  chan *slot
	ready chan *slot
	done  chan struct{}
	wg    sync.WaitGroup
	slots []*slot
	held  map[int]*slot // acquired, not yet released, by range index

	closeOnce sync.Once
	readNanos atomic.Int64
	readBytes atomic.Int64
	waitNanos atomic.Int64
}

// StreamOptions tune a Stream. The zero value is 2 slots, 4 concurrent reads
// of 16 MiB, direct I/O where possible.
type StreamOptions struct {
	Slots    int   // buffers in the ring: 2 reads one range ahead of the one in use
	Readers  int   // concurrent reads per range: a deeper queue keeps a virtual disk busy
	Chunk    int64 // bytes per read
	NoDirect bool  // read through the page cache (dropping the pages after each range)
}

type slot struct {
	mem   []byte // aligned anonymous memory
	idx   int    // range held
	data  []byte // the range's bytes within mem
	err   error
	epoch int
}

// directAlign is the alignment direct I/O needs of offsets, lengths and
// buffers on common Linux filesystems (the logical block size is at most
// 4 KiB).
const directAlign = 4096

// StreamStats are a Stream's counters.
type StreamStats struct {
	BytesRead int64         // bytes read from the files
	Reading   time.Duration // time the reads took (concurrent reads of one range counted once)
	Waiting   time.Duration // time Acquire waited for a range not yet read
	Direct    bool          // direct I/O in use (else page-cache reads dropped after use)
}

// OpenStream starts reading ranges (of files paths[r.Part]) into the ring.
func OpenStream(paths []string, ranges []Range, opts StreamOptions) (*Stream, error) {
	if len(ranges) == 0 {
		return nil, errors.New("mmapio: stream of no ranges")
	}
	if opts.Slots <= 0 {
		opts.Slots = 2
	}
	if opts.Readers <= 0 {
		opts.Readers = 4
	}
	if opts.Chunk <= 0 {
		opts.Chunk = 16 << 20
	}
	opts.Chunk = (opts.Chunk + directAlign - 1) / directAlign * directAlign
	s := &Stream{ranges: ranges, opts: opts, files: make([]*os.File, len(paths)), direct: make([]bool, len(paths)),
		free: make(chan *slot, opts.Slots), ready: make(chan *slot, opts.Slots), done: make(chan struct{}),
		held: map[int]*slot{}}
	fail := func(err error) (*Stream, error) {
		s.release()
		return nil, err
	}
	var largest int64
	for i, r := range ranges {
		if r.Part < 0 || r.Part >= len(paths) || r.Off < 0 || r.N <= 0 {
			return fail(fmt.Errorf("mmapio: stream range %d (%v) is not in the %d files", i, r, len(paths)))
		}
		largest = max(largest, r.N)
	}
	for i, p := range paths {
		f, direct, err := openStreamFile(p, opts.NoDirect)
		if err != nil {
			return fail(err)
		}
		s.files[i], s.direct[i] = f, direct
		st, err := f.Stat()
		if err != nil {
			return fail(err)
		}
		for j, r := range ranges {
			if r.Part == i && r.Off+r.N > st.Size() {
				return fail(fmt.Errorf("mmapio: stream range %d (%v) ends past the end of %s (%d bytes)", j, r, p, st.Size()))
			}
		}
	}
	size := int((largest+2*directAlign-1)/directAlign*directAlign + directAlign)
	for range opts.Slots {
		mem, err := allocAnon(size)
		if err != nil {
			return fail(fmt.Errorf("mmapio: stream buffer of %d bytes: %w", size, err))
		}
		sl := &slot{mem: mem}
		s.slots = append(s.slots, sl)
		s.free <- sl
	}
	s.wg.Add(1)
	go s.produce()
	return s, nil
}

// produce fills free slots with the ranges in cyclic order until Close.
func (s *Stream) produce() {
	defer s.wg.Done()
	for k := 0; ; k = (k + 1) % len(s.ranges) {
		var sl *slot
		select {
		case sl = <-s.free:
		case <-s.done:
			return
		}
		start := time.Now()
		sl.idx = k
		sl.data, sl.err = s.read(sl.mem, s.ranges[k])
		s.readNanos.Add(int64(time.Since(start)))
		select {
		case s.ready <- sl:
		case <-s.done:
			return
		}
		if sl.err != nil {
			return
		}
	}
}

// read reads r into mem with up to Readers concurrent reads and returns the
// range's bytes within mem.
func (s *Stream) read(mem []byte, r Range) ([]byte, error) {
	f, direct := s.files[r.Part], s.direct[r.Part]
	lo, hi := r.Off, r.Off+r.N
	if direct {
		lo = lo / directAlign * directAlign
		hi = (hi + directAlign - 1) / directAlign * directAlign
	}
	// The buffer's first aligned address.
	shift := alignShift(mem)
	buf := mem[shift : shift+int(hi-lo)]
	var next atomic.Int64
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var firstErr error
	for range s.opts.Readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				off := next.Add(s.opts.Chunk) - s.opts.Chunk
				if off >= int64(len(buf)) {
					return
				}
				end := min(off+s.opts.Chunk, int64(len(buf)))
				n, err := preadFull(f, buf[off:end], lo+off)
				if err == nil && off+int64(n) < min(end, r.Off+r.N-lo) {
					// Only a direct read's alignment padding may lie past
					// the end of the file.
					err = fmt.Errorf("file ends at %d, inside the range", lo+off+int64(n))
				}
				if err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("mmapio: streaming %s %v: %w", f.Name(), r, firstErr)
	}
	s.readBytes.Add(hi - lo)
	if !direct {
		dropCache(f, lo, hi-lo)
	}
	return buf[r.Off-lo : r.Off-lo+r.N], nil
}

// preadFull reads len(b) bytes at off, or up to the end of the file.
func preadFull(f *os.File, b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) {
		k, err := f.ReadAt(b[n:], off+int64(n))
		n += k
		if errors.Is(err, errEOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Acquire returns the bytes of range i once read. Ranges must be acquired in
// the stream's cyclic order; a range skipped over (after an interrupted
// pass) is read again on the next cycle. The bytes stay valid until
// Release(i).
func (s *Stream) Acquire(i int) ([]byte, error) {
	if i < 0 || i >= len(s.ranges) {
		return nil, fmt.Errorf("mmapio: stream has no range %d", i)
	}
	if _, ok := s.held[i]; ok {
		return nil, fmt.Errorf("mmapio: stream range %d acquired twice", i)
	}
	start := time.Now()
	defer func() { s.waitNanos.Add(int64(time.Since(start))) }()
	for {
		var sl *slot
		select {
		case sl = <-s.ready:
		case <-s.done:
			return nil, errors.New("mmapio: stream closed")
		}
		if sl.err != nil {
			err := sl.err
			s.ready <- sl // every later Acquire fails the same way
			return nil, err
		}
		if sl.idx != i {
			s.free <- sl
			continue
		}
		s.held[i] = sl
		return sl.data, nil
	}
}

// Range is the stream's range i.
func (s *Stream) Range(i int) Range { return s.ranges[i] }

// Release hands range i's buffer back to the reader.
func (s *Stream) Release(i int) {
	if sl, ok := s.held[i]; ok {
		delete(s.held, i)
		s.free <- sl
	}
}

// Stats returns the stream's counters so far.
func (s *Stream) Stats() StreamStats {
	return StreamStats{BytesRead: s.readBytes.Load(), Reading: time.Duration(s.readNanos.Load()),
		Waiting: time.Duration(s.waitNanos.Load()), Direct: len(s.direct) > 0 && s.direct[0]}
}

// Len is the bytes of memory the ring holds.
func (s *Stream) Len() int64 {
	var n int64
	for _, sl := range s.slots {
		n += int64(len(sl.mem))
	}
	return n
}

// Close stops the reader, waits for reads in flight and frees the buffers.
// Bytes from Acquire must not be used afterwards.
func (s *Stream) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.wg.Wait()
		s.release()
	})
	return nil
}

func (s *Stream) release() {
	for _, sl := range s.slots {
		freeAnon(sl.mem)
	}
	s.slots = nil
	for _, f := range s.files {
		if f != nil {
			f.Close()
		}
	}
}

var errEOF = io.EOF

// alignShift is how far into b its first directAlign-aligned byte is.
func alignShift(b []byte) int {
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return int((directAlign - p%directAlign) % directAlign)
}
