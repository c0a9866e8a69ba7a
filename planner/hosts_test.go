package planner

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/layouts"
	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/probe"
)

func TestParseLink(t *testing.T) {
	tests := []struct {
		in      string
		rate    float64
		rtt     float64
		wantErr bool
	}{
		{"10GbE", 10e9 / 8 * tcpPayload, 60e-6, false},
		{"25gbe", 25e9 / 8 * tcpPayload, 40e-6, false},
		{"1GbE,rtt=0.5ms", 1e9 / 8 * tcpPayload, 500e-6, false},
		{"1.2GB/s", 1.2e9, 60e-6, false},
		{"3GB,rtt=20us", 3e9, 20e-6, false},
		{"loopback", 1.1e9, 50e-6, false},
		{"fast", 0, 0, true},
		{"10GbE,latency=1ms", 0, 0, true},
		{"10GbE,rtt=-1ms", 0, 0, true},
		{"0GB/s", 0, 0, true},
	}
	for _, tt := range tests {
		l, err := ParseLink(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseLink(%q) error %v", tt.in, err)
			continue
		}
		if err == nil && (math.Abs(l.BytesPerSecond-tt.rate) > 1 || math.Abs(l.RTTSeconds-tt.rtt) > 1e-9) {
			t.Errorf("ParseLink(%q) = %+v, want %g B/s, %g s", tt.in, l, tt.rate, tt.rtt)
		}
	}
}

