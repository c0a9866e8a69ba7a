package mmapio

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
)

// tempFiles writes files of the given sizes filled with random bytes.
func tempFiles(t testing.TB, sizes ...int) ([]string, [][]byte) {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	var paths []string
	var datas [][]byte
	for i, n := range sizes {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		p := filepath.Join(dir, "part"+string(rune('a'+i)))
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		datas = append(datas, b)
	}
	return paths, datas
}

func TestMapAndReadAgree(t *testing.T) {
	page := os.Getpagesize()
	paths, datas := tempFiles(t, 3*chunkBytes+123, page, 0, 5000)
	ranges := []Range{
		{0, 0, 100},
		{0, 50, 100}, // overlaps the first
		{0, 7, 2*chunkBytes + 99},
		{0, 3*chunkBytes + 100, 23}, // the file's last bytes
		{1, 0, int64(page)},
		{3, 4999, 1},
		{3, 10, 0},
	}
	m, err := Map(paths, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var last int64
	b, err := Read(context.Background(), paths, ranges, func(done, total int64) { last = total })
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if want := int64(2*chunkBytes+99+7) + 23 + int64(page) + 1; b.Len() != want || last != want {
		t.Errorf("buffer holds %d bytes (progress total %d), want %d", b.Len(), last, want)
	}
	for _, r := range append(ranges, Range{0, 60, 30}) {
		t.Run(r.String(), func(t *testing.T) {
			want := datas[r.Part][r.Off : r.Off+r.N]
			for name, s := range map[string]Source{"map": m, "read": b} {
				var got []byte
				err := Guard(func() error {
					var err error
					got, err = s.Bytes(r.Part, r.Off, r.N)
					got = bytes.Clone(got)
					return err
				})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s: bytes differ from the file", name)
				}
			}
		})
	}
	if _, err := b.Bytes(1, 1, int64(page)); !errors.Is(err, ErrRange) {
		t.Errorf("buffer: bytes past a range read: %v", err)
	}
	if _, err := b.Bytes(2, 0, 1); !errors.Is(err, ErrRange) {
		t.Errorf("buffer: bytes of an unread part: %v", err)
	}
}

