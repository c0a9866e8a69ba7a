package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/modelfit/modelfit/internal/ggufwrite"
	"github.com/modelfit/modelfit/internal/testutil"
)

// gpus repeats one --gpu flag n times.
func gpus(n int, spec string) []string {
	var out []string
	for range n {
		out = append(out, "--gpu", spec)
	}
	return out
}

func TestPlanCommand(t *testing.T) {
	t.Chdir(testutil.Root())
	ds := "testdata/zoo/deepseek-v3-Q2_K.header.gguf"
	mixtral := "testdata/zoo/mixtral-8x7b-Q4_K_M.header.gguf"
	synth := "testdata/models/synth-llama-gqa-Q4_K_M.gguf"
	tests := []struct {
		name   string
		args   []string
		code   int
		golden string
		out    string
	}{
		{"MoE offload", []string{ds, "--ram", "200GiB", "--gpu", "H100=80GiB:3350GB/s", "--cores", "32"}, ExitOK, "plan-deepseek-200g.txt", ""},
		{"paging from disk", []string{ds, "--ram", "64GiB", "--gpu", "H100=80GiB:3350GB/s", "--cores", "32"}, ExitOK, "plan-deepseek-64g.txt", ""},
		{"unified M2 Ultra", []string{ds, "--unified", "M2 Ultra=192GiB", "--cores", "16"}, ExitOK, "plan-deepseek-m2ultra.txt", ""},
		{"no-mmap does not fit", []string{ds, "--ram", "64GiB", "--gpu", "H100=80GiB:3350GB/s", "--cores", "32", "--no-mmap"}, ExitNoFit, "plan-deepseek-64g-nommap.txt", ""},
		{"8 GPUs with a sweep", append([]string{ds, "--ram", "128GiB", "--cores", "32", "--cpu-features", "avx2,fma,f16c", "--sweep"}, gpus(8, "RTX4090=24GiB:1008GB/s")...), ExitOK, "plan-deepseek-8gpu-sweep.txt", ""},
		{"cpu only", []string{synth, "--ram", "8GiB", "--cores", "2", "-c", "1024", "--sweep", "--ollama"}, ExitOK, "plan-synth-cpu.txt", ""},
		{"two GPUs", []string{mixtral, "--ram", "32GiB", "--gpu", "RTX4090=24GiB:1008GB/s", "--gpu", "T4=16GiB:320GB/s", "--cpu-features", "avx2,fma,f16c", "-c", "8192", "--ollama"}, ExitOK, "plan-mixtral-2gpu.txt", ""},
		{"MoE sweep", []string{mixtral, "--ram", "32GiB", "--gpu", "RTX4090=24GiB:1008GB/s", "--cpu-features", "avx2,fma,f16c", "-c", "8192", "--sweep"}, ExitOK, "plan-mixtral-sweep.txt", ""},
		{"print args", []string{"-ngl", "3", "-ub", "256", "-ctk", "q8_0", "-ctv", "q8_0", synth, "--ram", "8GiB", "--gpu", "8GiB", "--print-args", "--args-style", "load-mode"}, ExitOK, "",
			"-m testdata/models/synth-llama-gqa-Q4_K_M.gguf -c 2048 -b 2048 -ub 256 -np 1 -t 8 -ngl 3 -fa on -ctk q8_0 -ctv q8_0 --load-mode mmap\n"},
		{"load-mode none", []string{mixtral, "--ram", "16GiB", "--gpu", "24GiB", "--load-mode", "none", "--print-args"}, ExitOK, "",
			"-m testdata/zoo/mixtral-8x7b-Q4_K_M.header.gguf -c 4096 -b 2048 -ub 512 -np 1 -t 8 -ngl 33 -fa on -ctk f16 -ctv f16 --n-cpu-moe 7 --load-mode none\n"},
		{"ngl all", []string{synth, "--ram", "8GiB", "--gpu", "8GiB", "-ngl", "all", "--print-args"}, ExitOK, "",
			"-m testdata/models/synth-llama-gqa-Q4_K_M.gguf -c 2048 -b 2048 -ub 512 -np 1 -t 8 -ngl 5 -fa on -ctk f16 -ctv f16\n"},
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
				checkReadable(t, out.String())
			}
			if tt.out != "" && out.String() != tt.out {
				t.Errorf("output %q, want %q", out.String(), tt.out)
			}
		})
	}
}

