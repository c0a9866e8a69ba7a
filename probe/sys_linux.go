package probe

import "golang.org/x/sys/unix"

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

// mlockLimit is RLIMIT_MEMLOCK; nil when unlimited or unknown.
func mlockLimit(o *Options) *uint64 {
	if o.Root != "" {
		return nil
	}
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &r); err != nil || r.Cur == unix.RLIM_INFINITY {
		return nil
	}
	v := r.Cur
	return &v
}
