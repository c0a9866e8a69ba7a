//go:build !linux

package pagecache

import (
	"fmt"
	"os"
)

// Resident is not available on this platform.
func Resident(f *os.File, off, n int64) (Result, error) {
	return Result{}, fmt.Errorf("pagecache: %w", ErrNotSupported)
}
