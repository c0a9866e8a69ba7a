package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/internal/testutil"
)

func TestPlanCommand(t *testing.T) {
	t.Chdir(testutil.Root())
	ds := "testdata/zoo/deepseek-v3-Q2_K.header.gguf"
	synth := "testdata/models/synth-llama-gqa-Q4_K_M.gguf"
	tests := []struct {
		name   string
		args   []string
		code   int
		golden string
		out    string
	}{
		{"seed 200GiB", []string{ds, "--ram", "200GiB", "--gpu", "H100=80GiB:3350GB/s", "--cores", "32"}, ExitOK, "plan-deepseek-200g.txt", ""},
		{"seed 64GiB", []string{ds, "--ram", "64GiB", "--gpu", "H100=80GiB:3350GB/s", "--cores", "32"}, ExitOK, "plan-deepseek-64g.txt", ""},
		{"seed M2 Ultra", []string{ds, "--unified", "M2 Ultra=192GiB", "--cores", "16"}, ExitOK, "plan-deepseek-m2ultra.txt", ""},
		{"seed 64GiB no-mmap", []string{ds, "--ram", "64GiB", "--gpu", "H100=80GiB:3350GB/s", "--cores", "32", "--no-mmap"}, ExitNoFit, "plan-deepseek-64g-nommap.txt", ""},
		{"cpu only", []string{synth, "--ram", "8GiB", "--cores", "2", "-c", "1024", "--sweep", "--ollama"}, ExitOK, "plan-synth-cpu.txt", ""},
		{"print args", []string{"-ngl", "3", "-ub", "256", "-ctk", "q8_0", "-ctv", "q8_0", synth, "--ram", "8GiB", "--gpu", "8GiB", "--print-args", "--args-style", "load-mode"}, ExitOK, "",
			"-m testdata/models/synth-llama-gqa-Q4_K_M.gguf -c 2048 -b 2048 -ub 256 -np 1 -t 8 -ngl 3 -fa on -ctk q8_0 -ctv q8_0 --load-mode mmap\n"},
		{"two GPUs", []string{"testdata/zoo/mixtral-8x7b-Q4_K_M.header.gguf", "--ram", "32GiB", "--gpu", "RTX4090=24GiB:1008GB/s", "--gpu", "T4=16GiB:320GB/s", "--cpu-features", "avx2,fma,f16c", "-c", "8192", "--ollama"}, ExitOK, "plan-mixtral-2gpu.txt", ""},
		{"load-mode none", []string{"testdata/zoo/mixtral-8x7b-Q4_K_M.header.gguf", "--ram", "16GiB", "--gpu", "24GiB", "--load-mode", "none", "--print-args"}, ExitOK, "",
			"-m testdata/zoo/mixtral-8x7b-Q4_K_M.header.gguf -c 4096 -b 2048 -ub 512 -np 1 -t 8 -ngl 33 -fa on -ctk f16 -ctv f16 -ot blk\\.(0|1|2|3|4|5|6)\\.ffn_(up|down|gate)_exps=CPU --load-mode none\n"},
		{"ngl all", []string{synth, "--ram", "8GiB", "--gpu", "8GiB", "-ngl", "all", "--print-args"}, ExitOK, "",
			"-m testdata/models/synth-llama-gqa-Q4_K_M.gguf -c 2048 -b 2048 -ub 512 -np 1 -t 8 -ngl 5 -fa on -ctk f16 -ctv f16\n"},
		{"quantized V without flash attention", []string{synth, "--ram", "8GiB", "-fa", "off", "-ctv", "q8_0"}, ExitUsage, "", ""},
		{"load-mode dio", []string{synth, "--ram", "8GiB", "--load-mode", "dio"}, ExitUsage, "", ""},
		{"bad ngl", []string{synth, "-ngl", "many", "--ram", "8GiB"}, ExitUsage, "", ""},
		{"gpu without ram", []string{synth, "--gpu", "8GiB"}, ExitUsage, "", ""},
		{"no tensors", []string{"testdata/vocab/ggml-vocab-gpt-2.gguf", "--ram", "8GiB"}, ExitError, "", ""},
		{"missing model", []string{"testdata/none.gguf", "--ram", "8GiB"}, ExitError, "", ""},
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
			if tt.out != "" && out.String() != tt.out {
				t.Errorf("output %q, want %q", out.String(), tt.out)
			}
		})
	}
}

