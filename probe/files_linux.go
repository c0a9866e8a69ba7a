package probe

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/modelfit/modelfit/internal/pagecache"
)

// fsMagic names the filesystems whose read behaviour the planner cares about
// (statfs f_type values from linux/magic.h).
var fsMagic = map[int64]string{
	0xef53: "ext4", 0x58465342: "xfs", 0x9123683e: "btrfs", 0x01021994: "tmpfs", 0x794c7630: "overlay",
	0x6969: "nfs", 0xff534d42: "cifs", 0xfe534d42: "smb2", 0x65735546: "fuse", 0x2fc12fc1: "zfs",
	0x858458f6: "ramfs", 0x9fa0: "proc", 0x62656572: "sysfs", 0x73717368: "squashfs", 0x4d44: "vfat",
	0x5346544e: "ntfs", 0x2011bab0: "exfat", 0xf2f52010: "f2fs", 0x6e736673: "nsfs",
	0xca451a4e: "bcachefs", 0x47504653: "gpfs", 0x0bd00bd0: "lustre", 0x00c36400: "ceph",
}

// FileResidency reports each file's size, how much of it is already in the
// page cache (without reading it), its filesystem and whether the backing
// device is rotational.
func FileResidency(paths ...string) ([]FileInfo, error) {
	out := make([]FileInfo, 0, len(paths))
	for _, p := range paths {
		fi, err := fileInfo(p)
		if err != nil {
			return nil, err
		}
		out = append(out, fi)
	}
	return out, nil
}

func fileInfo(p string) (FileInfo, error) {
	f, err := os.Open(p)
	if err != nil {
		return FileInfo{}, fmt.Errorf("probe: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return FileInfo{}, fmt.Errorf("probe: %w", err)
	}
	info := FileInfo{Path: p, SizeBytes: st.Size()}
	if abs, err := filepath.Abs(p); err == nil {
		info.Path = abs
	}
	r, err := pagecache.Resident(f, 0, st.Size())
	switch {
	case err != nil:
		info.ResidencyNote = err.Error()
	case r.Known:
		b := r.Bytes
		info.ResidentBytes = &b
		info.Method = r.Method
	default:
		info.Method, info.ResidencyNote = r.Method, r.Note
	}
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &sfs); err == nil {
		name, ok := fsMagic[int64(uint32(sfs.Type))]
		if !ok {
			name = fmt.Sprintf("0x%x", uint32(sfs.Type))
		}
		info.Filesystem = name
	}
	var ust unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &ust); err == nil {
		info.Rotational = rotational(unix.Major(ust.Dev), unix.Minor(ust.Dev))
	}
	return info, nil
}

// rotational reads queue/rotational of the block device (or, for a
// partition, of its parent disk); nil for filesystems without one, and for
// paravirtual disks (virtio vd*, Xen xvd*), which report 1 whatever the
// storage behind them is.
func rotational(major, minor uint32) *bool {
	dev := "/sys/dev/block/" + strconv.Itoa(int(major)) + ":" + strconv.Itoa(int(minor))
	if target, err := filepath.EvalSymlinks(dev); err == nil {
		name := filepath.Base(target)
		if strings.HasPrefix(name, "vd") || strings.HasPrefix(name, "xvd") {
			return nil
		}
	}
	for _, p := range []string{dev + "/queue/rotational", dev + "/../queue/rotational"} {
		if s := readString(p); s == "0" || s == "1" {
			v := s == "1"
			return &v
		}
	}
	return nil
}
