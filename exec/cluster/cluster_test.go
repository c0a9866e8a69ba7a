package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelfit/modelfit/exec/launch"
	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/probe"
)

// clusterRequest plans for a head that holds no layers (a thin client: its
// RAM fits llama-server's own buffers) and n hosts of hostRAM on loopback.
func clusterRequest(t *testing.T, n int, hostRAM uint64) (*probe.Snapshot, planner.Request) {
	head := probe.Describe(probe.Description{RAMBytes: 80 << 20, Cores: 1, Features: []string{"avx2", "fma", "f16c"}})
	req := planner.Request{
		Settings:        planner.Settings{NCtx: 512, NUbatch: 128, NParallel: 1, Threads: 1},
		Pinned:          planner.Pins{NCtx: true, NUbatch: true, NParallel: true, Threads: true},
		HostMarginBytes: 16 << 20,
	}
	for i := 0; i < n; i++ {
		port, err := launch.FreePort("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		req.Hosts = append(req.Hosts, planner.Host{
			Name:     fmt.Sprintf("host%d", i+1),
			Snapshot: probe.Describe(probe.Description{RAMBytes: hostRAM, Cores: 1, Features: []string{"avx2", "fma", "f16c"}}),
			Addr:     fmt.Sprintf("127.0.0.1:%d", port),
		})
	}
	return head, req
}