func TestPlanJSON(t *testing.T) {
	var out, errb bytes.Buffer
	args := []string{testutil.Path("zoo", "deepseek-v3-Q2_K.header.gguf"), "--ram", "64GiB", "--gpu", "80GiB", "--no-mmap", "--json"}
	if code := Run(context.Background(), args, &out, &errb); code != ExitNoFit {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var doc struct {
		Schema   string `json:"schema"`
		Fits     bool   `json:"fits"`
		Settings struct {
			NCtx, NBatch, NUbatch, NParallel, NGPULayers int
			FlashAttn                                    bool   `json:"flash_attn"`
			K                                            string `json:"cache_type_k"`
			MMap                                         *bool  `json:"mmap"`
			MLock                                        *bool  `json:"mlock"`
			Threads                                      int    `json:"threads"`
		} `json:"settings"`
		Devices []struct {
			Name      string  `json:"name"`
			Weights   *uint64 `json:"weights_bytes"`
			Anon      *uint64 `json:"anon_weights_bytes"`
			KV        *uint64 `json:"kv_bytes"`
			Compute   *uint64 `json:"compute_bytes"`
			Output    *uint64 `json:"output_bytes"`
			Overhead  *uint64 `json:"overhead_bytes"`
			Total     *uint64 `json:"total_bytes"`
			Available *uint64 `json:"available_bytes"`
			Layers    []int   `json:"layers"`
		} `json:"devices"`
		Predicted struct {
			Load    *float64 `json:"load_seconds"`
			Prefill *float64 `json:"prefill_tokens_per_second"`
			Decode  *float64 `json:"decode_tokens_per_second"`
		} `json:"predicted"`
		Reasons   []json.RawMessage `json:"reasons"`
		LlamaArgs []string          `json:"llama_args"`
		NoFit     struct {
			Reason string `json:"reason"`
		} `json:"no_fit"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != "plan/v1" || doc.Fits || doc.Settings.MMap == nil || *doc.Settings.MMap || doc.Settings.MLock == nil ||
		len(doc.Devices) != 2 || doc.Devices[0].Name != "CPU" || doc.Devices[1].Name != "CUDA0" || doc.Devices[0].Anon == nil ||
		doc.Devices[0].Total == nil || doc.Predicted.Decode == nil || len(doc.Reasons) == 0 || len(doc.LlamaArgs) == 0 ||
		!strings.Contains(doc.NoFit.Reason, "unable to allocate the CPU buffer") || !strings.Contains(strings.Join(doc.LlamaArgs, " "), "--no-mmap") {
		t.Errorf("plan JSON:\n%s", out.String())
	}
}

// BenchmarkPlanCommand runs the whole dry run (open and parse the header,
// plan, render the table) on each zoo header for an assumed machine.
func BenchmarkPlanCommand(b *testing.B) {
	models := []string{testutil.Path("zoo", "deepseek-v3-Q2_K.header.gguf"), testutil.Path("zoo", "mixtral-8x7b-Q4_K_M.header.gguf")}
	for _, name := range []string{"llama-3.1-8b-Q4_K_M", "llama-3.1-8b-Q8_0", "qwen2.5-0.5b-Q8_0", "gemma-2-9b-Q4_K_M"} {
		if p, ok := testutil.SharedPath("zoo", name+".header.gguf"); ok {
			models = append(models, p)
		}
	}
	for _, path := range models {
		b.Run(strings.TrimSuffix(filepath.Base(path), ".header.gguf"), func(b *testing.B) {
			args := []string{path, "--ram", "64GiB", "--gpu", "H100=80GiB:3350GB/s", "--cores", "16"}
			for b.Loop() {
				if code := Run(context.Background(), args, io.Discard, io.Discard); code != ExitOK {
					b.Fatalf("exit %d", code)
				}
			}
		})
	}
}

// plan MODEL accepts an http(s) URL: the header is read with range requests.
func TestPlanURL(t *testing.T) {
	srv := httptest.NewServer(http.FileServer(http.Dir(testutil.Path("zoo"))))
	defer srv.Close()
	var out, errb bytes.Buffer
	args := []string{srv.URL + "/mixtral-8x7b-Q4_K_M.header.gguf", "--ram", "64GiB", "--gpu", "24GiB", "--json"}
	if code := Run(context.Background(), args, &out, &errb); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var doc struct {
		Fits     bool `json:"fits"`
		Settings struct {
			NGPULayers int `json:"n_gpu_layers"`
		} `json:"settings"`
		Model struct {
			Path string `json:"path"`
		} `json:"model"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if !doc.Fits || doc.Settings.NGPULayers == 0 || !strings.HasPrefix(doc.Model.Path, "http://") {
		t.Errorf("plan over HTTP: %s", out.String())
	}
}
