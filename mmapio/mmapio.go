// Package mmapio hands out the bytes of model tensors without copying them:
// it maps model files read-only (one mapping per file of a split model),
// applies madvise hints, mlock and prefetch, reports page-cache residency
// truthfully, reads the same ranges into anonymous memory when mmap is not
// wanted, and turns a SIGBUS from a file truncated under a mapping into an
// error.
//
// Offsets are absolute file offsets and parts index the files, exactly as in
// gguf.Tensor.Offset and gguf.Tensor.Part, so RangeOf(t) addresses a tensor.
//
// Every goroutine that touches mapped memory must do so inside Guard:
// debug.SetPanicOnFault is per goroutine, and without it a fault on a
// truncated file kills the process.
package mmapio

import (
	"errors"
	"fmt"

	"github.com/modelfit/modelfit/gguf"
)

var (
	// ErrNotSupported is returned (wrapped) where the platform cannot map files.
	ErrNotSupported = errors.New("mmapio: not supported on this platform")
	// ErrClosed is returned by a Source used after Close.
	ErrClosed = errors.New("mmapio: source closed")
	// ErrFault matches every *FaultError.
	ErrFault = errors.New("mmapio: fault on mapped memory")
	// ErrChanged is returned (wrapped) by Verify when a mapped file shrank or
	// was replaced.
	ErrChanged = errors.New("mmapio: file changed while mapped")
	// ErrRange is returned (wrapped) for a range outside its file or its source.
	ErrRange = errors.New("mmapio: range out of bounds")
)

// Source gives read-only tensor bytes by part and absolute file offset. A
// *Mapping shares the page cache; a *Buffer owns a private copy. The slices
// stay valid until Close and must not be written.
type Source interface {
	Bytes(part int, off, n int64) ([]byte, error)
	Close() error
}

// Range is n bytes at absolute offset Off of file Part.
type Range struct {
	Part int
	Off  int64
	N    int64
}

// RangeOf is the range holding tensor t's data.
func RangeOf(t *gguf.Tensor) Range { return Range{Part: t.Part, Off: t.Offset, N: t.Size} }

// RangesOf is the ranges of the given tensors, in order.
func RangesOf(ts []gguf.Tensor) []Range {
	rs := make([]Range, len(ts))
	for i := range ts {
		rs[i] = RangeOf(&ts[i])
	}
	return rs
}

func (r Range) String() string { return fmt.Sprintf("part %d [%d, %d)", r.Part, r.Off, r.Off+r.N) }

// Progress is told the bytes done so far out of the total. It may be called
// from another goroutine than the caller's, but never concurrently, and done
// never decreases.
type Progress func(done, total int64)

// Advice is a madvise(2) hint for a range of a mapping.
type Advice int

// The hints; the zero value gives none (the kernel's default readahead).
const (
	AdviceNormal     Advice = iota // MADV_NORMAL
	AdviceWillNeed                 // MADV_WILLNEED: start reading now, asynchronously
	AdviceSequential               // MADV_SEQUENTIAL: aggressive readahead, drop pages behind
	AdviceRandom                   // MADV_RANDOM: no readahead; streaming from disk is then ~25x slower, so never for dense weights
	AdviceDontNeed                 // MADV_DONTNEED: drop the mapping's pages (the file stays cached)
)

var adviceNames = [...]string{"normal", "willneed", "sequential", "random", "dontneed"}

func (a Advice) String() string {
	if a >= 0 && int(a) < len(adviceNames) {
		return adviceNames[a]
	}
	return fmt.Sprintf("Advice(%d)", int(a))
}

// Options tunes Map. The zero value is a plain lazy read-only mapping.
type Options struct {
	Populate bool   // MAP_POPULATE: read every page in before Map returns
	Advice   Advice // applied to each whole file after mapping
	Mlock    bool   // lock every page in RAM; fails with a *MlockError naming RLIMIT_MEMLOCK when too low
}

// MlockError reports that pages could not be locked.
type MlockError struct {
	Path    string
	Bytes   int64  // bytes asked to lock
	Limit   uint64 // soft RLIMIT_MEMLOCK in bytes at the time (all ones: unlimited)
	Capable bool   // the thread had CAP_IPC_LOCK, so the limit did not apply
	Err     error
}

func (e *MlockError) Error() string {
	if e.Capable || e.Limit == ^uint64(0) {
		return fmt.Sprintf("mmapio: mlock %s: %d bytes (RLIMIT_MEMLOCK does not apply here; out of memory?): %v", e.Path, e.Bytes, e.Err)
	}
	return fmt.Sprintf("mmapio: mlock %s: %d bytes with RLIMIT_MEMLOCK %d bytes (raise it: ulimit -l, LimitMEMLOCK= in systemd, --ulimit memlock= in docker, or grant CAP_IPC_LOCK): %v",
		e.Path, e.Bytes, e.Limit, e.Err)
}

func (e *MlockError) Unwrap() error { return e.Err }

// FaultError reports a fault while reading mapped memory: the file was
// truncated (or rewritten in place) while mapped, or an I/O error occurred.
type FaultError struct {
	Path   string
	Part   int
	Offset int64   // file offset of the faulting access
	Addr   uintptr // faulting address
	Err    error   // the runtime's fault error
}

// Error leaves out Err, whose text ("invalid memory address or nil pointer
// dereference") would mislead.
func (e *FaultError) Error() string {
	return fmt.Sprintf("mmapio: %s: fault reading mapped offset %d (file truncated or replaced while mapped, or an I/O error)", e.Path, e.Offset)
}

func (e *FaultError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrFault) true.
func (e *FaultError) Is(target error) bool { return target == ErrFault }

// checkRange validates r against a file of size bytes without overflowing.
func checkRange(r Range, parts int, size func(int) int64) error {
	if r.Part < 0 || r.Part >= parts {
		return fmt.Errorf("mmapio: %v: no such part (have %d): %w", r, parts, ErrRange)
	}
	if r.Off < 0 || r.N < 0 || r.N > size(r.Part) || r.Off > size(r.Part)-r.N {
		return fmt.Errorf("mmapio: %v: outside the file's %d bytes: %w", r, size(r.Part), ErrRange)
	}
	return nil
}
