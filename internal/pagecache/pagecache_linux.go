package pagecache

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// window bounds each mincore mapping, so the residency vector stays small
// (256 KiB per GiB) whatever the file's size.
const window = 1 << 30

// Resident reports how many bytes of f's range [off, off+n) are in the page
// cache. It tries cachestat(2) (Linux 6.5+), which refuses rather than lies,
// then mmap + mincore(2), which the kernel answers truthfully only for a
// caller who owns the file or may write it (can_do_mincore); for anyone else
// it claims every page resident, so the result is then Known=false.
func Resident(f *os.File, off, n int64) (Result, error) {
	if off < 0 || n < 0 {
		return Result{}, fmt.Errorf("pagecache: bad range %d+%d", off, n)
	}
	if n == 0 {
		return Result{Known: true, Method: "cachestat"}, nil
	}
	var cs unix.Cachestat_t
	err := unix.Cachestat(uint(f.Fd()), &unix.CachestatRange{Off: uint64(off), Len: uint64(n)}, &cs, 0)
	switch {
	case err == nil:
		page := int64(os.Getpagesize())
		return Result{Bytes: min(int64(cs.Cache)*page, n), Known: true, Method: "cachestat"}, nil
	case errors.Is(err, unix.EPERM):
		return Result{Method: "cachestat", Note: "the kernel refuses to tell (cachestat: permission denied; the caller neither owns nor may write the file)"}, nil
	}
	// ENOSYS (kernel < 6.5) or seccomp: fall back to mincore.
	if !mincoreTruthful(f) {
		return Result{Method: "mincore", Note: "unknown: mincore reports every page resident for a file the caller neither owns nor may write"}, nil
	}
	return mincore(f, off, n)
}

// mincoreTruthful mirrors the kernel's can_do_mincore for file mappings:
// the caller owns the file, holds CAP_FOWNER, or could open it for writing
// (which a read-only mount denies even to the owner's peers).
func mincoreTruthful(f *os.File) bool {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err == nil && int(st.Uid) == os.Geteuid() {
		return true
	}
	if hasCap(unix.CAP_FOWNER) {
		return true
	}
	// Through the descriptor, so that a relative name or a renamed file
	// cannot mislead; AT_EACCESS: the effective ids, as the kernel uses.
	fd := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	return unix.Faccessat(unix.AT_FDCWD, fd, unix.W_OK, unix.AT_EACCESS) == nil
}

// hasCap reports whether the calling thread has capability c in effect.
func hasCap(c int) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if unix.Capget(&hdr, &data[0]) != nil {
		return false
	}
	return data[c/32].Effective&(1<<(c%32)) != 0
}

func mincore(f *os.File, off, n int64) (Result, error) {
	page := int64(os.Getpagesize())
	res := Result{Known: true, Method: "mincore"}
	start := off / page * page
	end := off + n
	vec := make([]byte, min(window, end-start+page)/page+1)
	for s := start; s < end; s += window {
		length := min(window, end-s)
		m, err := unix.Mmap(int(f.Fd()), s, int(length), unix.PROT_READ, unix.MAP_SHARED)
		if err != nil {
			return Result{}, fmt.Errorf("pagecache: mmap %s: %w", f.Name(), err)
		}
		pages := (length + page - 1) / page
		_, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(length), uintptr(unsafe.Pointer(&vec[0])))
		unix.Munmap(m)
		if e != 0 {
			return Result{}, fmt.Errorf("pagecache: mincore %s: %w", f.Name(), e)
		}
		for i := int64(0); i < pages; i++ {
			if vec[i]&1 == 0 {
				continue
			}
			lo, hi := max(s+i*page, off), min(s+(i+1)*page, end)
			if hi > lo {
				res.Bytes += hi - lo
			}
		}
	}
	return res, nil
}
