package pagecache

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// dropped writes a file of n bytes and evicts it from the page cache.
func dropped(t *testing.T, n int) *os.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, make([]byte, n), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Skipf("cannot drop the page cache here: %v", err)
	}
	return f
}

func TestHalfResident(t *testing.T) {
	const size = 8 << 20
	f := dropped(t, size)
	r, err := Resident(f, 0, size)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Known {
		t.Skipf("residency unknown here: %s", r.Note)
	}
	if r.Bytes > size/8 {
		t.Skipf("the filesystem keeps dropped pages (%d of %d resident); cannot test", r.Bytes, size)
	}
	// No readahead, so that exactly the half read is cached.
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_RANDOM)
	if _, err := io.CopyN(io.Discard, f, size/2); err != nil {
		t.Fatal(err)
	}
	r, err = Resident(f, 0, size)
	if err != nil {
		t.Fatal(err)
	}
	if r.Bytes < size/2 || r.Bytes > size/2+size/8 {
		t.Errorf("%s: %d of %d bytes resident after reading half", r.Method, r.Bytes, size)
	}
	// The second half alone.
	r2, _ := Resident(f, size/2, size/2)
	if r2.Bytes > size/8 {
		t.Errorf("second half: %d bytes resident", r2.Bytes)
	}
	// mincore gives the same answer as cachestat.
	m, err := mincore(f, 0, size)
	if err != nil {
		t.Fatal(err)
	}
	if m.Bytes != r.Bytes {
		t.Errorf("mincore: %d of %d resident, %s: %d", m.Bytes, size, r.Method, r.Bytes)
	}
}

func TestUnalignedRange(t *testing.T) {
	f := dropped(t, 3<<20)
	io.Copy(io.Discard, f)
	r, err := mincore(f, 1000, 5000)
	if err != nil {
		t.Fatal(err)
	}
	if r.Bytes != 5000 {
		t.Errorf("fully read file: %d of 5000 bytes of an unaligned range resident", r.Bytes)
	}
	if r, _ := Resident(f, 0, 0); !r.Known || r.Bytes != 0 {
		t.Errorf("empty range: %+v", r)
	}
	if _, err := Resident(f, -1, 10); err == nil {
		t.Error("negative offset accepted")
	}
}
