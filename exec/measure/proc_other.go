//go:build !linux

package measure

import "fmt"

// Process reads pid's memory: only on Linux, which has /proc.
func Process(pid int, files ...string) (Memory, error) {
	return Memory{PID: pid}, fmt.Errorf("measure: process memory: %w", ErrNotSupported)
}