// checkReadable: the human output fits in textWidth columns and has no
// number in exponent notation.
func checkReadable(t *testing.T, out string) {
	t.Helper()
	exp := regexp.MustCompile(`\d[eE][+-]\d`)
	for i, l := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(l); n > textWidth {
			t.Errorf("line %d is %d columns: %s", i+1, n, l)
		}
		if exp.MatchString(l) {
			t.Errorf("line %d has a number in exponent notation: %s", i+1, l)
		}
	}
}

// TestVerdicts: fits in memory, runs paging from disk, does not fit; JSON
// keeps fits and adds verdict; --min-tok-s turns a slower plan into exit 3.
func TestVerdicts(t *testing.T) {
	ds := testutil.Path("zoo", "deepseek-v3-Q2_K.header.gguf")
	base := []string{ds, "--gpu", "H100=80GiB:3350GB/s", "--cores", "32", "--json"}
	tests := []struct {
		name     string
		args     []string
		code     int
		fits     bool
		verdict  string
		disk     bool
		firstErr string
	}{
		{"in memory", []string{"--ram", "200GiB"}, ExitOK, true, "fits", false, ""},
		{"paging", []string{"--ram", "64GiB"}, ExitOK, true, "runs_paging", true, ""},
		{"paging below the floor", []string{"--ram", "64GiB", "--min-tok-s", "2"}, ExitNoFit, true, "runs_paging", true, "plan: predicted decode 0.556 tok/s is below --min-tok-s 2"},
		{"in memory above the floor", []string{"--ram", "200GiB", "--min-tok-s", "2"}, ExitOK, true, "fits", false, ""},
		{"tiny RAM still runs from disk", []string{"--ram", "1200MiB", "--no-repack"}, ExitOK, true, "runs_paging", true, ""},
		{"does not fit", []string{"--ram", "64GiB", "--no-mmap"}, ExitNoFit, false, "does_not_fit", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run(context.Background(), append(append([]string{}, base...), tt.args...), &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d: %s", code, tt.code, errb.String())
			}
			var doc struct {
				Fits      *bool  `json:"fits"`
				Verdict   string `json:"verdict"`
				Predicted struct {
					Disk  *float64 `json:"disk_bytes_per_token"`
					Share *float64 `json:"disk_share"`
				} `json:"predicted"`
			}
			if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Fits == nil || *doc.Fits != tt.fits || doc.Verdict != tt.verdict || doc.Predicted.Disk == nil || doc.Predicted.Share == nil ||
				(*doc.Predicted.Disk > 0) != tt.disk || (*doc.Predicted.Share > 0) != tt.disk {
				t.Errorf("fits %v verdict %q disk %v", doc.Fits, doc.Verdict, doc.Predicted.Disk)
			}
			if first, _, _ := strings.Cut(errb.String(), "\n"); first != tt.firstErr {
				t.Errorf("stderr first line %q, want %q", first, tt.firstErr)
			}
		})
	}
}

