package mmapio

import (
	"os"

	"golang.org/x/sys/unix"
)

// mmapFile maps the whole file read-only and shared, so that every process
// mapping the model shares one copy in the page cache.
func mmapFile(f *os.File, size int64, populate bool) ([]byte, error) {
	flags := unix.MAP_SHARED
	if populate {
		flags |= unix.MAP_POPULATE
	}
	return unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, flags)
}

func munmap(b []byte) error { return unix.Munmap(b) }

var advice = [...]int{
	AdviceNormal:     unix.MADV_NORMAL,
	AdviceWillNeed:   unix.MADV_WILLNEED,
	AdviceSequential: unix.MADV_SEQUENTIAL,
	AdviceRandom:     unix.MADV_RANDOM,
	AdviceDontNeed:   unix.MADV_DONTNEED,
}

func madvise(b []byte, a Advice) error {
	if a < 0 || int(a) >= len(advice) {
		return unix.EINVAL
	}
	return unix.Madvise(b, advice[a])
}

func mlock(b []byte) error   { return unix.Mlock(b) }
func munlock(b []byte) error { return unix.Munlock(b) }

// memlockLimit is the soft RLIMIT_MEMLOCK in bytes (all ones: unlimited).
func memlockLimit() uint64 {
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_MEMLOCK, &rl) != nil {
		return 0
	}
	return rl.Cur
}

// canLock reports whether the calling thread has CAP_IPC_LOCK, which
// exempts it from RLIMIT_MEMLOCK.
func canLock() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if unix.Capget(&hdr, &data[0]) != nil {
		return false
	}
	return data[unix.CAP_IPC_LOCK/32].Effective&(1<<(unix.CAP_IPC_LOCK%32)) != 0
}

// allocAnon returns n bytes of anonymous memory outside the Go heap, so that
// the garbage collector neither scans it nor counts it towards GOGC, and
// freeAnon returns it to the kernel at once. It asks for transparent huge
// pages: first touch of 4 KiB anonymous pages is the no-mmap path's main cost
// on a VM (2-6 µs a page, PERF.md §3-4), and BenchmarkRead/warm ran 2-3x
// faster with MADV_HUGEPAGE here. The hint is best effort.
func allocAnon(n int) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err == nil {
		_ = unix.Madvise(b, unix.MADV_HUGEPAGE)
	}
	return b, err
}

func freeAnon(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	return unix.Munmap(b)
}

// readOnly makes a filled buffer fault on writes, as a mapping would.
func readOnly(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	return unix.Mprotect(b, unix.PROT_READ)
}

// openStreamFile opens path for a Stream: with O_DIRECT unless noDirect or
// the filesystem refuses it (tmpfs, some network filesystems), checked with
// one aligned read.
func openStreamFile(path string, noDirect bool) (*os.File, bool, error) {
	if !noDirect {
		if f, err := os.OpenFile(path, os.O_RDONLY|unix.O_DIRECT, 0); err == nil {
			probe, aerr := allocAnon(directAlign)
			if aerr == nil {
				_, rerr := unix.Pread(int(f.Fd()), probe, 0)
				freeAnon(probe)
				if rerr == nil {
					return f, true, nil
				}
			}
			f.Close()
		}
	}
	f, err := os.Open(path)
	if err == nil {
		_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_SEQUENTIAL)
	}
	return f, false, err
}

// dropCache evicts the file's cached pages in [off, off+n) (those no one
// maps), so streamed bytes do not push out the resident part of a model.
func dropCache(f *os.File, off, n int64) {
	_ = unix.Fadvise(int(f.Fd()), off, n, unix.FADV_DONTNEED)
}
