package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/internal/testutil"
)

func TestRun(t *testing.T) {
	t.Chdir(testutil.Root())
	model := "testdata/models/synth-llama-gqa-Q4_K_M.gguf"
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr []string
	}{
		{"greedy", []string{"run", model, "-p", "Once upon a time", "-n", "8", "-t", "2"}, ExitOK,
			[]string{"plan: synth-llama-gqa-Q4_K_M.gguf (llama) on the CPU", "2 threads", "decode 8 tokens", "prefill 5 tokens"}},
		{"sampled, flags after the model", []string{"run", model, "-p", "Once", "-n", "4", "--temp", "0.8", "--seed", "7", "-c", "512", "-ub", "2"}, ExitOK,
			[]string{"ctx 512, ubatch 2", "decode 4 tokens"}},
		{"no read into memory", []string{"run", "--no-mmap", model, "-p", "Once", "-n", "2"}, ExitOK, []string{"read into memory"}},
		{"no prompt", []string{"run", model}, ExitUsage, []string{"plan run: no prompt: give -p TEXT"}},
		{"no model", []string{"run", "-p", "x"}, ExitUsage, []string{"plan run: no model given"}},
		{"url", []string{"run", "http://example.com/x.gguf", "-p", "x"}, ExitUsage, []string{"local file"}},
		{"unsupported KV type", []string{"run", model, "-p", "x", "-ctk", "q4_0"}, ExitError, []string{"not supported by the built-in engine"}},
		{"missing file", []string{"run", "testdata/nope.gguf", "-p", "x"}, ExitError, []string{"no such file"}},
		{"refuses a plan that does not fit", []string{"run", model, "-p", "x", "-n", "2", "--ram", "1GiB", "--host-margin", "1023MiB", "--no-mmap"}, ExitNoFit,
			[]string{"DOES NOT FIT: CPU short by", "plan run: the plan does not fit this machine: not running it (--force runs it anyway)"}},
		{"--force runs it", []string{"run", model, "-p", "x", "-n", "2", "--ram", "1GiB", "--host-margin", "1023MiB", "--no-mmap", "--force"}, ExitOK,
			[]string{"running it anyway (--force)", "decode 2 tokens"}},
		{"refuses a plan below --min-tok-s", []string{"run", model, "-p", "x", "-n", "2", "--min-tok-s", "1e9"}, ExitNoFit,
			[]string{"is below --min-tok-s 1000000000: not running it"}},
		{"header-only model", []string{"run", "--engine", "builtin", "testdata/zoo/mixtral-8x7b-Q4_K_M.header.gguf", "-p", "x", "--ram", "512GiB"}, ExitError, []string{"mixture-of-experts llama model not supported by the built-in engine"}},
		{"auto, no llama-server", []string{"run", "testdata/zoo/mixtral-8x7b-Q4_K_M.header.gguf", "-p", "x", "--ram", "512GiB", "--llama-server", "testdata/nope"}, ExitError,
			[]string{"llama.cpp must run this model (exec: mixture-of-experts llama model not supported by the built-in engine)", "llama-server not found: --llama-server testdata/nope"}},
		{"bad engine", []string{"run", model, "-p", "x", "--engine", "vllm"}, ExitUsage, []string{"--engine \"vllm\""}},
		{"llama.cpp refuses a plan that does not fit", []string{"run", "--engine", "llama.cpp", model, "-p", "x", "--ram", "1GiB", "--host-margin", "1023MiB", "--no-mmap", "--llama-server", "testdata/nope"}, ExitNoFit,
			[]string{"DOES NOT FIT: CPU short by", "plan run: the plan does not fit this machine: not running it (--force runs it anyway)"}},
		{"llama.cpp --force runs it", []string{"run", "--engine", "llama.cpp", model, "-p", "x", "--ram", "1GiB", "--host-margin", "1023MiB", "--no-mmap", "--force", "--llama-server", "testdata/nope"}, ExitError,
			[]string{"running it anyway (--force)", "llama-server not found: --llama-server testdata/nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run(context.Background(), tt.args, &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.code, errb.String())
			}
			for _, s := range tt.stderr {
				if !strings.Contains(errb.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, errb.String())
				}
			}
			if code == ExitOK && strings.TrimSpace(out.String()) == "" {
				t.Error("no text on stdout")
			}
		})
	}
}

// TestRunSeed checks that a seed reproduces the sampled text.
func TestRunSeed(t *testing.T) {
	t.Chdir(testutil.Root())
	run := func(seed string) string {
		var out, errb bytes.Buffer
		args := []string{"run", "testdata/models/synth-llama-gqa-Q4_K_M.gguf", "-p", "Once upon a time", "-n", "24", "--temp", "1.5", "--top-k", "0", "--top-p", "1", "--min-p", "0", "--seed", seed}
		if code := Run(context.Background(), args, &out, &errb); code != ExitOK {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		return out.String()
	}
	a, b, c := run("1"), run("1"), run("2")
	if a != b {
		t.Errorf("seed 1 gave %q then %q", a, b)
	}
	if a == c {
		t.Errorf("seeds 1 and 2 both gave %q", a)
	}
}
