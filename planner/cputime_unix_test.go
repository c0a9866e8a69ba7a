//go:build unix

package planner

import "syscall"

// cpuSeconds is the CPU time this process has used (user and system): the
// benchmarks report it per operation next to the wall time, which a busy
// machine inflates.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
