package launch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/modelfit/modelfit/internal/procgroup"
)

// cgroupRoot is where the cgroup filesystems are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// v1Unlimited: cgroup v1 reports "no limit" as a huge page-aligned number.
const v1Unlimited = 1 << 62

// CgroupOf returns the memory cgroup process pid is in.
func CgroupOf(pid int) (*Cgroup, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil, fmt.Errorf("launch: %w", err)
	}
	pg := procgroup.Parse(data)
	v1, haveV1 := pg.V1["memory"]
	v2, haveV2 := pg.V2, pg.HasV2
	switch {
	case haveV1 && isDir(filepath.Join(cgroupRoot, "memory")):
		dir := existing(filepath.Join(cgroupRoot, "memory"), v1)
		return &Cgroup{Version: 1, Dir: dir, Dirs: []string{dir}}, nil
	case haveV2 && strings.Contains(readString(filepath.Join(cgroupRoot, "cgroup.controllers")), "memory"):
		dir := existing(cgroupRoot, v2)
		return &Cgroup{Version: 2, Dir: dir, Dirs: []string{dir}}, nil
	}
	return nil, fmt.Errorf("launch: process %d is in no memory cgroup this process can read: %w", pid, ErrNoCgroup)
}

// existing is mount/rel, or mount itself when rel names the host's
// hierarchy that a container does not see.
func existing(mount, rel string) string {
	d := filepath.Join(mount, rel)
	if isDir(d) {
		return d
	}
	return mount
}

// NewCgroup makes a memory cgroup named name limited to limit bytes (0: no
// limit) for child processes: below this process's own (v1), or beside it
// where the parent delegates the memory controller (v2, which forbids
// processes in inner cgroups), else at the hierarchy's root. It needs the
// right to write there (root, or a delegated subtree). Remove it when the
// processes in it are gone.
func NewCgroup(name string, limit uint64) (*Cgroup, error) {
	self, err := CgroupOf(os.Getpid())
	if err != nil {
		return nil, err
	}
	c := &Cgroup{Version: self.Version, made: true}
	parent := self.Dir
	limitFile, limitValue := "memory.limit_in_bytes", strconv.FormatUint(limit, 10)
	if self.Version == 2 {
		parent = filepath.Dir(self.Dir)
		if !strings.Contains(readString(filepath.Join(parent, "cgroup.subtree_control")), "memory") {
			parent = cgroupRoot
		}
		limitFile = "memory.max"
	}
	if limit == 0 {
		limitValue = "max"
		if self.Version == 1 {
			limitValue = "-1"
		}
	}
	c.Dir = filepath.Join(parent, name)
	if err := os.Mkdir(c.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("launch: cgroup: %w", err)
	}
	c.Dirs = []string{c.Dir}
	if err := os.WriteFile(filepath.Join(c.Dir, limitFile), []byte(limitValue), 0); err != nil {
		c.Remove()
		return nil, fmt.Errorf("launch: cgroup %s: %w", c.Dir, err)
	}
	if self.Version == 1 {
		// Without swap accounting a v1 limit still lets the cgroup swap;
		// where memsw exists, hold memory+swap to the same limit so the
		// limit means what it says.
		if limit > 0 {
			os.WriteFile(filepath.Join(c.Dir, "memory.memsw.limit_in_bytes"), []byte(limitValue), 0)
		}
	} else if limit > 0 {
		os.WriteFile(filepath.Join(c.Dir, "memory.swap.max"), []byte("0"), 0)
	}
	return c, nil
}

// Remove deletes a cgroup NewCgroup made, waiting up to a second for its
// last processes to be gone. It does nothing for a cgroup it did not make.
func (c *Cgroup) Remove() error {
	if !c.made {
		return nil
	}
	var err error
	for i := 0; i < 50; i++ {
		err = nil
		for _, d := range c.Dirs {
			if e := os.Remove(d); e != nil && !os.IsNotExist(e) {
				err = e
			}
		}
		if err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("launch: %w", err)
}

// Usage is the memory charged to the cgroup now (anonymous memory and page
// cache), in bytes.
func (c *Cgroup) Usage() (uint64, error) {
	if c.Version == 2 {
		return readUint(filepath.Join(c.Dir, "memory.current"))
	}
	return readUint(filepath.Join(c.Dir, "memory.usage_in_bytes"))
}

// Peak is the highest usage the cgroup has had (0 where the kernel does not
// keep it: cgroup v2 before Linux 5.19).
func (c *Cgroup) Peak() (uint64, error) {
	if c.Version == 2 {
		v, err := readUint(filepath.Join(c.Dir, "memory.peak"))
		if errors.Is(err, os.ErrNotExist) {
			return 0, nil
		}
		return v, err
	}
	return readUint(filepath.Join(c.Dir, "memory.max_usage_in_bytes"))
}

// Limit is the cgroup's memory limit; ok is false when it has none.
func (c *Cgroup) Limit() (limit uint64, ok bool, err error) {
	if c.Version == 2 {
		s := readString(filepath.Join(c.Dir, "memory.max"))
		if s == "max" {
			return 0, false, nil
		}
		v, err := strconv.ParseUint(s, 10, 64)
		return v, err == nil, err
	}
	v, err := readUint(filepath.Join(c.Dir, "memory.limit_in_bytes"))
	return v, err == nil && v < v1Unlimited, err
}

// OOMKills is how many processes the OOM killer has killed in the cgroup.
func (c *Cgroup) OOMKills() (uint64, error) { return oomKillsIn(c.Dir) }

// Stat is the cgroup's memory.stat (v1 names such as "rss", "cache",
// "mapped_file"; v2 names such as "anon", "file", "file_mapped").
func (c *Cgroup) Stat() (map[string]uint64, error) {
	return readKV(filepath.Join(c.Dir, "memory.stat"))
}

// oomKillsIn reads the oom_kill counter of the memory cgroup directory dir
// (memory.oom_control in v1, memory.events in v2; Linux 4.13+).
func oomKillsIn(dir string) (uint64, error) {
	if dir == "" {
		return 0, ErrNoCgroup
	}
	for _, f := range []string{"memory.events", "memory.oom_control"} {
		kv, err := readKV(filepath.Join(dir, f))
		if err != nil {
			continue
		}
		if v, ok := kv["oom_kill"]; ok {
			return v, nil
		}
	}
	return 0, fmt.Errorf("launch: %s: no oom_kill counter", dir)
}

// systemOOMKills is the system's count of OOM kills (/proc/vmstat), which
// includes those of every memory cgroup.
func systemOOMKills() uint64 {
	kv, _ := readKV("/proc/vmstat")
	return kv["oom_kill"]
}

// memoryDirOf picks the memory controller's directory among cgroup dirs.
func memoryDirOf(dirs []string) string {
	for _, d := range dirs {
		for _, f := range []string{"memory.events", "memory.oom_control"} {
			if _, err := os.Stat(filepath.Join(d, f)); err == nil {
				return d
			}
		}
	}
	return ""
}

func readUint(p string) (uint64, error) {
	s := readString(p)
	if s == "" {
		if _, err := os.Stat(p); err != nil {
			return 0, fmt.Errorf("launch: %w", err)
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("launch: %s: %w", p, err)
	}
	return v, nil
}

func readString(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// readKV reads "key value" lines.
func readKV(p string) (map[string]uint64, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			out[k] = n
		}
	}
	return out, nil
}

func isDir(p string) bool { st, err := os.Stat(p); return err == nil && st.IsDir() }
