package mmapio

import (
	"context"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

const benchBytes = 64 << 20

// benchLoad runs load over a 64 MiB file, from the page cache ("warm") and
// from the disk ("cold": the file is dropped from the cache before each
// iteration, where the kernel allows it).
func benchLoad(b *testing.B, load func(paths []string) error) {
	paths, _ := tempFiles(b, benchBytes)
	f, err := os.Open(paths[0])
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	for _, cold := range []bool{false, true} {
		name := "warm"
		if cold {
			name = "cold"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(benchBytes)
			for b.Loop() {
				if cold {
					b.StopTimer()
					if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
						b.Skip(err)
					}
					b.StartTimer()
				}
				if err := load(paths); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMapTouch maps the file and reads one byte of every page.
func BenchmarkMapTouch(b *testing.B) {
	benchLoad(b, func(paths []string) error {
		m, err := Map(paths, Options{})
		if err != nil {
			return err
		}
		defer m.Close()
		data, err := m.Bytes(0, 0, benchBytes)
		if err != nil {
			return err
		}
		return Guard(func() error { touch(data); return nil })
	})
}

// BenchmarkMapPrefetch maps the file and prefetches all of it.
func BenchmarkMapPrefetch(b *testing.B) {
	benchLoad(b, func(paths []string) error {
		m, err := Map(paths, Options{})
		if err != nil {
			return err
		}
		defer m.Close()
		return m.Prefetch(context.Background(), []Range{{0, 0, benchBytes}}, nil)
	})
}

// BenchmarkRead copies the file into anonymous memory (the no-mmap path).
func BenchmarkRead(b *testing.B) {
	benchLoad(b, func(paths []string) error {
		buf, err := Read(context.Background(), paths, []Range{{0, 0, benchBytes}}, nil)
		if err != nil {
			return err
		}
		return buf.Close()
	})
}
