//go:build unix

package exec

import (
	"runtime"
	"syscall"
)

func readUsage() usage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return usage{}
	}
	rss := uint64(ru.Maxrss)
	if runtime.GOOS != "darwin" {
		rss *= 1024 // KiB everywhere but macOS
	}
	return usage{maxRSS: rss, major: int64(ru.Majflt), minor: int64(ru.Minflt)}
}
