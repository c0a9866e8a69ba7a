//go:build !linux

package probe

import (
	"fmt"
	"os"
)

// FileResidency reports each file's size; residency, filesystem and device
// type need Linux and are left unknown.
func FileResidency(paths ...string) ([]FileInfo, error) {
	out := make([]FileInfo, 0, len(paths))
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("probe: %w", err)
		}
		out = append(out, FileInfo{Path: p, SizeBytes: st.Size(), ResidencyNote: ErrNotSupported.Error()})
	}
	return out, nil
}
