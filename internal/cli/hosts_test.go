package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/exec/cluster"
	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/synthllama"
	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/probe"
)

// The seed cases on paper, with the commands to run on every host.
func TestPlanHosts(t *testing.T) {
	t.Chdir(testutil.Root())
	ds := "testdata/zoo/deepseek-v3-Q2_K.header.gguf"
	four := []string{ds, "--ram", "128GiB", "--cores", "32", "--link", "10GbE",
		"--host", "node2=128GiB@10.0.0.2:50052", "--host", "node3=128GiB@10.0.0.3:50052", "--host", "node4=128GiB@10.0.0.4:50052"}
	gpus := []string{ds, "--ram", "200GiB", "--gpu", "H100=80GiB:3350GB/s", "--cores", "32", "--link", "25GbE", "--rpc-cache",
		"--host", "node2=200GiB+H100=80GiB:3350GB/s@10.0.0.2:50052"}
	tests := []struct {
		name   string
		args   []string
		code   int
		golden string
		errs   string
	}{
		{"4x128GiB", four, ExitOK, "plan-deepseek-4x128g.txt", ""},
		{"2x(GPU+RAM)", gpus, ExitOK, "plan-deepseek-2x-gpu.txt", ""},
		{"too small", []string{ds, "--ram", "64GiB", "--host", "b=64GiB@10.0.0.2", "--host", "c=64GiB@10.0.0.3"}, ExitNoFit, "plan-deepseek-3x64g-nofit.txt", ""},
		{"link without host", []string{ds, "--ram", "64GiB", "--link", "10GbE"}, ExitUsage, "", "give at least one"},
		{"link for no host", []string{ds, "--ram", "64GiB", "--host", "b=64GiB", "--link", "c=10GbE"}, ExitUsage, "", "no --host named c"},
		{"bad link", []string{ds, "--ram", "64GiB", "--host", "b=64GiB", "--link", "fast"}, ExitUsage, "", "want 1GbE"},
		{"bad host", []string{ds, "--ram", "64GiB", "--host", "b"}, ExitUsage, "", "want NAME="},
		{"bad address", []string{ds, "--ram", "64GiB", "--host", "b=64GiB@10.0.0.2:99999"}, ExitUsage, "", "port"},
		{"missing snapshot", []string{ds, "--ram", "64GiB", "--host", "b=none.json"}, ExitUsage, "", "none.json"},
		{"run over hosts", []string{"run", "testdata/models/synth-llama-gqa-Q4_K_M.gguf", "-p", "x", "--ram", "1GiB", "--host", "b=1GiB"}, ExitUsage, "", "this machine only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run(context.Background(), tt.args, &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, out.String(), errb.String())
			}
			if tt.golden != "" {
				golden(t, tt.golden, out.Bytes())
			}
			if !strings.Contains(errb.String(), tt.errs) {
				t.Errorf("stderr %q lacks %q", errb.String(), tt.errs)
			}
		})
	}
	// The JSON carries the hosts with their commands; a snapshot file works
	// as a host.
	snap := filepath.Join(t.TempDir(), "node2.json")
	var pb bytes.Buffer
	if err := probe.Describe(probe.Description{RAMBytes: 128 << 30, Cores: 32}).WriteJSON(&pb); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(snap, pb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	args := append(append([]string{}, four[:7]...), "--host", "node2="+snap+"@10.0.0.2:50052", "--json")
	if code := Run(context.Background(), args, &out, &out); code != ExitOK {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	var doc struct {
		Hosts []struct {
			Name    string   `json:"name"`
			Role    string   `json:"role"`
			Used    bool     `json:"used"`
			Command []string `json:"command"`
		} `json:"hosts"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Hosts) != 2 || doc.Hosts[0].Role != "head" || doc.Hosts[1].Name != "node2" || !doc.Hosts[1].Used ||
		strings.Join(doc.Hosts[1].Command, " ") != "ggml-rpc-server -H 10.0.0.2 -p 50052 -t 32 -d CPU" {
		t.Errorf("hosts %+v", doc.Hosts)
	}
}

// plan cluster runs a small model over two loopback hosts (in memory
// cgroups when root) and compares what they use with the plan.
func TestClusterCommand(t *testing.T) {
	bin := testutil.Shared(t, "tools", "llama.cpp", "bin")
	vocab, err := gguf.Open(testutil.Path("models", "synth-llama-gqa-Q8_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer vocab.Close()
	// 4 layers of 15.5 MiB at Q8_0: no 72 MiB host holds them all, and the
	// head (24 MiB) none.
	model, word, err := synthllama.Build(filepath.Join(bin, "llama-quantize"), "/tmp/rpc-synth",
		synthllama.Shape{Embd: 1024, Layers: 4, FF: 4096, Heads: 16, KVHeads: 4}, "Q8_0", vocab)
	if err != nil {
		t.Fatal(err)
	}
	port, err := freeTCP()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"cluster", model, "--bin", bin, "--ram", "24MiB", "--cores", "1", "--cpu-features", "avx2,fma,f16c", "-c", "512", "-np", "1", "-t", "1",
		"--host-margin", "4MiB", "--host", "a=72MiB@127.0.0.1:" + port, "--host", "b=72MiB", "-n", "4", "--json"}
	if os.Geteuid() != 0 {
		args = append(args, "--no-cgroup")
	}
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	var rep clusterReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Hosts) != 2 || !rep.Within || !strings.HasPrefix(rep.Completion.Content, word) {
		t.Errorf("report %+v", rep)
	}
	if rep.LoadSeconds <= 0 || rep.PredictedLoadSeconds <= 0 || rep.Completion.DecodeTokensPerSecond <= 0 || rep.PredictedDecode <= 0 {
		t.Errorf("load %g s (plan %g), decode %g tok/s (plan %g): a figure is missing", rep.LoadSeconds, rep.PredictedLoadSeconds,
			rep.Completion.DecodeTokensPerSecond, rep.PredictedDecode)
	}
	t.Logf("load %.2f s (plan %.2f), decode %.1f tok/s (plan %.1f), prefill %.1f tok/s (plan %.1f)", rep.LoadSeconds, rep.PredictedLoadSeconds,
		rep.Completion.DecodeTokensPerSecond, rep.PredictedDecode, rep.Completion.PrefillTokensPerSecond, rep.PredictedPrefill)
	// Without a host the command is a usage error.
	if code := Run(context.Background(), []string{"cluster", model}, &out, &errb); code != ExitUsage {
		t.Errorf("no hosts: exit %d", code)
	}
}

func freeTCP() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

// The README quotes the four-host plan's commands: they must be what the
// command prints (its golden file).
func TestREADMEHosts(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(testutil.Root(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(testutil.Path("cli", "plan-deepseek-4x128g.txt"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(line, "  node2: ggml-rpc-server") || strings.HasPrefix(line, "  head: llama-server") {
			n++
			if !strings.Contains(string(out), line+"\n") {
				t.Errorf("README line %q is not in the plan's output", line)
			}
		}
	}
	if n != 2 {
		t.Errorf("found %d quoted command lines in the README, want 2", n)
	}
}

// plan cluster's table and lines, from a report.
func TestPrintCluster(t *testing.T) {
	rep := clusterReport{
		Hosts: []cluster.HostMeasure{{Name: "a", PredictedBytes: 465 << 20, PredictedLowBytes: 438 << 20, PredictedHighBytes: 467 << 20,
			PeakRSSBytes: 462 << 20, Cgroup: &cluster.Memory{PeakBytes: 458 << 20}, Buffers: cluster.Buffers{ComputeBytes: 15 << 20},
			Planned: cluster.Buffers{ComputeBytes: 16 << 20}}},
		Completion:      cluster.Completion{Content: " girl girl", PromptTokens: 194, DecodeTokensPerSecond: 7.25, PrefillTokensPerSecond: 21.5},
		PredictedDecode: 21.3, PredictedPrefill: 60, LoadSeconds: 12.6, PredictedLoadSeconds: 3.4, LoadAverage: 15, CPUs: 2, Within: true,
	}
	var b bytes.Buffer
	printCluster(&b, rep)
	for _, want := range []string{
		"     a  465.00 MiB  438.00 MiB – 467.00 MiB  462.00 MiB   458.00 MiB          15.00 MiB / 16.00 MiB\n",
		"completion \" girl girl\"\n",
		"decode 7.25 tok/s measured, 21.3 predicted; prefill 21.5 tok/s measured (194 tokens), 60.0 predicted — the machine was busy (load 15.0 on 2 CPUs): the speed says little\n",
		"load 12.6 s measured, 3.40 predicted\n",
		"WITHIN THE PLAN\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}
