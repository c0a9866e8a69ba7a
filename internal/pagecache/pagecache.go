// Package pagecache tells how much of a file is in the page cache without
// reading it, and says "unknown" where the kernel would lie.
package pagecache

import "errors"

// ErrNotSupported is returned (wrapped) where the platform has no way to ask.
var ErrNotSupported = errors.New("pagecache: not supported on this platform")

// Result is the residency of a byte range.
type Result struct {
	Bytes  int64  // bytes of the range in the page cache (page-granular, clipped to the range)
	Known  bool   // false when no truthful answer is possible
	Method string // "cachestat" or "mincore"
	Note   string // why the answer is unknown
}
