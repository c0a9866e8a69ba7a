package mmapio

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/internal/pagecache"
	"golang.org/x/sys/unix"
)

// dropCapIPCLock removes CAP_IPC_LOCK from the calling thread's effective
// set, so that RLIMIT_MEMLOCK applies even to root. Capabilities are per
// thread: the caller must have locked its OS thread, and never unlock it, so
// that the thread exits with the goroutine.
func dropCapIPCLock(t *testing.T) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		t.Skipf("capget: %v", err)
	}
	data[unix.CAP_IPC_LOCK/32].Effective &^= 1 << (unix.CAP_IPC_LOCK % 32)
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		t.Skipf("capset: %v", err)
	}
}

// vmLocked is the process's locked memory, from /proc/self/status.
func vmLocked(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmLck:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Skip("no VmLck in /proc/self/status")
	return 0
}

func TestMlockLimit(t *testing.T) {
	paths, _ := tempFiles(t, 1<<20)
	before := vmLocked(t)
	if m, err := Map(paths, Options{Mlock: true}); err != nil {
		t.Logf("locking 1 MiB failed here: %v", err)
	} else {
		if got := vmLocked(t) - before; got != 1<<20 {
			t.Errorf("mapping 1 MiB with Mlock locked %d bytes", got)
		}
		m.Close()
		if got := vmLocked(t) - before; got != 0 {
			t.Errorf("%d bytes still locked after Close", got)
		}
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: see dropCapIPCLock
		dropCapIPCLock(t)
		var old unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &old); err != nil {
			t.Error(err)
			return
		}
		const limit = 64 << 10
		low := unix.Rlimit{Cur: limit, Max: old.Max}
		if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &low); err != nil {
			t.Errorf("lowering RLIMIT_MEMLOCK: %v", err)
			return
		}
		defer unix.Setrlimit(unix.RLIMIT_MEMLOCK, &old)

		m, err := Map(paths, Options{Mlock: true})
		if err == nil {
			m.Close()
			t.Error("locking 1 MiB under a 64 KiB RLIMIT_MEMLOCK succeeded")
			return
		}
		var me *MlockError
		if !errors.As(err, &me) || me.Limit != limit || me.Capable || me.Bytes != 1<<20 || me.Path != paths[0] {
			t.Errorf("got %#v, want a *MlockError for 1 MiB of %s under a limit of %d", err, paths[0], limit)
		}
		if !strings.Contains(err.Error(), "RLIMIT_MEMLOCK 65536 bytes (raise it") || !strings.Contains(err.Error(), "ulimit -l") {
			t.Errorf("message does not name the limit and the fix: %v", err)
		}
		if !errors.Is(err, unix.ENOMEM) && !errors.Is(err, unix.EPERM) {
			t.Errorf("errno lost: %v", err)
		}
	}()
	<-done
	if len(regions.list) != 0 {
		t.Errorf("a failed Map left mappings registered: %v", regions.list)
	}
}

func TestResidency(t *testing.T) {
	const size = 8 << 20
	paths, _ := tempFiles(t, size)
	f, err := os.Open(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil { // dirty pages cannot be dropped
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Skipf("cannot drop the page cache here: %v", err)
	}
	m, err := Map(paths, Options{Advice: AdviceRandom})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	all := Range{0, 0, size}
	r, err := m.Residency(all)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Known {
		t.Skipf("residency unknown here: %s", r.Note)
	}
	if r.Bytes > size/8 {
		t.Skipf("the filesystem keeps dropped pages (%d of %d resident)", r.Bytes, size)
	}
	if err := m.Prefetch(context.Background(), []Range{{0, 0, size / 2}}, nil); err != nil {
		t.Fatal(err)
	}
	r, err = m.Residency(all)
	if err != nil {
		t.Fatal(err)
	}
	if r.Bytes < size/2 || r.Bytes > size/2+size/8 {
		t.Errorf("%s: %d of %d bytes resident after prefetching half", r.Method, r.Bytes, size)
	}
	if r, err := m.Residency(Range{0, 0, size / 2}); err != nil || r.Bytes != size/2 {
		t.Errorf("the prefetched half: %+v, %v", r, err)
	}

	// Populate reads the whole file in before Map returns. (Mapped pages
	// cannot be dropped: unmap first.)
	m.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	if r, _ := pagecache.Resident(f, 0, size); r.Bytes > size/8 {
		t.Fatalf("%d bytes resident after dropping again", r.Bytes)
	}
	p, err := Map(paths, Options{Populate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if r, err := p.Residency(all); err != nil || r.Bytes != size {
		t.Errorf("after mapping with Populate: %+v, %v", r, err)
	}
}
