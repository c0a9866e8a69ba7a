//go:build !(linux && cgo)

package measure

import "fmt"

// OpenNVML opens NVIDIA's management library: only on Linux with cgo.
func OpenNVML() (GPUs, error) {
	return nil, fmt.Errorf("measure: NVML: %w (needs Linux and cgo)", ErrNotSupported)
}
