package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/probe"
)

func TestProbeCommand(t *testing.T) {
	model := testutil.Path("models", "synth-llama-gqa-Q2_K.gguf")
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"probe", "--json", "--file", model}, &out, &errb); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var doc struct {
		Schema string `json:"schema"`
		Memory struct {
			Total     uint64  `json:"total_bytes"`
			Available uint64  `json:"available_bytes"`
			Cache     *uint64 `json:"page_cache_bytes"`
			Effective uint64  `json:"effective_available_bytes"`
			Source    string  `json:"limit_source"`
		} `json:"memory"`
		CPU struct {
			Physical int     `json:"physical_cores"`
			Usable   float64 `json:"usable_cores"`
		} `json:"cpu"`
		GPUs  []json.RawMessage            `json:"gpus"`
		Files []map[string]json.RawMessage `json:"files"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != "probe/v1" || doc.Memory.Total == 0 || doc.Memory.Cache == nil || doc.Memory.Effective == 0 ||
		doc.Memory.Effective > doc.Memory.Total || doc.Memory.Source == "" || doc.CPU.Physical == 0 || doc.CPU.Usable <= 0 || doc.GPUs == nil {
		t.Errorf("snapshot %s", out.String())
	}
	if len(doc.Files) != 1 {
		t.Fatalf("files %s", out.String())
	}
	f := doc.Files[0]
	if string(f["size_bytes"]) != "1041024" || len(f["filesystem"]) < 3 || f["path"] == nil || f["resident_bytes"] == nil {
		t.Errorf("file entry lacks size_bytes, filesystem, path or resident_bytes (null when unknown): %s", out.String())
	}

	out.Reset()
	if code := Run(context.Background(), []string{"probe", "--file", model}, &out, &errb); code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"effective available", "cores", "gpus:", "synth-llama-gqa-Q2_K.gguf: 1016.62 KiB"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	if code := Run(context.Background(), []string{"probe", "extra"}, &out, &errb); code != ExitUsage {
		t.Errorf("stray argument: exit %d", code)
	}
}

func TestProbeTable(t *testing.T) {
	h100, err := probe.ParseGPU("H100=80GiB@76GiB:3350GB/s")
	if err != nil {
		t.Fatal(err)
	}
	limit := uint64(6 << 30)
	s := probe.Describe(probe.Description{RAMBytes: 64 << 30, GPUs: []probe.GPU{h100, {Name: "GB10", TotalBytes: 128 << 30, FreeBytes: 100 << 30, UnifiedMemory: true}}})
	s.Memory.CgroupVersion, s.Memory.CgroupLimitBytes, s.Memory.EffectiveAvailableBytes, s.Memory.LimitSource = 1, &limit, 4<<30, "cgroup v1"
	var out bytes.Buffer
	printSnapshot(&out, s)
	for _, want := range []string{"cgroup v1 limit", "6.00 GiB", "effective available", "4.00 GiB (from cgroup v1)",
		"H100", "76.00 GiB", "3350 GB/s", "GB10", "128.00 GiB (shared with host)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestProbeMissingFile(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"probe", "--file", filepath.Join(t.TempDir(), "none.gguf")}, &out, &errb); code != ExitError || !strings.Contains(errb.String(), "probe:") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
}
