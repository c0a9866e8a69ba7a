package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const childEnv = "MODELFIT_PROBE_CGROUP_CHILD"

// TestCgroupLimitReal puts a child process (this test binary, re-executed)
// into a new memory cgroup limited to 512 MiB, and where it can a CPU
// cgroup with a half-core quota, and checks that the probe in there reports
// that limit as the effective bound and the quota as the usable cores.
func TestCgroupLimitReal(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot create a memory cgroup")
	}
	const limit = 512 << 20
	cg, err := makeCgroups(limit)
	if err != nil {
		t.Skipf("cannot create a memory cgroup here: %v", err)
	}
	defer cg.remove()
	// The shell moves itself into the cgroups, then becomes the test binary.
	script := ""
	for _, d := range cg.dirs {
		script += `echo $$ > "` + d + `/cgroup.procs" && `
	}
	cmd := exec.Command("/bin/sh", "-c", script+`exec "$1" -test.run='^TestCgroupChild$'`, "sh", os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s%s", err, out, stderr.String())
	}
	_, js, ok := strings.Cut(string(out), "SNAPSHOT ")
	if !ok {
		t.Fatalf("child printed no snapshot:\n%s", out)
	}
	js, _, _ = strings.Cut(js, "\n")
	var s Snapshot
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		t.Fatal(err)
	}
	m := s.Memory
	if m.CgroupLimitBytes == nil || *m.CgroupLimitBytes != limit {
		t.Fatalf("child sees limit %v, want %d", deref(m.CgroupLimitBytes), limit)
	}
	if m.EffectiveAvailableBytes > limit || m.EffectiveAvailableBytes < limit/2 || m.LimitSource != fmt.Sprintf("cgroup v%d", cg.version) {
		t.Errorf("effective %d bytes from %q; want at most the 512 MiB limit, from cgroup v%d", m.EffectiveAvailableBytes, m.LimitSource, cg.version)
	}
	t.Logf("in the cgroup: limit %d, usage %d, reclaimable %d, effective %d (%s); %g usable cores (%s)",
		*m.CgroupLimitBytes, m.CgroupUsageBytes, m.CgroupCacheBytes, m.EffectiveAvailableBytes, m.LimitSource, s.CPU.UsableCores, s.CPU.QuotaSource)
	if cg.cpu && (s.CPU.UsableCores != 0.5 || s.CPU.QuotaSource != m.LimitSource) {
		t.Errorf("child has %g usable cores from %q, want the 0.5-core quota", s.CPU.UsableCores, s.CPU.QuotaSource)
	}
}

// TestCgroupChild is the process TestCgroupLimitReal starts inside the cgroup.
func TestCgroupChild(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		t.Skip("runs only as TestCgroupLimitReal's child process")
	}
	s, err := Probe(context.Background(), Options{NoGPU: true})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(s)
	fmt.Printf("SNAPSHOT %s\n", b)
}

// testCgroups are the cgroups made for the child.
type testCgroups struct {
	version int
	dirs    []string // to join, and to remove afterwards
	cpu     bool     // a 0.5-core quota is set
}

func (c *testCgroups) remove() {
	for _, d := range c.dirs {
		os.Remove(d)
	}
}

// makeCgroups creates cgroups next to (v2) or below (v1) this process's,
// with the given memory limit and a half-core CPU quota where it can.
func makeCgroups(limit uint64) (*testCgroups, error) {
	d := findCgroups(&Options{})
	name := fmt.Sprintf("modelfit-probe-test-%d", os.Getpid())
	c := &testCgroups{version: d.version}
	mk := func(dir, file, value string) error {
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		c.dirs = append(c.dirs, dir)
		return os.WriteFile(filepath.Join(dir, file), []byte(value), 0o644)
	}
	switch d.version {
	case 2:
		// A v2 child can only get a memory limit where the parent delegates
		// the memory controller; creating it next to us needs no change to
		// our own cgroup (which may not have children and processes at once).
		parent := filepath.Dir(d.memDir)
		if !strings.Contains(readString(filepath.Join(parent, "cgroup.subtree_control")), "memory") {
			parent = d.memMount
		}
		dir := filepath.Join(parent, name)
		if err := mk(dir, "memory.max", fmt.Sprint(limit)); err != nil {
			c.remove()
			return nil, err
		}
		if strings.Contains(readString(filepath.Join(parent, "cgroup.subtree_control")), "cpu") {
			c.cpu = os.WriteFile(filepath.Join(dir, "cpu.max"), []byte("50000 100000"), 0o644) == nil
		}
		return c, nil
	case 1:
		if err := mk(filepath.Join(d.memDir, name), "memory.limit_in_bytes", fmt.Sprint(limit)); err != nil {
			c.remove()
			return nil, err
		}
		if d.cpuDir != "" {
			cpu := filepath.Join(d.cpuDir, name)
			if err := mk(cpu, "cpu.cfs_quota_us", "50000"); err == nil {
				c.cpu = readString(filepath.Join(cpu, "cpu.cfs_period_us")) == "100000"
			} else if len(c.dirs) > 1 {
				os.Remove(cpu)
				c.dirs = c.dirs[:1]
			}
		}
		return c, nil
	}
	return nil, fmt.Errorf("no cgroup memory hierarchy mounted")
}
