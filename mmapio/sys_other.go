//go:build !linux

package mmapio

import (
	"fmt"
	"os"
)

func mmapFile(f *os.File, size int64, populate bool) ([]byte, error) {
	return nil, fmt.Errorf("mmap: %w", ErrNotSupported)
}

func munmap(b []byte) error { return nil }

func madvise(b []byte, a Advice) error { return fmt.Errorf("madvise: %w", ErrNotSupported) }

func mlock(b []byte) error   { return fmt.Errorf("mlock: %w", ErrNotSupported) }
func munlock(b []byte) error { return fmt.Errorf("munlock: %w", ErrNotSupported) }

func memlockLimit() uint64 { return 0 }

func canLock() bool { return false }

// allocAnon falls back to the Go heap.
func allocAnon(n int) ([]byte, error) { return make([]byte, n), nil }

func freeAnon(b []byte) error { return nil }

func readOnly(b []byte) error { return nil }

func openStreamFile(path string, noDirect bool) (*os.File, bool, error) {
	f, err := os.Open(path)
	return f, false, err
}

func dropCache(f *os.File, off, n int64) {}
