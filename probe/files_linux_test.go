package probe

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// coldFile writes a file of n bytes and evicts it from the page cache.
func coldFile(t *testing.T, name string, n int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, bytes.Repeat([]byte{1}, n), 0o644); err != nil {
		t.Fatal(err)
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
		t.Skipf("cannot evict a file from the page cache here: %v", err)
	}
	return p
}

// TestFileResidency: of a two-part split model, the first part half read
// into the page cache reports about half resident, the second none.
func TestFileResidency(t *testing.T) {
	const size = 8 << 20
	part1, part2 := coldFile(t, "m-00001-of-00002.gguf", size), coldFile(t, "m-00002-of-00002.gguf", size)
	f, err := os.Open(part1)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_RANDOM) // no readahead past the half
	if _, err := io.CopyN(io.Discard, f, size/2); err != nil {
		t.Fatal(err)
	}
	files, err := FileResidency(part1, part2)
	if err != nil {
		t.Fatal(err)
	}
	for i, fi := range files {
		if fi.SizeBytes != size || fi.Filesystem == "" || fi.Method == "" || !filepath.IsAbs(fi.Path) {
			t.Errorf("part %d: %+v", i+1, fi)
		}
		if fi.ResidentBytes == nil {
			t.Skipf("residency unknown here: %s", fi.ResidencyNote)
		}
	}
	if fs := files[0].Filesystem; fs == "tmpfs" || fs == "ramfs" {
		t.Skipf("%s keeps every page resident", fs)
	}
	if r := *files[0].ResidentBytes; r < size/2 || r > size/2+size/8 {
		t.Errorf("part 1: %d of %d bytes resident after reading half (%s)", r, size, files[0].Method)
	}
	if r := *files[1].ResidentBytes; r > size/8 {
		t.Errorf("part 2: %d of %d bytes resident, none read", r, size)
	}
	if _, err := FileResidency(filepath.Join(t.TempDir(), "missing.gguf")); err == nil {
		t.Error("missing file: no error")
	}
}
