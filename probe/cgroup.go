package probe

import (
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/modelfit/modelfit/internal/procgroup"
)

// v1Unlimited: cgroup v1 reports "no limit" as a huge page-aligned number
// (9223372036854771712 on 4 KiB pages); anything this large is no limit.
const v1Unlimited = 1 << 62

// cgroupDirs locates the process's memory and cpu cgroup directories.
type cgroupDirs struct {
	version  int    // 1 or 2, 0 when no cgroup filesystem is mounted
	memMount string // mount point of the memory hierarchy
	memDir   string // the process's memory cgroup directory
	cpuMount string
	cpuDir   string
}

// findCgroups reads /proc/self/cgroup and the mounts under /sys/fs/cgroup.
// In a container the path in /proc/self/cgroup may name the host's
// hierarchy while the container sees its own cgroup at the mount root; a
// path that does not exist falls back to the root.
func findCgroups(o *Options) cgroupDirs {
	var d cgroupDirs
	data, err := os.ReadFile(o.path("/proc/self/cgroup"))
	if err != nil && o.CgroupPath == "" {
		return d
	}
	pg := procgroup.Parse(data)
	v1mem, v1cpu, v2, haveV2 := pg.V1["memory"], pg.V1["cpu"], pg.V2, pg.HasV2
	if o.CgroupPath != "" {
		v1mem, v1cpu, v2, haveV2 = o.CgroupPath, o.CgroupPath, o.CgroupPath, true
	}
	root := o.path("/sys/fs/cgroup")
	if isFile(path.Join(root, "cgroup.controllers")) && haveV2 {
		d.version = 2
		d.memMount, d.cpuMount = root, root
		d.memDir = existingDir(root, v2)
		d.cpuDir = d.memDir
		return d
	}
	if isDir(path.Join(root, "memory")) {
		d.version = 1
		d.memMount = path.Join(root, "memory")
		d.memDir = existingDir(d.memMount, v1mem)
		for _, name := range []string{"cpu", "cpu,cpuacct", "cpuacct,cpu"} {
			if m := path.Join(root, name); isDir(m) {
				d.cpuMount = m
				d.cpuDir = existingDir(m, v1cpu)
				break
			}
		}
	}
	return d
}

func existingDir(mount, rel string) string {
	if rel != "" {
		if p := path.Join(mount, rel); isDir(p) {
			return p
		}
	}
	return mount
}

// readCgroupMemory applies the cgroup memory limits on the path from the
// process's cgroup to the root. At each level with a limit, what is left is
// limit − usage + the level's reclaimable file cache (the page cache is not
// "used" memory: Ollama's mistake in ollama/ollama#15474); the tightest level
// binds. A level whose usage cannot be read (a container sees only its own
// cgroup) is charged at least the usage of the levels below it.
func readCgroupMemory(d cgroupDirs, m *Memory) {
	if d.version == 0 {
		return
	}
	m.CgroupVersion = d.version
	var usage, cache, bestLeft uint64
	found := false
	for dir := d.memDir; ; dir = path.Dir(dir) {
		u, c := cgroupUsage(d.version, dir)
		usage, cache = max(usage, u), max(cache, c)
		if limit, ok := cgroupLimit(d.version, dir); ok {
			left := cache
			if limit > usage {
				left += limit - usage
			}
			left = min(left, limit)
			if !found || left < bestLeft {
				found, bestLeft = true, left
				m.CgroupLimitBytes = &limit
				m.CgroupUsageBytes, m.CgroupCacheBytes = usage, cache
			}
		}
		if dir == d.memMount || len(dir) <= len(d.memMount) {
			break
		}
	}
	if found && bestLeft < m.EffectiveAvailableBytes {
		m.EffectiveAvailableBytes = bestLeft
		m.LimitSource = "cgroup v" + strconv.Itoa(d.version)
	}
}

// cgroupLimit reads a level's memory limit; false when there is none.
func cgroupLimit(version int, dir string) (uint64, bool) {
	if version == 2 {
		return readLimitV2(path.Join(dir, "memory.max"))
	}
	v, ok := readUint(path.Join(dir, "memory.limit_in_bytes"))
	return v, ok && v < v1Unlimited
}

// cgroupUsage reads a level's memory usage and the reclaimable file cache
// charged to it (v1's total_* counters include descendants; v2's always do).
func cgroupUsage(version int, dir string) (usage, cache uint64) {
	stat := readKV(path.Join(dir, "memory.stat"))
	if version == 2 {
		usage, _ = readUint(path.Join(dir, "memory.current"))
		return usage, stat["active_file"] + stat["inactive_file"]
	}
	usage, _ = readUint(path.Join(dir, "memory.usage_in_bytes"))
	if _, ok := stat["total_active_file"]; ok {
		return usage, stat["total_active_file"] + stat["total_inactive_file"]
	}
	return usage, stat["active_file"] + stat["inactive_file"]
}

// cgroupCPUQuota returns the CPU quota in cores (0 when none).
func cgroupCPUQuota(d cgroupDirs) (float64, string) {
	if d.cpuDir == "" {
		return 0, ""
	}
	best := 0.0
	for dir := d.cpuDir; ; dir = path.Dir(dir) {
		var q float64
		if d.version == 2 {
			if f := strings.Fields(readString(path.Join(dir, "cpu.max"))); len(f) == 2 && f[0] != "max" {
				quota, err1 := strconv.ParseFloat(f[0], 64)
				period, err2 := strconv.ParseFloat(f[1], 64)
				if err1 == nil && err2 == nil && period > 0 {
					q = quota / period
				}
			}
		} else {
			quota, err1 := strconv.ParseInt(readString(path.Join(dir, "cpu.cfs_quota_us")), 10, 64)
			period, err2 := strconv.ParseInt(readString(path.Join(dir, "cpu.cfs_period_us")), 10, 64)
			if err1 == nil && err2 == nil && quota > 0 && period > 0 {
				q = float64(quota) / float64(period)
			}
		}
		if q > 0 && (best == 0 || q < best) {
			best = q
		}
		if dir == d.cpuMount || len(dir) <= len(d.cpuMount) {
			break
		}
	}
	if best == 0 {
		return 0, ""
	}
	return best, "cgroup v" + strconv.Itoa(d.version)
}

func readLimitV2(p string) (uint64, bool) {
	s := readString(p)
	if s == "" || s == "max" {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

func readUint(p string) (uint64, bool) {
	v, err := strconv.ParseUint(readString(p), 10, 64)
	return v, err == nil
}

func readString(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// readKV reads a "key value" per line file such as memory.stat.
func readKV(p string) map[string]uint64 {
	kv := map[string]uint64{}
	b, err := os.ReadFile(p)
	if err != nil {
		return kv
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 {
			if v, err := strconv.ParseUint(f[1], 10, 64); err == nil {
				kv[f[0]] = v
			}
		}
	}
	return kv
}

func isDir(p string) bool  { st, err := os.Stat(p); return err == nil && st.IsDir() }
func isFile(p string) bool { st, err := os.Stat(p); return err == nil && st.Mode().IsRegular() }
