package cluster

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/exec/launch"
	"github.com/modelfit/modelfit/exec/llamaserver"
	"github.com/modelfit/modelfit/planner"
)

// fixture writes files into a directory standing in for a cgroup's.
func fixture(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A server's cgroup memory as each cgroup version reports it.
func TestCgroupMemory(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version int
		files   map[string]string
		want    Memory
	}{
		{"v2", 2, map[string]string{"memory.current": "473000000\n", "memory.peak": "480000000\n",
			"memory.stat": "anon 470000000\nfile 3000000\nfile_mapped 0\n"},
			Memory{CurrentBytes: 473000000, PeakBytes: 480000000, AnonBytes: 470000000, FileBytes: 3000000}},
		// Linux before 5.19 keeps no peak: the usage now stands in.
		{"v2 without memory.peak", 2, map[string]string{"memory.current": "473000000\n", "memory.stat": "anon 470000000\nfile 3000000\n"},
			Memory{CurrentBytes: 473000000, PeakBytes: 473000000, AnonBytes: 470000000, FileBytes: 3000000}},
		// rss already counts the huge pages that rss_huge shows apart.
		{"v1", 1, map[string]string{"memory.usage_in_bytes": "100\n", "memory.max_usage_in_bytes": "200\n",
			"memory.stat": "cache 10\nrss 80\nrss_huge 8\nmapped_file 2\n"},
			Memory{CurrentBytes: 100, PeakBytes: 200, AnonBytes: 80, FileBytes: 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := fixture(t, tc.files)
			m, err := cgroupMemory(&launch.Cgroup{Version: tc.version, Dir: dir, Dirs: []string{dir}})
			if err != nil || m != tc.want {
				t.Errorf("cgroupMemory = %+v, %v; want %+v", m, err, tc.want)
			}
		})
	}
	if _, err := cgroupMemory(&launch.Cgroup{Version: 2, Dir: t.TempDir()}); err == nil {
		t.Error("a cgroup without counters was read")
	}
}

// Start binds free loopback addresses only (a host elsewhere gets its
// command printed, not started), and checks the plan and the programs
// before it starts anything.
func TestStartRefuses(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	free, err := launch.FreePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	plan := func(addr string, fits, data bool) *planner.Plan {
		return &planner.Plan{Fits: fits, Model: planner.ModelInfo{Path: "m.gguf", DataPresent: data},
			Hosts: []planner.PlanHost{{Name: "head", Role: "head", Used: true},
				{Name: "node2", Role: "rpc", Used: true, Address: addr, Command: []string{"ggml-rpc-server", "-p", "50052"}}}}
	}
	at := "127.0.0.1:" + strconv.Itoa(free)
	for _, tc := range []struct {
		name string
		plan *planner.Plan
		want string
	}{
		{"no hosts", &planner.Plan{}, "no hosts"},
		{"not loopback", plan("10.0.0.2:50052", true, true), "loopback addresses only"},
		{"port taken", plan(taken.Addr().String(), true, true), "is not free"},
		{"no fit", plan(at, false, true), "does not fit"},
		{"header only", plan(at, true, false), "lacks tensor data"},
		{"no programs", plan(at, true, true), "ggml-rpc-server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Start(context.Background(), tc.plan, Options{Bin: t.TempDir()})
			if err == nil || c != nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Start = %v, %v; want an error with %q", c, err, tc.want)
			}
		})
	}
}

// llama-server's buffer reports, as build 10587 prints them with -lv 4:
// each server's devices by address, the head's own apart.
func TestHostBuffers(t *testing.T) {
	log := `0.00.379.449 I load_tensors:   CPU_Mapped model buffer size =     1.06 MiB
0.00.379.452 I load_tensors: RPC0[127.0.0.1:33413] model buffer size =   431.48 MiB
0.00.379.453 I load_tensors: RPC0[127.0.0.1:37577] model buffer size =   124.35 MiB
0.00.379.454 I load_tensors: RPC1[127.0.0.1:37577] model buffer size =    10.00 MiB
0.21.586.065 I llama_context:        CPU  output buffer size =     0.00 MiB
0.21.602.820 I llama_kv_cache: RPC0[127.0.0.1:33413] KV buffer size =     7.00 MiB
0.21.610.208 I llama_kv_cache: RPC0[127.0.0.1:37577] KV buffer size =     2.00 MiB
0.21.635.412 I sched_reserve: RPC0[127.0.0.1:33413] compute buffer size =    15.13 MiB
0.21.635.547 I sched_reserve: RPC0[127.0.0.1:37577] compute buffer size =    15.13 MiB
0.21.635.580 I sched_reserve:        CPU compute buffer size =     2.13 MiB
`
	got := hostBuffers(llamaserver.ParseBuffers(log))
	mib := func(x float64) uint64 { return uint64(x * (1 << 20)) }
	want := map[string]Buffers{
		"127.0.0.1:33413": {ModelBytes: mib(431.48), KVBytes: mib(7), ComputeBytes: mib(15.13)},
		"127.0.0.1:37577": {ModelBytes: mib(124.35 + 10), KVBytes: mib(2), ComputeBytes: mib(15.13)},
	}
	if len(got) != len(want) || got["127.0.0.1:33413"] != want["127.0.0.1:33413"] || got["127.0.0.1:37577"] != want["127.0.0.1:37577"] {
		t.Errorf("hostBuffers = %+v, want %+v", got, want)
	}
}
