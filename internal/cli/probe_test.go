package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/internal/testutil"
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
		GPUs  []json.RawMessage `json:"gpus"`
		Files []struct {
			Path string `json:"path"`
			Size int64  `json:"size_bytes"`
			FS   string `json:"filesystem"`
		} `json:"files"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != "probe/v1" || doc.Memory.Total == 0 || doc.Memory.Cache == nil || doc.Memory.Effective == 0 ||
		doc.Memory.Effective > doc.Memory.Total || doc.Memory.Source == "" || doc.CPU.Physical == 0 || doc.CPU.Usable <= 0 || doc.GPUs == nil {
		t.Errorf("snapshot %s", out.String())
	}
	if len(doc.Files) != 1 || doc.Files[0].Size != 1041024 || doc.Files[0].FS == "" {
		t.Errorf("files %+v", doc.Files)
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
