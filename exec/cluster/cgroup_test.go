package cluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/planner"
)

// fixture writes files under a fake root.
func fixture(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestCgroupV2(t *testing.T) {
	root := fixture(t, map[string]string{
		"proc/self/cgroup":                                 "0::/user.slice/test\n",
		"sys/fs/cgroup/cgroup.controllers":                 "cpu memory pids\n",
		"sys/fs/cgroup/user.slice/cgroup.controllers":      "cpu memory pids\n",
		"sys/fs/cgroup/user.slice/cgroup.subtree_control":  "",
		"sys/fs/cgroup/user.slice/test/cgroup.controllers": "cpu memory pids\n",
	})
	// Beside the process's own cgroup: that one holds a process, so it
	// cannot have children with controllers.
	dir, v, err := CgroupRoot(root)
	if err != nil || v != 2 || dir != filepath.Join(root, "sys/fs/cgroup/user.slice") {
		t.Fatalf("CgroupRoot = %s, %d, %v", dir, v, err)
	}
	g, err := NewCgroup(dir, v, "h1", 500<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got := readString(filepath.Join(g.Dir, "memory.max")); got != "524288000" {
		t.Errorf("memory.max %q", got)
	}
	if got := readString(filepath.Join(dir, "cgroup.subtree_control")); got != "+memory" {
		t.Errorf("subtree_control %q: the memory controller was not handed to the children", got)
	}
	// What the kernel would report.
	os.WriteFile(filepath.Join(g.Dir, "memory.current"), []byte("473000000\n"), 0o644)
	os.WriteFile(filepath.Join(g.Dir, "memory.peak"), []byte("480000000\n"), 0o644)
	os.WriteFile(filepath.Join(g.Dir, "memory.stat"), []byte("anon 470000000\nfile 3000000\n"), 0o644)
	os.WriteFile(filepath.Join(g.Dir, "memory.events"), []byte("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n"), 0o644)
	m, err := g.Memory()
	if err != nil || m != (Memory{CurrentBytes: 473000000, PeakBytes: 480000000, AnonBytes: 470000000, FileBytes: 3000000}) {
		t.Errorf("Memory = %+v, %v", m, err)
	}
	if !g.OOMKilled() {
		t.Error("oom_kill 1 not seen")
	}
	// A kernel without memory.peak: the current usage stands in.
	os.Remove(filepath.Join(g.Dir, "memory.peak"))
	if m, _ := g.Memory(); m.PeakBytes != m.CurrentBytes {
		t.Errorf("peak %d without memory.peak", m.PeakBytes)
	}
}

func TestCgroupV1(t *testing.T) {
	root := fixture(t, map[string]string{
		"proc/self/cgroup": "9:name=systemd:/\n4:memory:/job/42\n3:cpuset:/\n0::/\n",
		"sys/fs/cgroup/memory/job/42/memory.limit_in_bytes": "9223372036854771712\n",
		"sys/fs/cgroup/unified/cgroup.controllers":          "",
	})
	dir, v, err := CgroupRoot(root)
	if err != nil || v != 1 || dir != filepath.Join(root, "sys/fs/cgroup/memory/job/42") {
		t.Fatalf("CgroupRoot = %s, %d, %v", dir, v, err)
	}
	g, err := NewCgroup(dir, v, "h1", 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if got := readString(filepath.Join(g.Dir, "memory.limit_in_bytes")); got != "1073741824" {
		t.Errorf("limit %q", got)
	}
	os.WriteFile(filepath.Join(g.Dir, "memory.usage_in_bytes"), []byte("100\n"), 0o644)
	os.WriteFile(filepath.Join(g.Dir, "memory.max_usage_in_bytes"), []byte("200\n"), 0o644)
	os.WriteFile(filepath.Join(g.Dir, "memory.stat"), []byte("cache 10\nrss 80\nrss_huge 8\n"), 0o644)
	if m, err := g.Memory(); err != nil || m != (Memory{CurrentBytes: 100, PeakBytes: 200, AnonBytes: 88, FileBytes: 10}) {
		t.Errorf("Memory = %+v, %v", m, err)
	}
	for _, f := range []string{"memory.limit_in_bytes", "memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.stat"} {
		os.Remove(filepath.Join(g.Dir, f))
	}
	if err := g.Remove(); err != nil {
		t.Error(err)
	}
}

func TestCgroupMissing(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"no proc":           {},
		"no hierarchy":      {"proc/self/cgroup": "0::/\n"},
		"v2 without memory": {"proc/self/cgroup": "0::/\n", "sys/fs/cgroup/cgroup.controllers": "cpu pids\n"},
	} {
		if _, _, err := CgroupRoot(fixture(t, files)); !errors.Is(err, ErrNoCgroup) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Start binds loopback addresses only: a host elsewhere gets its command
// printed, not started.
func TestStartRefuses(t *testing.T) {
	p := &planner.Plan{Hosts: []planner.PlanHost{{Name: "head", Role: "head", Used: true},
		{Name: "node2", Role: "rpc", Used: true, Address: "10.0.0.2:50052", Command: []string{"ggml-rpc-server", "-H", "10.0.0.2", "-p", "50052"}}}}
	if _, err := Start(context.Background(), p, Options{Bin: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("non-loopback host: %v", err)
	}
	if _, err := Start(context.Background(), &planner.Plan{}, Options{}); err == nil {
		t.Error("a plan without hosts started")
	}
}

// llama-server's buffer reports, as build 10587 prints them with -lv 4.
func TestParseBuffers(t *testing.T) {
	log := `0.00.540.357 I load_tensors:   CPU_Mapped model buffer size =     1.06 MiB
0.00.540.374 I load_tensors: RPC0[127.0.0.1:50021] model buffer size =   431.48 MiB
0.00.540.389 I load_tensors: RPC0[127.0.0.1:50022] model buffer size =   431.48 MiB
0.00.540.390 I load_tensors: RPC1[127.0.0.1:50022] model buffer size =    10.00 MiB
0.30.660.690 I llama_kv_cache: RPC0[127.0.0.1:50021] KV buffer size =     7.00 MiB
0.30.971.592 I sched_reserve: RPC0[127.0.0.1:50021] compute buffer size =    50.00 MiB
0.30.971.592 I sched_reserve: RPC0[127.0.0.1:50021] compute buffer size =    60.51 MiB
0.30.971.682 I sched_reserve:        CPU compute buffer size =     8.51 MiB
`
	got := parseBuffers(log)
	mib := func(x float64) uint64 { return uint64(x * (1 << 20)) }
	want := map[string]Buffers{
		"127.0.0.1:50021": {ModelBytes: mib(431.48), KVBytes: mib(7), ComputeBytes: mib(60.51)},
		"127.0.0.1:50022": {ModelBytes: mib(431.48) + mib(10)},
	}
	if len(got) != len(want) || got["127.0.0.1:50021"] != want["127.0.0.1:50021"] || got["127.0.0.1:50022"] != want["127.0.0.1:50022"] {
		t.Errorf("parseBuffers = %+v, want %+v", got, want)
	}
}
