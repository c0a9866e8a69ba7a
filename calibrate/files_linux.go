package calibrate

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// FileSpeeds are the read speeds of a file system: sequential reads of a
// file not in the page cache (cold) and in it (warm), and touching every
// page of a mapping of the cached file (minor page faults, what a mapped
// model costs once it is cached).
type FileSpeeds struct {
	Cold, Warm, MmapFault float64 // bytes/s
}

// MeasureFiles writes a temporary file of size bytes in dir, drops it from
// the page cache (posix_fadvise DONTNEED after fsync; no root needed) and
// times a cold read, a warm read and a mapping's page faults, each the
// median of reps runs. The file is removed.
func MeasureFiles(ctx context.Context, dir string, size int64, reps int) (FileSpeeds, error) {
	var fs FileSpeeds
	f, err := os.CreateTemp(dir, "modelfit-calibrate-*.bin")
	if err != nil {
		return fs, fmt.Errorf("calibrate: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i*131 + i>>8)
	}
	for n := int64(0); n < size; n += int64(len(chunk)) {
		if _, err := f.Write(chunk); err != nil {
			return fs, fmt.Errorf("calibrate: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		return fs, fmt.Errorf("calibrate: %w", err)
	}
	read := func() (float64, error) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return 0, err
		}
		t0 := time.Now()
		n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, make([]byte, 4<<20))
		return float64(n) / time.Since(t0).Seconds(), err
	}
	var cold, warm, fault []float64
	for r := 0; r < max(reps, 1); r++ {
		if err := ctx.Err(); err != nil {
			return fs, err
		}
		if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
			return fs, fmt.Errorf("calibrate: dropping the test file's pages: %w", err)
		}
		c, err := read()
		if err != nil {
			return fs, fmt.Errorf("calibrate: %w", err)
		}
		w, err := read()
		if err != nil {
			return fs, fmt.Errorf("calibrate: %w", err)
		}
		m, err := touchMapping(f, size)
		if err != nil {
			return fs, err
		}
		cold, warm, fault = append(cold, c), append(warm, w), append(fault, m)
	}
	return FileSpeeds{Cold: Median(cold), Warm: Median(warm), MmapFault: Median(fault)}, nil
}

// touchMapping maps the (cached) file read-only and reads one byte of
// every page, as decode touches a freshly mapped model.
func touchMapping(f *os.File, size int64) (float64, error) {
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return 0, fmt.Errorf("calibrate: mmap: %w", err)
	}
	defer unix.Munmap(data)
	page := os.Getpagesize()
	t0 := time.Now()
	var sum byte
	for i := 0; i < len(data); i += page {
		sum += data[i]
	}
	el := time.Since(t0).Seconds()
	sink += sum
	return float64(len(data)) / el, nil
}

// sink keeps the page-touching loop from being optimised away.
var sink byte

// MeasureFirstTouch times writing one byte to every page of a fresh
// anonymous mapping of size bytes, the median of reps runs, in bytes/s:
// what llama.cpp pays for every buffer it allocates and fills at load (the
// repack buffer, weights read without mmap, the KV cache it clears). In a
// virtual machine that returns free pages to its host this is seconds per
// GiB, far above the kernel's zeroing speed.
func MeasureFirstTouch(ctx context.Context, size, reps int) (float64, error) {
	var rates []float64
	for r := 0; r < max(reps, 1); r++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
		if err != nil {
			return 0, fmt.Errorf("calibrate: first touch: %w", err)
		}
		t0 := time.Now()
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		rates = append(rates, float64(size)/time.Since(t0).Seconds())
		if err := unix.Munmap(b); err != nil {
			return 0, fmt.Errorf("calibrate: first touch: %w", err)
		}
	}
	return Median(rates), nil
}