// The test: a ~1B model that no single 500 MiB host holds is planned
// over three, launched in three memory cgroups, completes a prompt, and each
// server's memory is within the plan's bounds; over two hosts it is refused
// with what each lacks.
func TestLocalCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("launches a three-host cluster (about a minute)")
	}
	bin := testutil.Shared(t, "tools", "llama.cpp", "bin")
	if err := cgroupsUsable(); err != nil {
		t.Skip(err)
	}
	path, word := synthModel(t, bin, synth1B, "Q8_0")
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const hostRAM = 500 << 20

	// Two hosts: refused, with each host's need.
	head, req := clusterRequest(t, 2, hostRAM)
	req.ModelPath = path
	p, err := planner.Make(context.Background(), f, head, req)
	var nf *planner.NoFitError
	if !errors.As(err, &nf) || p == nil || p.Fits {
		t.Fatalf("two hosts of 500 MiB: err %v", err)
	}
	short := 0
	for _, d := range nf.Devices {
		if d.ShortBytes > 0 {
			short++
		}
		t.Logf("two hosts: %s needs %d MiB, has %d MiB, short %d MiB", d.Name, d.NeedBytes>>20, d.AvailableBytes>>20, d.ShortBytes>>20)
	}
	if short == 0 || !strings.Contains(nf.Error(), "lack") || !strings.Contains(nf.Nearest, "1 more host") {
		t.Errorf("refusal names no shortfall or no way out: %v", nf)
	}

	// Three hosts: every one takes layers.
	head, req = clusterRequest(t, 3, hostRAM)
	req.ModelPath = path
	p, err = planner.Make(context.Background(), f, head, req)
	if err != nil {
		t.Fatalf("three hosts: %v", err)
	}
	for _, h := range p.Hosts[1:] {
		if !h.Used {
			t.Fatalf("host %s unused: a single host holds the model?", h.Name)
		}
		if h.WeightsBytes >= hostRAM {
			t.Fatalf("host %s holds %d MiB of weights", h.Name, h.WeightsBytes>>20)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := Start(ctx, p, Options{Bin: bin, Limit: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A prompt longer than the ubatch: the compute buffers are used whole.
	comp, err := c.Complete(ctx, strings.Repeat("once upon a time there was a little girl ", 16), 8)
	if err != nil {
		t.Fatalf("%v\n%s", err, c.Head.Log())
	}
	if comp.PromptTokens <= 128 {
		t.Errorf("prompt of %d tokens: not longer than the ubatch", comp.PromptTokens)
	}
	if !strings.HasPrefix(comp.Content, word) {
		t.Errorf("completion %q, want it to repeat %q", comp.Content, word)
	}
	ms, err := c.Measure()
	if err != nil {
		t.Fatal(err)
	}
	args := " " + strings.Join(c.Head.Args, " ") + " "
	if !strings.Contains(args, " --rpc ") || strings.Count(args, " --fit ") != 1 {
		t.Errorf("llama-server's arguments %s: want --rpc and one --fit", args)
	}
	for _, m := range ms {
		t.Logf("%s: RSS %d MiB (peak %d), cgroup %+v MiB; predicted %d MiB (peak %d, range %d-%d)", m.Name, m.RSSBytes>>20, m.PeakRSSBytes>>20,
			mib(m.Cgroup), m.PredictedBytes>>20, m.PredictedPeakBytes>>20, m.PredictedLowBytes>>20, m.PredictedHighBytes>>20)
		t.Logf("%s: llama-server's buffers model %.2f KV %.2f compute %.2f MiB; planned %.2f, %.2f, %.2f MiB", m.Name,
			mb(m.Buffers.ModelBytes), mb(m.Buffers.KVBytes), mb(m.Buffers.ComputeBytes), mb(m.Planned.ModelBytes), mb(m.Planned.KVBytes), mb(m.Planned.ComputeBytes))
		if err := m.Check(); err != nil {
			t.Error(err)
		}
	}
	t.Logf("load %.1f s measured, %.1f predicted", c.LoadTime().Seconds(), p.Predicted.LoadSeconds)
	t.Logf("decode %.1f tok/s measured, %.1f predicted; prefill %.1f measured (%d tokens)", comp.DecodeTokensPerSecond, p.Predicted.DecodeTokensPerSecond, comp.PrefillTokensPerSecond, comp.PromptTokens)
}

// cgroupsUsable says why Start cannot make memory cgroups here, if it
// cannot: it tries to make one.
func cgroupsUsable() error {
	if os.Geteuid() != 0 {
		return errors.New("needs root for the memory cgroups")
	}
	cg, err := launch.NewCgroup(fmt.Sprintf("modelfit-rpc-test-%d", os.Getpid()), 64<<20)
	if err != nil {
		return err
	}
	return cg.Remove()
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

func mib(m *Memory) string {
	if m == nil {
		return "-"
	}
	return fmt.Sprintf("current %d peak %d anon %d file %d", m.CurrentBytes>>20, m.PeakBytes>>20, m.AnonBytes>>20, m.FileBytes>>20)
}

// ggml-rpc-server -c keeps every tensor over 10 MiB it receives in its
// cache directory: as many bytes as the plan says.
func TestServerCache(t *testing.T) {
	if testing.Short() {
		t.Skip("launches a server")
	}
	bin := testutil.Shared(t, "tools", "llama.cpp", "bin")
	// Two layers of the 1B layout: its FFN matrices (17 MiB at Q8_0) are
	// cached, its attention matrices (4.25 MiB) are not.
	s := synth1B
	s.Layers = 2
	path, _ := synthModel(t, bin, s, "Q8_0")
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head, req := clusterRequest(t, 1, 1<<30)
	req.ModelPath = path
	req.Hosts[0].Cache = true
	p, err := planner.Make(context.Background(), f, head, req)
	if err != nil {
		t.Fatal(err)
	}
	h := p.Hosts[1]
	if !h.Used || h.CacheDiskBytes == 0 || !strings.Contains(strings.Join(h.Command, " "), " -c") {
		t.Fatalf("host %+v: want it used, with -c and a cache", h)
	}
	cache := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := Start(ctx, p, Options{Bin: bin, Limit: cgroupsUsable() == nil, ServerEnv: []string{"LLAMA_CACHE=" + cache}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var total int64
	files, _ := os.ReadDir(filepath.Join(cache, "rpc"))
	for _, e := range files {
		if fi, err := e.Info(); err == nil {
			total += fi.Size()
		}
	}
	t.Logf("host layers %v, weights %d", h.Layers, h.WeightsBytes)
	if uint64(total) != h.CacheDiskBytes {
		t.Errorf("cache holds %d bytes in %d files, the plan says %d", total, len(files), h.CacheDiskBytes)
	}
	ms, err := c.Measure()
	if err != nil {
		t.Fatal(err)
	}
	if err := ms[0].Check(); err != nil {
		t.Error(err)
	}
	t.Logf("%s: peak RSS %.1f MiB, cgroup %s MiB; plan %.1f (%.1f–%.1f) MiB", ms[0].Name, mb(ms[0].PeakRSSBytes), mib(ms[0].Cgroup),
		mb(ms[0].PredictedBytes), mb(ms[0].PredictedLowBytes), mb(ms[0].PredictedHighBytes))
}
