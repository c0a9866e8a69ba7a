//go:build !linux

package probe

func affinityCount(o *Options) int  { return 0 }
func mlockLimit(o *Options) *uint64 { return nil }
