//go:build !linux

package main

// dropOthers is a no-op where POSIX_FADV_DONTNEED is not available.
func dropOthers(dir, keep string) error { return nil }
