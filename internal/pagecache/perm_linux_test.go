package pagecache

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// asStranger runs fn on a thread that has lost the capabilities that let
// root see any file's residency, so that root acts as a user who neither
// owns nor may write a file owned by nobody. Skips unless run as root.
func asStranger(t *testing.T, fn func()) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file away")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Never unlocked: the thread exits with the goroutine, taking its
		// reduced capabilities along.
		runtime.LockOSThread()
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			t.Errorf("capget: %v", err)
			return
		}
		for _, c := range []int{unix.CAP_FOWNER, unix.CAP_DAC_OVERRIDE, unix.CAP_SYS_ADMIN} {
			data[c/32].Effective &^= 1 << (c % 32)
		}
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			t.Errorf("capset: %v", err)
			return
		}
		fn()
	}()
	<-done
}

// A file the caller neither owns nor may write: cachestat refuses, mincore
// would lie, and Resident says it does not know.
func TestStrangersFile(t *testing.T) {
	const size = 1 << 20
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, 65534, 65534); err != nil {
		t.Skipf("cannot give the file away: %v", err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Skipf("cannot drop the page cache here: %v", err)
	}
	asStranger(t, func() {
		if mincoreTruthful(f) {
			t.Error("mincore deemed truthful for a stranger's read-only file")
		}
		r, err := Resident(f, 0, size)
		if err != nil {
			t.Fatal(err)
		}
		if r.Known || r.Note == "" {
			t.Errorf("residency of a stranger's file: %+v, want unknown with a note", r)
		}
		// The lie Resident avoids: mincore claims the dropped file is cached.
		if m, err := mincore(f, 0, size); err != nil || m.Bytes != size {
			t.Logf("this kernel's mincore did not lie: %+v, %v", m, err)
		}
	})
	// With the capabilities back, the answer is known and small.
	r, err := Resident(f, 0, size)
	if err != nil || !r.Known || r.Bytes > size/8 {
		t.Errorf("owner's view of the dropped file: %+v, %v", r, err)
	}
	if !mincoreTruthful(f) {
		t.Error("mincore deemed untruthful for root")
	}
}
