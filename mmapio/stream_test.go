package mmapio

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestStream(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 3<<20+123)
	for i := range data {
		data[i] = byte(i*7 + i>>9)
	}
	paths := []string{filepath.Join(dir, "a"), filepath.Join(dir, "b")}
	for _, p := range paths {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ranges := []Range{{0, 100, 5000}, {1, 1 << 20, 1<<20 + 17}, {0, 3 << 20, 123}, {1, 0, int64(len(data))}}
	for _, opts := range []StreamOptions{{}, {NoDirect: true}, {Slots: 1, Readers: 1, Chunk: 4096}, {Slots: 3, Readers: 3, Chunk: 64 << 10}} {
		s, err := OpenStream(paths, ranges, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v: direct %v", opts, s.Stats().Direct)
		order := []int{0, 1, 2, 3, 0, 1, 2, 3, 0, 2, 3, 1} // 0, then skips 1 (re-read next cycle)
		for _, i := range order {
			b, err := s.Acquire(i)
			if err != nil {
				t.Fatalf("%+v: acquire %d: %v", opts, i, err)
			}
			r := ranges[i]
			if !bytes.Equal(b, data[r.Off:r.Off+r.N]) {
				t.Fatalf("%+v: range %d: wrong bytes", opts, i)
			}
			if _, err := s.Acquire(i); err == nil {
				t.Fatalf("range %d acquired twice", i)
			}
			s.Release(i)
		}
		if st := s.Stats(); st.BytesRead < int64(len(data)) {
			t.Errorf("stats %+v", st)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Acquire(0); err == nil {
			t.Error("acquire after close succeeded")
		}
	}
}

func TestStreamErrors(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, rs := range [][]Range{nil, {{0, 900, 200}}, {{1, 0, 10}}, {{0, -1, 10}}, {{0, 0, 0}}} {
		if s, err := OpenStream([]string{p}, rs, StreamOptions{}); err == nil {
			s.Close()
			t.Errorf("%v: no error", rs)
		}
	}
	if _, err := OpenStream([]string{filepath.Join(t.TempDir(), "missing")}, []Range{{0, 0, 1}}, StreamOptions{}); err == nil {
		t.Error("missing file: no error")
	}
	// A file truncated under the stream: Acquire reports the short read.
	s, err := OpenStream([]string{p}, []Range{{0, 0, 1000}}, StreamOptions{NoDirect: true, Slots: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Acquire(0); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, 10); err != nil {
		t.Fatal(err)
	}
	s.Release(0)
	if _, err := s.Acquire(0); err == nil {
		t.Error("truncated file: no error")
	}
}
