package cluster

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrNoCgroup is returned when no writable memory cgroup hierarchy is
// available (not Linux, not root, or a cgroup v2 tree without the memory
// controller delegated).
var ErrNoCgroup = errors.New("cluster: no writable memory cgroup")

// Cgroup is a memory cgroup made for one server: the emulated host's RAM is
// its limit.
type Cgroup struct {
	Dir     string // the cgroup's directory
	Version int    // 1 or 2
	Limit   uint64
}

// CgroupRoot locates where new memory cgroups go. On cgroup v1 that is the
// process's own memory cgroup. On v2 a cgroup with processes cannot hand
// controllers to children ("no internal processes"), so they go beside the
// process's cgroup, in its parent, which already gives it the memory
// controller (or in the root, which is exempt). root is "/" on a live
// system, a fixture directory in tests.
func CgroupRoot(root string) (dir string, version int, err error) {
	data, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return "", 0, fmt.Errorf("%w: %v", ErrNoCgroup, err)
	}
	var v1, v2 string
	haveV2 := false
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2, haveV2 = parts[2], true
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "memory" {
				v1 = parts[2]
			}
		}
	}
	fs := filepath.Join(root, "sys/fs/cgroup")
	if mem := filepath.Join(fs, "memory"); v1 != "" && isDir(mem) {
		return existing(mem, v1), 1, nil
	}
	if haveV2 && isFile(filepath.Join(fs, "cgroup.controllers")) {
		d := existing(fs, v2)
		if d != fs {
			d = filepath.Dir(d)
		}
		if !strings.Contains(" "+readString(filepath.Join(d, "cgroup.controllers"))+" ", " memory ") {
			return "", 0, fmt.Errorf("%w: the memory controller is not available in %s", ErrNoCgroup, d)
		}
		return d, 2, nil
	}
	return "", 0, fmt.Errorf("%w: no cgroup v1 memory controller or cgroup v2 hierarchy under %s", ErrNoCgroup, fs)
}

func existing(mount, rel string) string {
	if p := filepath.Join(mount, rel); isDir(p) {
		return p
	}
	return mount
}

// NewCgroup makes the cgroup parent/name with a memory limit of limit bytes
// and no swap. On cgroup v2 the parent must hand the memory controller to
// its children (cgroup.subtree_control), which a cgroup that holds processes
// itself cannot: then it says so.
func NewCgroup(parent string, version int, name string, limit uint64) (*Cgroup, error) {
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("%w: %v", ErrNoCgroup, err)
	}
	g := &Cgroup{Dir: dir, Version: version, Limit: limit}
	lim := strconv.FormatUint(limit, 10)
	var err error
	switch version {
	case 1:
		err = write(filepath.Join(dir, "memory.limit_in_bytes"), lim)
		// The swap limit is memory plus swap; absent without swap accounting.
		if sw := filepath.Join(dir, "memory.memsw.limit_in_bytes"); err == nil && isFile(sw) {
			err = write(sw, lim)
		}
	case 2:
		if !strings.Contains(" "+readString(filepath.Join(parent, "cgroup.subtree_control"))+" ", " memory ") {
			if werr := write(filepath.Join(parent, "cgroup.subtree_control"), "+memory"); werr != nil {
				os.Remove(dir)
				return nil, fmt.Errorf("%w: cannot enable the memory controller for %s's children (a cgroup v2 with processes of its own cannot): %v", ErrNoCgroup, parent, werr)
			}
		}
		err = write(filepath.Join(dir, "memory.max"), lim)
		if sw := filepath.Join(dir, "memory.swap.max"); err == nil && isFile(sw) {
			err = write(sw, "0")
		}
	default:
		err = fmt.Errorf("cgroup version %d", version)
	}
	if err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("%w: %v", ErrNoCgroup, err)
	}
	return g, nil
}

// Memory is what a cgroup reports: its usage now, the most it used, and of
// that the anonymous memory and the page cache.
type Memory struct {
	CurrentBytes uint64 `json:"current_bytes"`
	PeakBytes    uint64 `json:"peak_bytes"`
	AnonBytes    uint64 `json:"anon_bytes"`
	FileBytes    uint64 `json:"file_bytes"`
}

// Memory reads the cgroup's counters (v1: memory.usage_in_bytes,
// memory.max_usage_in_bytes, rss/cache of memory.stat; v2: memory.current,
// memory.peak, anon/file).
func (g *Cgroup) Memory() (Memory, error) {
	var m Memory
	var ok1, ok2 bool
	stat := readKV(filepath.Join(g.Dir, "memory.stat"))
	if g.Version == 1 {
		m.CurrentBytes, ok1 = readUint(filepath.Join(g.Dir, "memory.usage_in_bytes"))
		m.PeakBytes, ok2 = readUint(filepath.Join(g.Dir, "memory.max_usage_in_bytes"))
		m.AnonBytes, m.FileBytes = stat["rss"]+stat["rss_huge"], stat["cache"]
	} else {
		m.CurrentBytes, ok1 = readUint(filepath.Join(g.Dir, "memory.current"))
		m.PeakBytes, ok2 = readUint(filepath.Join(g.Dir, "memory.peak")) // Linux 5.19+
		m.AnonBytes, m.FileBytes = stat["anon"], stat["file"]
	}
	if !ok1 {
		return m, fmt.Errorf("cluster: cgroup %s: no usage counter", g.Dir)
	}
	if !ok2 {
		m.PeakBytes = m.CurrentBytes
	}
	return m, nil
}

// OOMKilled reports whether the kernel killed a process of the cgroup for
// exceeding its limit.
func (g *Cgroup) OOMKilled() bool {
	if g.Version == 1 {
		return readKV(filepath.Join(g.Dir, "memory.oom_control"))["oom_kill"] > 0
	}
	return readKV(filepath.Join(g.Dir, "memory.events"))["oom_kill"] > 0
}

// Remove deletes the cgroup; its processes must have exited.
func (g *Cgroup) Remove() error {
	if err := os.Remove(g.Dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cluster: removing cgroup: %w", err)
	}
	return nil
}

func write(p, s string) error { return os.WriteFile(p, []byte(s), 0o644) }

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

func readKV(p string) map[string]uint64 {
	kv := map[string]uint64{}
	b, err := os.ReadFile(p)
	if err != nil {
		return kv
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			if v, err := strconv.ParseUint(f[1], 10, 64); err == nil {
				kv[f[0]] = v
			}
		}
	}
	return kv
}

func isDir(p string) bool  { st, err := os.Stat(p); return err == nil && st.IsDir() }
func isFile(p string) bool { st, err := os.Stat(p); return err == nil && st.Mode().IsRegular() }
