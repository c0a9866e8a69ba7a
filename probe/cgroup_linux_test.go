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
// into a new memory cgroup limited to 512 MiB and checks that the probe in
// there reports that limit as the effective bound.
func TestCgroupLimitReal(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot create a memory cgroup")
	}
	const limit = 512 << 20
	dir, version, err := makeMemoryCgroup(limit)
	if err != nil {
		t.Skipf("cannot create a memory cgroup here: %v", err)
	}
	defer os.Remove(dir)
	// The shell moves itself into the cgroup, then becomes the test binary.
	cmd := exec.Command("/bin/sh", "-c", `echo $$ > "$1/cgroup.procs" && exec "$2" -test.run='^TestCgroupChild$'`, "sh", dir, os.Args[0])
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
	var m Memory
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatal(err)
	}
	if m.CgroupLimitBytes == nil || *m.CgroupLimitBytes != limit {
		t.Fatalf("child sees limit %v, want %d", deref(m.CgroupLimitBytes), limit)
	}
	if m.EffectiveAvailableBytes > limit || m.EffectiveAvailableBytes < limit/2 || m.LimitSource != fmt.Sprintf("cgroup v%d", version) {
		t.Errorf("effective %d bytes from %q; want at most the 512 MiB limit, from cgroup v%d", m.EffectiveAvailableBytes, m.LimitSource, version)
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
	b, _ := json.Marshal(s.Memory)
	fmt.Printf("SNAPSHOT %s\n", b)
}

// makeMemoryCgroup creates a child of this process's memory cgroup (v2 or v1)
// with the given limit.
func makeMemoryCgroup(limit uint64) (string, int, error) {
	o := &Options{}
	d := findCgroups(o)
	name := fmt.Sprintf("modelfit-probe-test-%d", os.Getpid())
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
		if err := os.Mkdir(dir, 0o755); err != nil {
			return "", 0, err
		}
		if err := os.WriteFile(filepath.Join(dir, "memory.max"), []byte(fmt.Sprint(limit)), 0o644); err != nil {
			os.Remove(dir)
			return "", 0, err
		}
		return dir, 2, nil
	case 1:
		dir := filepath.Join(d.memDir, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return "", 0, err
		}
		if err := os.WriteFile(filepath.Join(dir, "memory.limit_in_bytes"), []byte(fmt.Sprint(limit)), 0o644); err != nil {
			os.Remove(dir)
			return "", 0, err
		}
		return dir, 1, nil
	}
	return "", 0, fmt.Errorf("no cgroup memory hierarchy mounted")
}
