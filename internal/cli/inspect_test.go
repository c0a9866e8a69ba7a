package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/cli")

// golden compares got with testdata/cli/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := testutil.Path("cli", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run with -update if the change is intended)\n--- got ---\n%s", path, got)
	}
}

func TestInspect(t *testing.T) {
	// Paths are relative to the module root so that the golden output does
	// not depend on where the checkout lives.
	t.Chdir(testutil.Root())
	tests := []struct {
		name   string
		args   []string
		code   int
		golden string
		stderr string
	}{
		{"table", []string{"inspect", "testdata/models/synth-llama-gqa-Q4_K_M.gguf"}, ExitOK, "inspect-synth-q4km.txt", ""},
		{"header only", []string{"inspect", "testdata/zoo/mixtral-8x7b-Q4_K_M.header.gguf"}, ExitOK, "inspect-mixtral.txt", ""},
		{"flag after model", []string{"inspect", "testdata/models/synth-llama-gqa-Q2_K.gguf", "--json"}, ExitOK, "", ""},
		{"no model", []string{"inspect"}, ExitUsage, "", "plan inspect: no model given"},
		{"bad flag", []string{"inspect", "--nope", "x.gguf"}, ExitUsage, "", "flag provided but not defined"},
		{"missing file", []string{"inspect", "testdata/nope.gguf"}, ExitError, "", "no such file"},
		{"not gguf", []string{"inspect", "testdata/refs/tokenizer/strings.json"}, ExitError, "", "bad magic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run(context.Background(), tt.args, &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, errb.String())
			}
			if !strings.Contains(errb.String(), tt.stderr) {
				t.Errorf("stderr %q does not contain %q", errb.String(), tt.stderr)
			}
			if tt.golden != "" {
				golden(t, tt.golden, out.Bytes())
				checkReadable(t, out.String())
			}
		})
	}
}

func TestInspectJSON(t *testing.T) {
	path := testutil.Path("models", "synth-llama-gqa-Q4_K_M.gguf")
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"inspect", "--json", path}, &out, &errb); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var doc struct {
		Version     int            `json:"version"`
		Arch        string         `json:"architecture"`
		Alignment   uint64         `json:"alignment"`
		DataOffset  int64          `json:"data_offset"`
		TensorCount int            `json:"tensor_count"`
		TensorBytes int64          `json:"tensor_bytes"`
		DataPresent bool           `json:"data_present"`
		Metadata    map[string]any `json:"metadata"`
		Tensors     []struct {
			Name   string   `json:"name"`
			Type   string   `json:"type"`
			Shape  []uint64 `json:"shape"`
			Offset int64    `json:"offset"`
			Size   int64    `json:"size"`
		} `json:"tensors"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	// Figures from ggml's own reader (testdata/refs/synth-llama-gqa-Q4_K_M.ref.json).
	if doc.Version != InspectVersion || doc.Arch != "llama" || doc.Alignment != 32 || doc.DataOffset != 13952 ||
		doc.TensorCount != 39 || doc.TensorBytes != 1602048 || !doc.DataPresent {
		t.Errorf("header fields: %+v", doc)
	}
	if tok, ok := doc.Metadata["tokenizer.ggml.tokens"].(map[string]any); !ok || tok["array"] != "str" || tok["len"] != 512.0 {
		t.Errorf("long array not summarised: %v", doc.Metadata["tokenizer.ggml.tokens"])
	}
	if eps := doc.Metadata["llama.attention.layer_norm_rms_epsilon"]; eps != 1e-05 {
		t.Errorf("rms epsilon = %v", eps)
	}
	first := doc.Tensors[0]
	if first.Name != "output.weight" || first.Type != "q6_K" || first.Offset != 13952 || first.Size != 107520 || len(first.Shape) != 2 {
		t.Errorf("first tensor %+v", first)
	}
}

func TestInspectURL(t *testing.T) {
	dir := testutil.Path("models")
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	var out, errb bytes.Buffer
	url := srv.URL + "/" + filepath.Base("synth-llama-gqa-Q8_0.gguf")
	if code := Run(context.Background(), []string{"inspect", url}, &out, &errb); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "q8_0") || !strings.Contains(out.String(), "all present") {
		t.Errorf("output:\n%s", out.String())
	}
}