func TestParseRPCAddr(t *testing.T) {
	tests := []struct{ in, want string }{
		{"10.0.0.2:50052", "10.0.0.2:50052"},
		{"10.0.0.2", "10.0.0.2:50052"},
		{"localhost:6000", "127.0.0.1:6000"},
		{"node2:50052", ""}, // the server binds with inet_addr: no names
		{"[::1]:50052", ""}, // nor IPv6
		{"10.0.0.2:0", ""},
		{"0.0.0.0:50052", ""}, // every interface: not where the head connects
		{"255.255.255.255:1", ""},
		{"10.0.0.2:70000", ""},
	}
	for _, tt := range tests {
		got, err := ParseRPCAddr(tt.in)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("ParseRPCAddr(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func synthFile(t testing.TB) *gguf.File {
	f, err := gguf.Open(testutil.Path("models", "synth-llama-gqa-Q4_K_M.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// llama.cpp's device order: the head's CPU, the RPC devices in --rpc order
// (each host's GPUs, then its CPU), then the head's GPUs, which take the
// last layers and the output.
func TestClusterDeviceOrder(t *testing.T) {
	f, err := gguf.Open(testutil.Path("zoo", "mixtral-8x7b-Q4_K_M.header.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	// 26 GiB of weights over rooms of 8 to 12 GiB: every device takes some.
	gpu := probe.GPU{Name: "G", TotalBytes: 8 << 30, BandwidthBytes: 900e9}
	head := probe.Describe(probe.Description{RAMBytes: 4 << 30, GPUs: []probe.GPU{gpu}, Cores: 8})
	req := Request{Settings: Settings{NCtx: 4096}, Pinned: Pins{NCtx: true}}
	req.Hosts = []Host{
		{Name: "a", Snapshot: probe.Describe(probe.Description{RAMBytes: 8 << 30, GPUs: []probe.GPU{gpu}, Cores: 8}), Addr: "10.0.0.2:50052"},
		{Name: "b", Snapshot: probe.Describe(probe.Description{RAMBytes: 12 << 30, Cores: 8}), Addr: "10.0.0.3:50053"},
	}
	p, err := Make(context.Background(), f, head, req)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range p.Devices {
		names = append(names, d.Name)
	}
	if got := strings.Join(names, ","); !strings.HasPrefix(got, "CPU,RPC0") || !strings.HasSuffix(got, "CUDA0") {
		t.Fatalf("devices %s: want CPU, the RPC devices, then CUDA0", got)
	}
	b := p.Breakdown()
	if last := len(p.Devices) - 1; b.Output != last || len(p.Devices[last].Layers) == 0 {
		t.Errorf("output on device %d, want the head's GPU (%d) with the last layers", b.Output, last)
	}
	// Layers ascend through the device order.
	prev := -1
	for d := range p.Devices {
		for _, il := range p.Devices[d].Layers {
			if il <= prev {
				t.Fatalf("layer %d on %s after layer %d: layers must flow head CPU → RPC → local GPUs", il, p.Devices[d].Name, prev)
			}
			prev = il
		}
	}
	// -ts has one count per offload device, summing to -ngl.
	sum := 0.0
	for _, v := range p.Settings.TensorSplit {
		sum += v
	}
	if len(p.Settings.TensorSplit) != len(p.Devices)-1 || int(sum) != p.Settings.NGPULayers {
		t.Errorf("-ts %v, -ngl %d over %d offload devices", p.Settings.TensorSplit, p.Settings.NGPULayers, len(p.Devices)-1)
	}
	args := strings.Join(p.LlamaArgs, " ")
	var want []string
	for _, h := range p.Hosts[1:] {
		if h.Used {
			want = append(want, h.Address)
		}
	}
	if !strings.Contains(args, "--rpc "+strings.Join(want, ",")) {
		t.Errorf("args %s lack --rpc %s", args, strings.Join(want, ","))
	}
	for _, h := range p.Hosts[1:] {
		if !h.Used {
			continue
		}
		cmd := strings.Join(h.Command, " ")
		host, port, _ := strings.Cut(h.Address, ":")
		if !strings.HasPrefix(cmd, "ggml-rpc-server -H "+host+" -p "+port) {
			t.Errorf("%s: command %q", h.Name, cmd)
		}
	}
	if !strings.Contains(strings.Join(p.Warnings, " "), "no authentication") {
		t.Errorf("no warning about the RPC protocol's lack of authentication: %v", p.Warnings)
	}
}

// What a remote CPU holds: the weights in plain buffers (no repacking, no
// mmap, 32-byte aligned), no GPU runtime overhead; a remote GPU holds the
// CUDA-padded weights and its runtime. No pipeline parallelism with RPC.
func TestClusterRemoteBuffers(t *testing.T) {
	f := synthFile(t)
	m := newModel(f)
	s := DefaultSettings()
	s.NCtx, s.NGPULayers = 512, m.nLayer+1
	cpuFeatures := []string{"avx2", "avx512f"} // the head would repack Q4_K
	remote, err := m.estimate(Settings{NCtx: 512, NBatch: 512, NUbatch: 512, NParallel: 1, FlashAttn: true, CacheTypeK: "f16", CacheTypeV: "f16", MMap: true, NGPULayers: m.nLayer + 1, TensorSplit: []float64{1, 0}},
		Env{GPUs: []string{"RPC0", "RPC1"}, GPUFree: []uint64{1 << 30, 1 << 30}, Remote: []RemoteKind{RemoteCPU, RemoteGPU}, CPUFeatures: cpuFeatures})
	if err != nil {
		t.Fatal(err)
	}
	rpc := remote.Devices[1]
	var want uint64
	for i := range m.tensors {
		if tt := &m.tensors[i]; tt.layer >= 0 || tt.out {
			want += (tt.size + 31) / 32 * 32
		}
	}
	if rpc.WeightsBytes != want || rpc.AnonWeightsBytes != want || rpc.RepackBytes != 0 || rpc.MappedBytes != 0 || rpc.OverheadBytes != 0 {
		t.Errorf("remote CPU %+v: want %d bytes of plain weights, no repack, no mapping, no overhead", rpc, want)
	}
	if remote.Devices[2].OverheadBytes == 0 {
		t.Error("a remote GPU has no runtime overhead")
	}
	// Two remote GPUs against two local ones, everything offloaded: only
	// the local pair pipelines (extra input copies in compute).
	env := func(kinds []RemoteKind) Env {
		return Env{GPUs: []string{"G0", "G1"}, GPUFree: []uint64{1 << 30, 1 << 30}, Remote: kinds}
	}
	s2 := Settings{NCtx: 512, NBatch: 512, NUbatch: 512, NParallel: 1, FlashAttn: true, CacheTypeK: "f16", CacheTypeV: "f16", MMap: true, NGPULayers: m.nLayer + 1}
	local, _ := m.estimate(s2, env(nil))
	rpcs, _ := m.estimate(s2, env([]RemoteKind{RemoteGPU, RemoteGPU}))
	if !(local.Devices[2].ComputeBytes > rpcs.Devices[2].ComputeBytes) {
		t.Errorf("compute on the second GPU: local %d, RPC %d: RPC devices must not pipeline", local.Devices[2].ComputeBytes, rpcs.Devices[2].ComputeBytes)
	}
}

func cluster128(n int, link string) (*probe.Snapshot, Request) {
	node := func() *probe.Snapshot { return probe.Describe(probe.Description{RAMBytes: 128 << 30, Cores: 32}) }
	l, _ := ParseLink(link)
	req := Request{ModelPath: "deepseek-v3.gguf"}
	for i := 2; i <= n; i++ {
		req.Hosts = append(req.Hosts, Host{Name: fmt.Sprintf("node%d", i), Snapshot: node(), Addr: fmt.Sprintf("10.0.0.%d:50052", i), Link: l})
	}
	return node(), req
}

func clusterGPU(link string) (*probe.Snapshot, Request) {
	l, _ := ParseLink(link)
	req := Request{ModelPath: "deepseek-v3.gguf"}
	req.Hosts = []Host{{Name: "node2", Snapshot: machine80(200 << 30), Addr: "10.0.0.2:50052", Link: l}}
	return machine80(200 << 30), req
}

// deepseekQ4KM is DeepSeek-V3 at Q4_K_M as the converter and llama-quantize
// lay it out (internal/layouts): about 377 GiB.
func deepseekQ4KM(t testing.TB) *gguf.File {
	spec, ok := layouts.ByID("deepseek-v3-q4_k_m")
	if !ok {
		t.Fatal("no deepseek-v3-q4_k_m layout")
	}
	l, err := layouts.Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	f, err := l.File()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// The seed cases: DeepSeek-V3 over four hosts of 128 GiB, and over two
// hosts with an 80 GiB GPU and 200 GiB each.
func TestClusterSeeds(t *testing.T) {
	q2 := deepseek(t)
	q4 := deepseekQ4KM(t)
	if gib := float64(q4.TensorBytes()) / (1 << 30); gib < 360 || gib > 400 {
		t.Fatalf("Q4_K_M variant %.0f GiB, want about 377", gib)
	}
	tests := []struct {
		name      string
		f         *gguf.File
		snap      *probe.Snapshot
		req       Request
		usedHosts int // remote hosts taking layers
	}{
		{"Q2_K 4x128GiB", q2, nil, Request{}, 1},
		{"Q4_K_M 4x128GiB", q4, nil, Request{}, 3},
		{"Q2_K 2x(80GiB GPU+200GiB)", q2, nil, Request{}, 1},
		{"Q4_K_M 2x(80GiB GPU+200GiB)", q4, nil, Request{}, 1},
	}
	for i := range tests {
		if strings.Contains(tests[i].name, "4x128") {
			tests[i].snap, tests[i].req = cluster128(4, "10GbE")
		} else {
			tests[i].snap, tests[i].req = clusterGPU("25GbE")
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Make(context.Background(), tt.f, tt.snap, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if p.Verdict != VerdictFits {
				t.Errorf("verdict %q, want %q: a plan over hosts keeps every weight in memory", p.Verdict, VerdictFits)
			}
			used := 0
			var weights uint64
			for _, h := range p.Hosts {
				weights += h.WeightsBytes
				if !h.Fits || h.RAMPeakBytes+h.RAMMarginBytes > h.RAMAvailableBytes {
					t.Errorf("%s: RAM %d + margin over %d", h.Name, h.RAMPeakBytes, h.RAMAvailableBytes)
				}
				if h.Role == "rpc" && h.Used {
					used++
				}
			}
			if used != tt.usedHosts {
				t.Errorf("%d remote hosts used, want %d", used, tt.usedHosts)
			}
			if weights < uint64(tt.f.TensorBytes())*99/100 {
				t.Errorf("hosts hold %d of %d bytes of weights", weights, tt.f.TensorBytes())
			}
			for _, d := range p.Devices[1:] {
				if d.TotalBytes+d.MarginBytes > d.AvailableBytes {
					t.Errorf("%s: %d + margin over %d", d.Name, d.TotalBytes, d.AvailableBytes)
				}
			}
			if p.Predicted.DecodeTokensPerSecond <= 0 || p.Predicted.LoadSeconds <= 0 {
				t.Errorf("predictions %+v", p.Predicted)
			}
		})
	}
}

var update = flag.Bool("update", false, "rewrite the golden files in testdata/planner")

// TestClusterSeedsGolden keeps the seed plans' commands and figures in
// testdata/planner/hosts-seeds.txt (go test ./planner -run SeedsGolden -update).
func TestClusterSeedsGolden(t *testing.T) {
	q2, q4 := deepseek(t), deepseekQ4KM(t)
	var sb strings.Builder
	for _, c := range []struct {
		name string
		f    *gguf.File
		mk   func() (*probe.Snapshot, Request)
	}{
		{"DeepSeek-V3 Q2_K, head + 3 hosts of 128 GiB, 10GbE", q2, func() (*probe.Snapshot, Request) { return cluster128(4, "10GbE") }},
		{"DeepSeek-V3 Q4_K_M-sized, head + 3 hosts of 128 GiB, 10GbE", q4, func() (*probe.Snapshot, Request) { return cluster128(4, "10GbE") }},
		{"DeepSeek-V3 Q2_K, head + 1 host, each 80 GiB GPU + 200 GiB, 25GbE", q2, func() (*probe.Snapshot, Request) { return clusterGPU("25GbE") }},
		{"DeepSeek-V3 Q4_K_M-sized, head + 1 host, each 80 GiB GPU + 200 GiB, 25GbE", q4, func() (*probe.Snapshot, Request) { return clusterGPU("25GbE") }},
	} {
		snap, req := c.mk()
		p, err := Make(context.Background(), c.f, snap, req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		fmt.Fprintf(&sb, "== %s\n", c.name)
		for _, h := range p.Hosts {
			if !h.Used {
				fmt.Fprintf(&sb, "%s: unused\n", h.Name)
				continue
			}
			fmt.Fprintf(&sb, "%s: layers %s%s, weights %s, RAM %s (at load %s) of %s\n  %s\n", h.Name, layerRange(h.Layers),
				map[bool]string{true: " +output"}[h.Output], human(h.WeightsBytes), human(h.RAMBytes), human(h.RAMPeakBytes), human(h.RAMAvailableBytes), strings.Join(h.Command, " "))
		}
		for _, d := range p.Devices[1:] {
			fmt.Fprintf(&sb, "%s: %s of %s\n", d.Name, human(d.TotalBytes), human(d.AvailableBytes))
		}
		fmt.Fprintf(&sb, "predicted: decode %.3g tok/s, prefill %.3g tok/s, load %.3g s\n\n", p.Predicted.DecodeTokensPerSecond, p.Predicted.PrefillTokensPerSecond, p.Predicted.LoadSeconds)
	}
	path := testutil.Path("planner", "hosts-seeds.txt")
	if *update {
		if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != sb.String() {
		t.Errorf("seed plans differ from %s (run with -update if intended):\n%s", path, sb.String())
	}
}

// The network is in the choice: with a slow link the plan leaves out a host
// it does not need; the prediction falls as the link slows.
func TestClusterNetwork(t *testing.T) {
	f := deepseek(t)
	var last float64
	for _, link := range []string{"100GbE", "10GbE", "1GbE", "100MB/s,rtt=2ms"} {
		snap, req := cluster128(4, link)
		p, err := Make(context.Background(), f, snap, req)
		if err != nil {
			t.Fatal(err)
		}
		tps := p.Predicted.DecodeTokensPerSecond
		if last > 0 && tps > last {
			t.Errorf("%s: %.3g tok/s, faster than the faster link's %.3g", link, tps, last)
		}
		last = tps
		if p.Hosts[2].Used || p.Hosts[3].Used {
			t.Errorf("%s: node3/node4 used for a model that fits head and node2", link)
		}
	}
}

// Refusals name each host's need: three hosts of 64 GiB cannot hold the
// 227 GiB model.
func TestClusterNoFit(t *testing.T) {
	f := deepseek(t)
	small := func() *probe.Snapshot { return probe.Describe(probe.Description{RAMBytes: 64 << 30, Cores: 32}) }
	req := Request{Hosts: []Host{{Name: "b", Snapshot: small(), Addr: "10.0.0.2:50052"}, {Name: "c", Snapshot: small(), Addr: "10.0.0.3:50052"}}}
	p, err := Make(context.Background(), f, small(), req)
	var nf *NoFitError
	if !errors.As(err, &nf) || p == nil || p.Fits {
		t.Fatalf("err %v", err)
	}
	if p.Verdict != VerdictNoFit {
		t.Errorf("verdict %q, want %q", p.Verdict, VerdictNoFit)
	}
	if len(nf.Devices) != 3 {
		t.Fatalf("shortfalls %+v: want one per host", nf.Devices)
	}
	var short uint64
	for _, d := range nf.Devices {
		short += d.ShortBytes
		if d.AvailableBytes != 64<<30 {
			t.Errorf("%s available %d", d.Name, d.AvailableBytes)
		}
	}
	if short < 30<<30 || !strings.Contains(nf.Reason, "lack") {
		t.Errorf("short %d in all: %v", short, nf)
	}
	if !strings.Contains(nf.Nearest, "fits with 1 more host(s) like b") {
		t.Errorf("nearest %q: one more 64 GiB host holds the rest", nf.Nearest)
	}
	// Pinned placements are the search's to choose.
	req.Pinned.NGPULayers = true
	if _, err := Make(context.Background(), f, small(), req); err == nil || errors.As(err, &nf) {
		t.Errorf("pinned -ngl with hosts: %v", err)
	}
}

// Bad hosts are errors, not plans.
func TestClusterBadHosts(t *testing.T) {
	f := synthFile(t)
	snap := probe.Describe(probe.Description{RAMBytes: 1 << 30})
	for _, hosts := range [][]Host{
		{{Name: "a", Snapshot: snap}, {Name: "a", Snapshot: snap}},
		{{Name: "head", Snapshot: snap}},
		{{Name: "a"}},
		{{Name: "a", Snapshot: snap, Addr: "node:1"}},
		{{Name: "a", Snapshot: snap, Addr: "10.0.0.1:5"}, {Name: "b", Snapshot: snap, Addr: "10.0.0.1:5"}},
	} {
		if _, err := Make(context.Background(), f, snap, Request{Hosts: hosts}); err == nil {
			t.Errorf("hosts %+v: no error", hosts)
		}
	}
}

// The seed cases plan in well under 50 ms (go test -bench Cluster ./planner).
func BenchmarkPlanCluster(b *testing.B) {
	q2 := deepseek(b)
	q4 := deepseekQ4KM(b)
	for _, bc := range []struct {
		name string
		f    *gguf.File
		mk   func() (*probe.Snapshot, Request)
	}{
		{"Q2_K/4x128GiB", q2, func() (*probe.Snapshot, Request) { return cluster128(4, "10GbE") }},
		{"Q4_K_M/4x128GiB", q4, func() (*probe.Snapshot, Request) { return cluster128(4, "10GbE") }},
		{"Q2_K/2xGPU", q2, func() (*probe.Snapshot, Request) { return clusterGPU("25GbE") }},
		{"Q4_K_M/2xGPU", q4, func() (*probe.Snapshot, Request) { return clusterGPU("25GbE") }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			snap, req := bc.mk()
			cpu := cpuSeconds()
			for b.Loop() {
				if _, err := Make(context.Background(), bc.f, snap, req); err != nil {
					b.Fatal(err)
				}
			}
			if used := cpuSeconds() - cpu; used > 0 {
				b.ReportMetric(used*1e3/float64(b.N), "cpu-ms/op")
			}
		})
	}
}

// The link and address parsers never panic and accept only what they can
// render back.
func FuzzParseLink(f *testing.F) {
	for _, s := range []string{"10GbE", "1GbE,rtt=0.5ms", "1.2GB/s", "3GB,rtt=20us", "loopback", ",", "rtt=1", "1e400GB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLink(s)
		if err == nil && (l.BytesPerSecond <= 0 || l.RTTSeconds <= 0 || math.IsInf(l.BytesPerSecond, 0)) {
			t.Errorf("ParseLink(%q) = %+v", s, l)
		}
	})
}

func FuzzParseRPCAddr(f *testing.F) {
	for _, s := range []string{"10.0.0.2:50052", "10.0.0.2", "localhost:1", "[::1]:5", "a:b:c", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseRPCAddr(s)
		if err != nil {
			return
		}
		if again, err := ParseRPCAddr(a); err != nil || again != a {
			t.Errorf("ParseRPCAddr(%q) = %q, which parses as %q, %v", s, a, again, err)
		}
	})
}

// A host without an address is planned; the plan names it by its name on
// the default port and prints no server command for it.
func TestClusterNoAddress(t *testing.T) {
	f := deepseek(t)
	snap, req := cluster128(2, "10GbE")
	req.Hosts[0].Addr = ""
	p, err := Make(context.Background(), f, snap, req)
	if err != nil {
		t.Fatal(err)
	}
	h := p.Hosts[1]
	if !h.Used || h.Address != "node2:50052" || len(h.Command) != 0 || !strings.Contains(strings.Join(p.LlamaArgs, " "), "--rpc node2:50052") {
		t.Errorf("host %+v, args %v", h, p.LlamaArgs)
	}
	if !strings.Contains(strings.Join(p.Warnings, " "), "no address for node2") {
		t.Errorf("warnings %v", p.Warnings)
	}
}
