//go:build !unix

package planner

func cpuSeconds() float64 { return 0 }