// TestFlagErrors: every usage error exits 2 and says what was wrong on the
// first line of stderr, with nothing on stdout.
func TestFlagErrors(t *testing.T) {
	t.Chdir(testutil.Root())
	synth := "testdata/models/synth-llama-gqa-Q4_K_M.gguf"
	tests := []struct {
		args  []string
		first string
	}{
		{[]string{synth, "--ram", "8GiB", "-fa", "maybe"}, `plan: -fa "maybe": want on, off or auto`},
		{[]string{synth, "--ram", "8GiB", "-ctk", "q3_Z"}, `plan: -ctk "q3_Z": want f16, bf16, f32, q8_0, q4_0, q4_1, iq4_nl, q5_0 or q5_1`},
		{[]string{synth, "--ram", "8GiB", "-ctk", "q6_K"}, `plan: -ctk "q6_K": want f16, bf16, f32, q8_0, q4_0, q4_1, iq4_nl, q5_0 or q5_1`},
		{[]string{synth, "--ram", "banana"}, `plan: --ram "banana": want a size such as 64GiB`},
		{[]string{synth, "--ram", "8GiB", "-c", "-5"}, "plan: -c -5: want 0 (the training context) or a context of up to 16777216 tokens"},
		{[]string{synth, "--ram", "8GiB", "-c", "99999999999"}, "plan: -c 99999999999: want 0 (the training context) or a context of up to 16777216 tokens"},
		{[]string{synth, "--ram", "8GiB", "-c", "99999999999999999999"}, `plan: invalid value "99999999999999999999" for flag -c: 99999999999999999999 is out of range`},
		{[]string{synth, "--ram", "8GiB", "-c", "lots"}, `plan: invalid value "lots" for flag -c: want a whole number`},
		{[]string{synth, "--ram", "8GiB", "-np", "-1"}, "plan: -np -1: want 1 to 4096 sequences (llama-server's -1, auto, is 4 sequences sharing the cache: give -np 4)"},
		{[]string{synth, "--ram", "8GiB", "-np", "0"}, "plan: -np 0: want 1 to 4096 sequences (llama-server's -1, auto, is 4 sequences sharing the cache: give -np 4)"},
		{[]string{synth, "--ram", "8GiB", "-b", "0"}, "plan: -b 0: want a logical batch of 1 to 16777216 tokens"},
		{[]string{synth, "--ram", "8GiB", "-ub", "-3"}, "plan: -ub -3: want 0 (the batch) or a physical batch of up to 16777216 tokens"},
		{[]string{synth, "--ram", "8GiB", "-t", "100000"}, "plan: -t 100000: want at most 4096 threads"},
		{[]string{synth, "--ram", "8GiB", "-ot", "blk.(0=CPU"}, "plan: -ot \"blk.(0=CPU\": the pattern is not a regular expression: error parsing regexp: missing closing ): `blk.(0`"},
		{[]string{synth, "--ram", "8GiB", "-ot", "exps"}, `plan: -ot "exps": want REGEX=DEVICE, e.g. exps=CPU`},
		{[]string{synth, "--ram", "8GiB", "-ts", "1,x"}, `plan: -ts "1,x": want proportions such as 3,1`},
		{[]string{synth, "--ram", "8GiB", "-ngl", "many"}, `plan: -ngl "many": want a number, auto or all`},
		{[]string{synth, "--ram", "8GiB", "--min-tok-s", "-1"}, "plan: --min-tok-s -1: want a speed of 0 or more tokens per second"},
		{[]string{synth, "--ram", "8GiB", "--timeout", "soon"}, `plan: invalid value "soon" for flag --timeout: want a duration such as 30s or 2m`},
		{[]string{synth, "--ram", "8GiB", "--nope"}, "plan: flag provided but not defined: -nope"},
		{[]string{synth, "--ram"}, "plan: flag needs an argument: --ram"},
		{[]string{synth, "--ram", "8GiB", "-fa", "off", "-ctv", "q8_0"}, "plan: -ctv q8_0 with -fa off: llama.cpp quantizes the V cache only with flash attention"},
		{[]string{synth, "--ram", "8GiB", "--load-mode", "dio"}, "plan: --load-mode dio: direct I/O takes the same memory as none; plan with --load-mode none"},
		{[]string{synth, "--gpu", "8GiB"}, "plan: --gpu, --cores and --cpu-features describe an assumed machine: give its --ram too"},
		{[]string{synth, "--ram", "8GiB", "--args-style", "fancy"}, `plan: --args-style "fancy": want classic or load-mode`},
		{[]string{}, "plan: no model given: plan MODEL.gguf or a URL"},
		{[]string{synth, synth}, "plan: one model at a time, got 2: " + synth + " " + synth},
		{[]string{"run", synth}, "plan run: no prompt: give -p TEXT"},
		{[]string{"run", "-p", "x"}, "plan run: no model given: plan run MODEL.gguf -p PROMPT"},
		{[]string{"run", synth, "Once", "-p", "x"}, "plan run: one model at a time, got 2: " + synth + " Once (quote a prompt with spaces)"},
		{[]string{"run", "http://example.com/x.gguf", "-p", "x"}, "plan run: http://example.com/x.gguf: plan run runs a local file; download it first (plan http://example.com/x.gguf plans it without downloading)"},
		{[]string{"run", synth, "-p", "x", "--seed", "-1"}, `plan run: invalid value "-1" for flag --seed: want a whole number of 0 or more`},
		{[]string{"inspect"}, "plan inspect: no model given: plan inspect MODEL.gguf, a URL or an Ollama name"},
		{[]string{"inspect", "--nope", "x.gguf"}, "plan inspect: flag provided but not defined: -nope"},
		{[]string{"probe", "extra"}, `plan probe: no arguments expected, got "extra" (a model file goes after --file)`},
		{[]string{"help", "nope"}, `plan: no command "nope"`},
		{[]string{synth, "--unified", "64GiB", "--ram", "8GiB"}, "plan: --unified describes the whole machine: give it without --ram, --gpu or --probe"},
		{[]string{synth, "--ram", "8GiB", "--link", "1GbE"}, "plan: --link and --rpc-cache describe the hosts of --host: give at least one"},
		{[]string{"run", synth, "-p", "x", "--engine", "vllm"}, `plan run: --engine "vllm": want builtin, llama.cpp or auto`},
		{[]string{"serve"}, "plan serve: no model given: plan serve MODEL.gguf"},
		{[]string{"serve", synth, "--port", "99999"}, "plan serve: --port 99999: want 0 to 65535"},
		{[]string{"verify", synth, synth}, "plan verify: one model at a time, got 2: " + synth + " " + synth},
		{[]string{"verify", synth, "--decode", "-1"}, "plan verify: --decode -1: want 0 or more"},
		{[]string{"cluster", synth}, "plan cluster: no hosts: give at least one --host NAME=RAM"},
		{[]string{"calibrate", "x"}, `plan calibrate: no arguments expected, got "x"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run(context.Background(), tt.args, &out, &errb)
			first, _, _ := strings.Cut(errb.String(), "\n")
			if code != ExitUsage || first != tt.first {
				t.Errorf("exit %d, first line %q\nwant exit 2, %q", code, first, tt.first)
			}
			if out.Len() != 0 {
				t.Errorf("stdout: %q", out.String())
			}
			if lines := strings.Count(errb.String(), "\n"); lines > 2 {
				t.Errorf("%d lines on stderr:\n%s", lines, errb.String())
			}
		})
	}
}

// TestHelp: -h prints the help on stdout and exits 0: every flag on one
// line with its aliases, grouped, in textWidth columns.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"run", "-h"}, {"inspect", "-h"}, {"probe", "-h"}, {"help", "run"},
		{"serve", "-h"}, {"verify", "-h"}, {"cluster", "-h"}, {"calibrate", "-h"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := Run(context.Background(), args, &out, &errb); code != ExitOK || errb.Len() != 0 {
				t.Fatalf("exit %d, stderr %q", code, errb.String())
			}
			help := out.String()
			if !strings.HasPrefix(help, "usage: plan") {
				t.Errorf("help starts %q", help[:min(40, len(help))])
			}
			checkReadable(t, help)
			for _, l := range strings.Split(help, "\n") {
				for _, alias := range []string{"--ctx-size", "--n-gpu-layers", "--override-tensor", "--n-predict", "--temperature", "--json"} {
					if strings.Contains(l, alias) && !strings.HasPrefix(strings.TrimSpace(l), "-") {
						t.Errorf("%s is not on its flag's line: %q", alias, l)
					}
				}
			}
		})
	}
	var out bytes.Buffer
	Run(context.Background(), []string{"-h"}, &out, io.Discard)
	help := out.String()
	for _, want := range []string{"commands:", "  run ", "  inspect ", "  probe ", "model flags:", "memory flags:", "machine flags:", "output flags:", "network flags:",
		"  -c, --ctx-size N ", "  -ngl, --gpu-layers, --n-gpu-layers N|auto|all ", "  --ram SIZE ", "  --min-tok-s X ", "  --timeout DURATION "} {
		if !strings.Contains(help, want) {
			t.Errorf("plan -h lacks %q", want)
		}
	}
	if i, j := strings.Index(help, "commands:"), strings.Index(help, "model flags:"); i < 0 || j < i {
		t.Error("plan -h: the commands come first, then the flags")
	}
	out.Reset()
	Run(context.Background(), []string{"run", "-h"}, &out, io.Discard)
	for _, want := range []string{"generation flags:", "  -p, --prompt TEXT ", "  -n, --n-predict, --predict N ", "  --force ", "  -c, --ctx-size N "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan run -h lacks %q", want)
		}
	}
}

// TestFlagSemantics: each value means what it means to llama.cpp, and every
// adjusted setting appears once in the why-trail with its final value.
func TestFlagSemantics(t *testing.T) {
	t.Chdir(testutil.Root())
	synth := "testdata/models/synth-llama-gqa-Q4_K_M.gguf" // 4 layers, training context 2048
	mixtral := "testdata/zoo/mixtral-8x7b-Q4_K_M.header.gguf"
	type settings struct {
		NCtx       int       `json:"n_ctx"`
		NBatch     int       `json:"n_batch"`
		NUbatch    int       `json:"n_ubatch"`
		NGPULayers int       `json:"n_gpu_layers"`
		Threads    int       `json:"threads"`
		Split      []float64 `json:"tensor_split"`
	}
	tests := []struct {
		name    string
		args    []string
		check   func(s settings) bool
		reason  string // setting = choice: the why-trail entry
		why     string // in its explanation
		warning string
		argsNot string // not in the llama.cpp arguments
	}{
		{"-c 0 is the training context", []string{synth, "-c", "0"}, func(s settings) bool { return s.NCtx == 2048 }, "n_ctx = 2048", "-c 0 asks for the training context (2048)", "", ""},
		{"-c over the training context", []string{synth, "-c", "8192"}, func(s settings) bool { return s.NCtx == 8192 }, "n_ctx = 8192", "pinned by the user", "exceeds the model's training context (2048)", ""},
		{"-c rounded up", []string{synth, "-c", "1000"}, func(s settings) bool { return s.NCtx == 1024 }, "n_ctx = 1024", "-c 1000 rounded up to a multiple of 256", "", ""},
		{"-b capped at the context", []string{synth, "-c", "1024", "-b", "4096"}, func(s settings) bool { return s.NBatch == 1024 }, "n_batch = 1024", "4096 capped at the context", "", ""},
		{"-ub capped at the batch", []string{synth, "-b", "256", "-ub", "100000"}, func(s settings) bool { return s.NUbatch == 256 && s.NBatch == 256 }, "n_ubatch = 256", "100000 capped at the logical batch", "", ""},
		{"-ub 0 is the batch", []string{synth, "-b", "1024", "-ub", "0"}, func(s settings) bool { return s.NUbatch == 1024 }, "n_ubatch = 1024", "-ub 0 means the logical batch", "", ""},
		{"-ngl without a GPU", []string{synth, "-ngl", "99999"}, func(s settings) bool { return s.NGPULayers == 0 }, "n_gpu_layers = 0", "no GPU: -ngl 99999 has nothing to offload to", "", ""},
		{"-ngl over the layers", []string{synth, "--gpu", "8GiB", "-ngl", "99999"}, func(s settings) bool { return s.NGPULayers == 5 }, "n_gpu_layers = 5", "-ngl 99999 asks for more than the model has", "", ""},
		{"-ngl -1 is auto", []string{synth, "--gpu", "8GiB", "-ngl", "-1"}, func(s settings) bool { return s.NGPULayers == 5 }, "n_gpu_layers = 5", "every layer and the output fit", "", ""},
		{"-ngl -2 is all", []string{synth, "--gpu", "8GiB", "-ngl", "-2"}, func(s settings) bool { return s.NGPULayers == 5 }, "n_gpu_layers = 5", "asks for more than the model has", "", ""},
		{"-ts without a GPU", []string{synth, "-ts", "1,2"}, func(s settings) bool { return len(s.Split) == 0 }, "tensor_split = none", "no GPU: -ts 1,2 has nothing to split", "", "-ts"},
		{"-ts longer than the GPUs", []string{mixtral, "--gpu", "24GiB", "--gpu", "24GiB", "-ts", "1/2/3"}, func(s settings) bool { return len(s.Split) == 2 }, "tensor_split = 1,2", "llama.cpp uses the first 2", "", ""},
		{"-t 0 is every logical CPU", []string{synth, "--cores", "6", "-t", "0"}, func(s settings) bool { return s.Threads == 6 }, "threads = 6", "-t 0 or less: llama.cpp then uses every logical CPU", "", ""},
		{"-t -1 too", []string{synth, "--cores", "6", "-t", "-1"}, func(s settings) bool { return s.Threads == 6 }, "threads = 6", "-t 0 or less: llama.cpp then uses every logical CPU", "", ""},
		{"-t 1000 warns", []string{synth, "--cores", "6", "-t", "1000"}, func(s settings) bool { return s.Threads == 1000 }, "threads = 1000", "pinned by the user", "1000 threads on 6 logical CPUs", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"--ram", "8GiB", "--json"}, tt.args...)
			if code := Run(context.Background(), args, &out, &errb); code != ExitOK {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			var doc struct {
				Settings  settings `json:"settings"`
				Reasons   []struct{ Setting, Choice, Why string }
				Warnings  []string `json:"warnings"`
				LlamaArgs []string `json:"llama_args"`
			}
			if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if !tt.check(doc.Settings) {
				t.Errorf("settings %+v", doc.Settings)
			}
			seen := map[string]bool{}
			found := false
			for _, r := range doc.Reasons {
				if seen[r.Setting] {
					t.Errorf("%s appears twice in the why-trail", r.Setting)
				}
				seen[r.Setting] = true
				if r.Setting+" = "+r.Choice == tt.reason && strings.Contains(r.Why, tt.why) {
					found = true
				}
			}
			if !found {
				t.Errorf("no reason %q with %q in %+v", tt.reason, tt.why, doc.Reasons)
			}
			if tt.warning != "" && !strings.Contains(strings.Join(doc.Warnings, "\n"), tt.warning) {
				t.Errorf("no warning %q in %q", tt.warning, doc.Warnings)
			}
			if tt.argsNot != "" && slices.Contains(doc.LlamaArgs, tt.argsNot) {
				t.Errorf("llama.cpp arguments carry %s: %q", tt.argsNot, doc.LlamaArgs)
			}
		})
	}
}

// TestWhyTrailOnce: when the search changes a setting, the trail has one
// entry for it, with the final value and what it started as.
func TestWhyTrailOnce(t *testing.T) {
	var out, errb bytes.Buffer
	// 5 MiB for the tiny model: the ubatch shrinks and the cache is quantized.
	args := []string{testutil.Path("models", "synth-llama-gqa-Q4_K_M.gguf"), "--ram", "1GiB", "--host-margin", "1019MiB", "--json"}
	if code := Run(context.Background(), args, &out, &errb); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var doc struct {
		Reasons []struct{ Setting, Choice, Why string }
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range doc.Reasons {
		seen[r.Setting]++
		switch r.Setting {
		case "n_ubatch":
			if r.Choice != "128" || !strings.Contains(r.Why, "reduced from 512") {
				t.Errorf("n_ubatch = %s: %s", r.Choice, r.Why)
			}
		case "cache_type":
			if r.Choice != "q8_0" || !strings.Contains(r.Why, "quantized from f16") {
				t.Errorf("cache_type = %s: %s", r.Choice, r.Why)
			}
		}
	}
	for s, n := range seen {
		if n > 1 {
			t.Errorf("%s appears %d times", s, n)
		}
	}
	if seen["n_ubatch"] != 1 || seen["cache_type"] != 1 {
		t.Errorf("trail: %+v", doc.Reasons)
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
		LlamaArgs []string `json:"llama_args"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if !doc.Fits || doc.Settings.NGPULayers == 0 || !strings.HasPrefix(doc.Model.Path, "http://") {
		t.Errorf("plan over HTTP: %s", out.String())
	}
	// llama.cpp's -m takes a path; -mu downloads a URL.
	if len(doc.LlamaArgs) < 2 || doc.LlamaArgs[0] != "-mu" || doc.LlamaArgs[1] != doc.Model.Path || slices.Contains(doc.LlamaArgs, "-m") {
		t.Errorf("llama.cpp arguments for a URL: %q", doc.LlamaArgs)
	}
}

// TestPlanURLBounded: a server that accepts and never answers costs the
// --timeout, and the error names the URL and the phase.
func TestPlanURLBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	url := srv.URL + "/model.gguf"
	for _, cmd := range [][]string{{url, "--ram", "8GiB"}, {"inspect", url}} {
		var out, errb bytes.Buffer
		start := time.Now()
		code := Run(context.Background(), append(cmd, "--timeout", "500ms"), &out, &errb)
		if code != ExitError || !strings.Contains(errb.String(), url) || !strings.Contains(errb.String(), "waiting for the response headers: timed out after 500ms") {
			t.Errorf("%v: exit %d, stderr %q", cmd, code, errb.String())
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%v took %v", cmd, d)
		}
	}
}

// TestShapeRefused: a tensor whose shape contradicts the hyperparameters is
// refused by the dry run and reported by inspect, as plan run refuses it.
func TestShapeRefused(t *testing.T) {
	data, err := os.ReadFile(testutil.Path("models", "synth-llama-gqa-Q4_K_M.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	bad, err := ggufwrite.PatchDim(data, "blk.3.ffn_up.weight", 1, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bad.gguf")
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	want := `tensor "blk.3.ffn_up.weight" has shape [256 1099511627776], want [256 512]`
	for _, args := range [][]string{{path, "--ram", "8GiB"}, {"inspect", path}, {"inspect", "--json", path}, {"run", path, "-p", "x"}} {
		var out, errb bytes.Buffer
		if code := Run(context.Background(), args, &out, &errb); code != ExitError || !strings.Contains(errb.String(), want) {
			t.Errorf("%v: exit %d, stderr %q", args[:len(args)-1], code, errb.String())
		}
		if args[0] != "inspect" && out.Len() > 0 {
			t.Errorf("%v printed a plan for it:\n%s", args, out.String())
		}
	}
	var out bytes.Buffer
	Run(context.Background(), []string{"inspect", path}, &out, io.Discard)
	if !strings.Contains(out.String(), "shapes        BAD: "+want) {
		t.Errorf("inspect does not report the shape:\n%s", out.String())
	}
}
