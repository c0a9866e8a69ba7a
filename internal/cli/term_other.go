//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly

package cli

// isTerminal reports whether fd is a terminal; where it cannot be asked,
// no: progress is only drawn where it surely shows.
func isTerminal(fd uintptr) bool { return false }