func TestBadRanges(t *testing.T) {
	paths, _ := tempFiles(t, 1000, 10)
	m, err := Map(paths, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, r := range []Range{
		{-1, 0, 1}, {2, 0, 1}, {0, -1, 1}, {0, 0, -1}, {0, 999, 2}, {0, 1001, 0},
		{1, 1 << 62, 1 << 62}, {0, 1, 1<<63 - 1},
	} {
		t.Run(r.String(), func(t *testing.T) {
			if _, err := m.Bytes(r.Part, r.Off, r.N); !errors.Is(err, ErrRange) {
				t.Errorf("map: %v", err)
			}
			if err := m.Prefetch(context.Background(), []Range{r}, nil); !errors.Is(err, ErrRange) {
				t.Errorf("prefetch: %v", err)
			}
			if _, err := m.Residency(r); !errors.Is(err, ErrRange) {
				t.Errorf("residency: %v", err)
			}
			if _, err := Read(context.Background(), paths, []Range{r}, nil); !errors.Is(err, ErrRange) {
				t.Errorf("read: %v", err)
			}
		})
	}
	if _, err := Map(nil, Options{}); err == nil {
		t.Error("Map of no files succeeded")
	}
	if _, err := Map([]string{paths[0], filepath.Dir(paths[0])}, Options{}); err == nil {
		t.Error("Map of a directory succeeded")
	}
}

// The real model: every tensor's bytes through both paths, options on.
func TestModelTensors(t *testing.T) {
	path := testutil.Path("models", "synth-llama-gqa-Q4_0.gguf")
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	paths := []string{path}
	m, err := Map(paths, Options{Populate: true, Advice: AdviceSequential})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	b, err := Read(context.Background(), paths, RangesOf(f.Tensors), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Len() != f.TensorBytes() {
		t.Errorf("buffer holds %d bytes, tensors have %d", b.Len(), f.TensorBytes())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range f.Tensors {
		want := raw[tn.Offset : tn.Offset+tn.Size]
		for name, s := range map[string]Source{"map": m, "read": b} {
			got, err := s.Bytes(tn.Part, tn.Offset, tn.Size)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s %s: %v, equal %v", name, tn.Name, err, bytes.Equal(got, want))
			}
		}
	}
}

func TestTruncatedWhileMapped(t *testing.T) {
	page := int64(os.Getpagesize())
	paths, _ := tempFiles(t, int(8*page))
	m, err := Map(paths, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Verify(); err != nil {
		t.Fatalf("verify before truncating: %v", err)
	}
	if err := os.Truncate(paths[0], 2*page); err != nil {
		t.Fatal(err)
	}
	all := Range{0, 0, 8 * page}
	b, err := m.Bytes(0, all.Off, all.N)
	if err != nil {
		t.Fatal(err)
	}
	err = Guard(func() error {
		s := b[page]     // still in the file
		s += b[5*page+7] // past its new end: SIGBUS
		sink.Store(uint32(s))
		t.Error("reading past the end of a truncated file did not fault")
		return nil
	})
	var fe *FaultError
	if !errors.As(err, &fe) || !errors.Is(err, ErrFault) {
		t.Fatalf("got %v, want a *FaultError", err)
	}
	if fe.Path != paths[0] || fe.Part != 0 || fe.Offset != 5*page+7 {
		t.Errorf("fault at %s part %d offset %d, want %s part 0 offset %d", fe.Path, fe.Part, fe.Offset, paths[0], 5*page+7)
	}
	if !strings.Contains(err.Error(), "truncated") {
		t.Errorf("error does not say why: %v", err)
	}
	// A fault inside the runtime's memmove is caught the same way.
	dst := make([]byte, 8*page)
	if err := Guard(func() error { copy(dst, b); return nil }); !errors.As(err, &fe) || fe.Offset < 2*page || fe.Offset >= 8*page {
		t.Errorf("copy from a truncated mapping: %v", err)
	}
	if err := m.Prefetch(context.Background(), []Range{all}, nil); !errors.As(err, &fe) || fe.Offset < 2*page {
		t.Errorf("prefetch of a truncated file: %v", err)
	}
	if err := m.Verify(); !errors.Is(err, ErrChanged) {
		t.Errorf("verify after truncating: %v", err)
	}
	if _, err := Read(context.Background(), paths, []Range{{0, 0, 2 * page}}, nil); err != nil {
		t.Errorf("read of what is left: %v", err)
	}
	if _, err := Read(context.Background(), paths, []Range{all}, nil); !errors.Is(err, ErrRange) {
		t.Errorf("read past the new end: %v", err)
	}
}

func TestReplacedWhileMapped(t *testing.T) {
	paths, datas := tempFiles(t, 5000)
	m, err := Map(paths, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := os.Remove(paths[0]); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(paths[0], make([]byte, 5000), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := m.Verify(); !errors.Is(err, ErrChanged) {
		t.Errorf("verify after replacing: %v", err)
	}
	// The mapping still shows the old file.
	if got, _ := m.Bytes(0, 0, 5000); !bytes.Equal(got, datas[0]) {
		t.Error("the mapping changed with the replaced file")
	}
}

func TestGuardPassesOtherPanics(t *testing.T) {
	for name, fn := range map[string]func() error{
		"panic":   func() error { panic("boom") },
		"nil ptr": func() error { var p *int; return errors.New(string(rune(*p))) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("panic swallowed")
				}
			}()
			Guard(fn)
		})
	}
	want := errors.New("mine")
	if err := Guard(func() error { return want }); err != want {
		t.Errorf("Guard returned %v, want fn's error", err)
	}
}

func TestClose(t *testing.T) {
	paths, _ := tempFiles(t, 100)
	m, err := Map(paths, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Read(context.Background(), paths, []Range{{0, 0, 100}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]Source{"map": m, "read": b} {
		if err := s.Close(); err != nil {
			t.Errorf("%s: close: %v", name, err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("%s: second close: %v", name, err)
		}
		if _, err := s.Bytes(0, 0, 1); !errors.Is(err, ErrClosed) {
			t.Errorf("%s: bytes after close: %v", name, err)
		}
	}
	if err := m.Prefetch(context.Background(), []Range{{0, 0, 100}}, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("prefetch after close: %v", err)
	}
	if regions.find(0) != nil || len(regions.list) != 0 {
		t.Errorf("regions left registered after close: %v", regions.list)
	}
}

func TestCancel(t *testing.T) {
	paths, _ := tempFiles(t, 4*chunkBytes)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Read(ctx, paths, []Range{{0, 0, 4 * chunkBytes}}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("read: %v", err)
	}
	m, err := Map(paths, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Prefetch(ctx, []Range{{0, 0, 4 * chunkBytes}}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("prefetch: %v", err)
	}
}

// Several goroutines prefetch overlapping ranges while others read; run
// with -race.
func TestConcurrentPrefetch(t *testing.T) {
	paths, datas := tempFiles(t, 6*chunkBytes+1, 3*chunkBytes)
	m, err := Map(paths, Options{Advice: AdviceRandom})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			rs := []Range{{0, int64(i) * chunkBytes, 2*chunkBytes + 1}, {1, 0, 3 * chunkBytes}, {0, 5, 10}}
			var calls, last, total int64 = 0, -1, 0
			err := m.Prefetch(context.Background(), rs, func(done, tot int64) {
				calls++
				if done < last {
					t.Errorf("progress went back from %d to %d", last, done)
				}
				last, total = done, tot
			})
			if err != nil {
				t.Error(err)
			}
			want := int64(5*chunkBytes + 1)
			if i > 0 {
				want += 10 // {0, 5, 10} is separate
			}
			if last != want || total != want || calls < 5 {
				t.Errorf("progress ended at %d of %d after %d calls, want %d", last, total, calls, want)
			}
		})
		wg.Go(func() {
			err := Guard(func() error {
				b, err := m.Bytes(1, int64(i)*chunkBytes, chunkBytes)
				if err == nil && !bytes.Equal(b, datas[1][int64(i)*chunkBytes:int64(i+1)*chunkBytes]) {
					t.Error("bytes differ")
				}
				return err
			})
			if err != nil && i < 3 {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func TestAdvice(t *testing.T) {
	paths, _ := tempFiles(t, 3*os.Getpagesize())
	for a := AdviceNormal; a <= AdviceDontNeed; a++ {
		t.Run(a.String(), func(t *testing.T) {
			m, err := Map(paths, Options{Advice: a})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if err := m.Advise(Range{0, 100, 5000}, a); err != nil {
				t.Error(err)
			}
		})
	}
	if s := Advice(42).String(); s != "Advice(42)" {
		t.Errorf("unknown advice prints as %q", s)
	}
}

// Buffer memory is read-only, as mapped weights are: a stray write is a
// programming error that Guard re-raises rather than reports as a file fault.
func TestBufferReadOnly(t *testing.T) {
	paths, _ := tempFiles(t, 100)
	b, err := Read(context.Background(), paths, []Range{{0, 0, 100}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, _ := b.Bytes(0, 10, 1)
	defer func() {
		r := recover()
		if _, ok := r.(interface{ Addr() uintptr }); !ok {
			t.Errorf("write to the buffer: recovered %v, want a memory fault", r)
		}
	}()
	Guard(func() error { got[0]++; return nil })
	t.Error("writing into a Buffer did not fault")
}
