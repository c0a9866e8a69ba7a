//go:build !linux

package calibrate

import (
	"context"
	"errors"
)

// FileSpeeds are the read speeds of a file system (see the Linux version).
type FileSpeeds struct {
	Cold, Warm, MmapFault float64 // bytes/s
}

// ErrNotSupported is returned where a measurement needs Linux.
var ErrNotSupported = errors.New("calibrate: file read measurements need Linux (posix_fadvise to drop the page cache)")

// MeasureFiles needs Linux; elsewhere it returns ErrNotSupported.
func MeasureFiles(ctx context.Context, dir string, size int64, reps int) (FileSpeeds, error) {
	return FileSpeeds{}, ErrNotSupported
}

// MeasureFirstTouch needs Linux here; elsewhere it returns ErrNotSupported.
func MeasureFirstTouch(ctx context.Context, size, reps int) (float64, error) {
	return 0, ErrNotSupported
}
