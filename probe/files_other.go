//go:build !linux

package probe

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/shirou/gopsutil/v4/disk"
)

// FileResidency reports each file's size and filesystem (through
// gopsutil's mount table); page-cache residency and the device type need
// Linux and are left unknown.
func FileResidency(paths ...string) ([]FileInfo, error) {
	out := make([]FileInfo, 0, len(paths))
	parts, _ := disk.Partitions(false)
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("probe: %w", err)
		}
		fi := FileInfo{Path: p, SizeBytes: st.Size(), ResidencyNote: ErrNotSupported.Error()}
		if abs, err := filepath.Abs(p); err == nil {
			fi.Filesystem = mountFS(abs, parts)
		}
		out = append(out, fi)
	}
	return out, nil
}

// mountFS returns the filesystem type of the longest mount point holding
// path, lower-cased as Linux names them ("apfs", "ntfs", "zfs", "nfs").
func mountFS(path string, parts []disk.PartitionStat) string {
	best, fs := -1, ""
	for _, pt := range parts {
		mp := pt.Mountpoint
		if (path == mp || strings.HasPrefix(path, strings.TrimSuffix(mp, string(filepath.Separator))+string(filepath.Separator)) ||
			strings.EqualFold(filepath.VolumeName(path), strings.TrimSuffix(mp, `\`))) && len(mp) > best {
			best, fs = len(mp), strings.ToLower(pt.Fstype)
		}
	}
	return fs
}
