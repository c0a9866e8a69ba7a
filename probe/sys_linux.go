package probe

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// affinityCount is the number of CPUs this process may run on; 0 when the
// probe reads fixtures (Root set) or the call fails.
func affinityCount(o *Options) int {
	if o.Root != "" {
		return 0
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return 0
	}
	return set.Count()
}

// mlockLimit is RLIMIT_MEMLOCK; nil when unlimited or unknown, or when the
// process has CAP_IPC_LOCK (as root normally does), which exempts it.
func mlockLimit(o *Options) *uint64 {
	if o.Root != "" || hasCapIPCLock() {
		return nil
	}
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &r); err != nil || r.Cur == unix.RLIM_INFINITY {
		return nil
	}
	v := r.Cur
	return &v
}

// capIPCLock is CAP_IPC_LOCK's bit in the capability sets.
const capIPCLock = 14

// hasCapIPCLock reads the effective capabilities from /proc/self/status.
func hasCapIPCLock() bool {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			return err == nil && caps&(1<<capIPCLock) != 0
		}
	}
	return false
}
