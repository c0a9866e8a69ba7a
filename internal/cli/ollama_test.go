package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/internal/ollamatest"
	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/ollama"
)

// ollamaStore builds an Ollama store in a temporary directory (the
// synthetic model with stored parameters, the DeepSeek-V3 header as a
// library model) and points OLLAMA_MODELS at it for the test.
func ollamaStore(t *testing.T, env map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	ollamatest.Add(t, dir, "synth:q4", ollamatest.Model(t, testutil.Path("models", "synth-llama-gqa-Q4_K_M.gguf"), map[string]any{"num_ctx": 1024, "use_mmap": false, "temperature": 0.7})...)
	ollamatest.Add(t, dir, "deepseek-v3:671b-q2_K", ollamatest.Model(t, testutil.Path("zoo", "deepseek-v3-Q2_K.header.gguf"), nil)...)
	if env == nil {
		env = map[string]string{}
	}
	env["OLLAMA_MODELS"] = dir
	old := getenv
	getenv = func(k string) string { return env[k] }
	t.Cleanup(func() { getenv = old })
	return dir
}

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestOllamaNames(t *testing.T) {
	dir := ollamaStore(t, nil)
	m, err := ollama.Resolve(dir, "synth:q4")
	if err != nil {
		t.Fatal(err)
	}
	// The stored parameters are the user's pins; a flag overrides them.
	code, out, errs := run(t, "synth:q4", "--ram", "8GiB", "--cores", "2")
	out = strings.ReplaceAll(out, "\n          ", " ") // the header wraps at 100 columns
	if code != ExitOK || !strings.Contains(out, "ollama    synth:q4 → …/blobs/sha256-") || !strings.Contains(out, "its stored parameters pinned: num_ctx 1024, use_mmap false") ||
		!strings.Contains(out, "n_ctx 1024,") || !strings.Contains(out, "mmap off") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if code, out, _ := run(t, "synth:q4", "--ram", "8GiB", "-c", "2048", "--mmap", "--print-args"); code != ExitOK || out != "-m "+m.Blob+" -c 2048 -b 2048 -ub 512 -np 1 -t 8 -ngl 0 -fa on -ctk f16 -ctv f16\n" {
		t.Errorf("flags over stored parameters: %d %q", code, out)
	}
	// The same name in inspect and in the JSON plan.
	if code, out, errs := run(t, "inspect", "registry.ollama.ai/library/synth:q4"); code != ExitOK || !strings.Contains(out, "synth-llama-gqa") {
		t.Errorf("inspect: %d %s%s", code, out, errs)
	}
	code, out, _ = run(t, "synth:q4", "--ram", "8GiB", "--runtime", "ollama", "--json")
	var doc struct {
		Model struct {
			Path       string `json:"path"`
			OllamaName string `json:"ollama_name"`
		} `json:"model"`
		Runtime string `json:"runtime"`
		Profile struct {
			Build string   `json:"build"`
			Notes []string `json:"notes"`
		} `json:"runtime_profile"`
		Ollama struct {
			Decision  struct{ Runner string } `json:"decision"`
			Options   map[string]any          `json:"options"`
			Modelfile string                  `json:"modelfile"`
		} `json:"ollama"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != ExitOK {
		t.Fatalf("exit %d: %v\n%s", code, err, out)
	}
	if doc.Model.Path != m.Blob || doc.Model.OllamaName != "synth:q4" || doc.Runtime != "ollama" || !strings.Contains(doc.Profile.Build, "ec98e2002") ||
		doc.Ollama.Decision.Runner != "ollama" || doc.Ollama.Options["num_ctx"] != 1024.0 || !strings.HasPrefix(doc.Ollama.Modelfile, "FROM synth:q4\n") {
		t.Errorf("JSON: %+v", doc)
	}
}

func TestOllamaNameErrors(t *testing.T) {
	dir := ollamaStore(t, nil)
	if code, _, errs := run(t, "llama3.1:8b", "--ram", "8GiB"); code != ExitError || !strings.Contains(errs, "model not found") || !strings.Contains(errs, `ollama pull llama3.1:8b`) {
		t.Errorf("missing model: %d %s", code, errs)
	}
	if code, _, errs := run(t, "synth:q8", "--ram", "8GiB"); code != ExitError || !strings.Contains(errs, "tags of synth in the store: q4") {
		t.Errorf("missing tag: %d %s", code, errs)
	}
	m, _ := ollama.Resolve(dir, "synth:q4")
	if err := os.Remove(m.Blob); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := run(t, "inspect", "synth:q4"); code != ExitError || !strings.Contains(errs, "blob missing") || !strings.Contains(errs, m.Blob) {
		t.Errorf("missing blob: %d %s", code, errs)
	}
	// A path that does not exist stays a file error.
	if code, _, errs := run(t, "models/none.gguf", "--ram", "8GiB"); code != ExitError || strings.Contains(errs, "ollama") {
		t.Errorf("missing file: %d %s", code, errs)
	}
	if code, _, errs := run(t, "synth:q4", "--runtime", "vllm", "--ram", "8GiB"); code != ExitUsage || !strings.Contains(errs, "ollama-engine") {
		t.Errorf("bad runtime: %d %s", code, errs)
	}
	if code, _, errs := run(t, "deepseek-v3:671b-q2_K", "--ram", "200GiB", "--gpu", "80GiB", "--runtime", "ollama", "-ot", "exps=CPU"); code != ExitUsage || !strings.Contains(errs, "tensor overrides") {
		t.Errorf("-ot for Ollama: %d %s", code, errs)
	}
}

// The seed scenario as an Ollama user meets it: DeepSeek-V3 Q2_K pulled as
// an Ollama model, 200 GiB of RAM and one 80 GiB GPU. The llama.cpp plan
// (mmap, experts on the CPU), then what Ollama v0.17.4 would do (its Go
// engine, no mmap, 163840 tokens of context: refused) and the plan for
// Ollama with its options, Modelfile and a check by Ollama's own rules.
func TestOllamaSeedScenario(t *testing.T) {
	dir := ollamaStore(t, nil)
	code, out, errs := run(t, "deepseek-v3:671b-q2_K", "--ram", "200GiB", "--gpu", "H100=80GiB:3350GB/s", "--cores", "32", "--ollama")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	golden(t, "plan-ollama-deepseek-200g.txt", []byte(strings.ReplaceAll(out, dir, "$OLLAMA_MODELS")))
	// The text is wrapped at 100 columns: read it as one line per paragraph.
	ollamaPart := strings.ReplaceAll(out[strings.Index(out, "Ollama v0.17.4 on this machine:"):], "\n    ", " ")
	for _, want := range []string{"it fails with \"model requires more system memory", "Plan for Ollama (ollama-engine)", ": fits", "FROM deepseek-v3:671b-q2_K", "Check: with these", "it loads."} {
		if !strings.Contains(ollamaPart, want) {
			t.Errorf("lacks %q", want)
		}
	}
	// --ollama never prints what Ollama cannot apply: no overrides, and
	// no use_mmap for the engine that has none.
	if fix := ollamaPart[strings.Index(ollamaPart, "Plan for Ollama"):]; strings.Contains(fix, "exps") || strings.Contains(fix, "use_mmap") {
		t.Errorf("the fix has settings Ollama cannot apply:\n%s", fix)
	}
}

// The README quotes the seed scenario's Ollama lines: they must be the
// golden output's.
func TestReadmeOllamaQuote(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(testutil.Root(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(filepath.Join(testutil.Root(), "testdata", "cli", "plan-ollama-deepseek-200g.txt"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "### Ollama users")
	_, block, ok2 := strings.Cut(section, "```\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README has no quoted block under ### Ollama users")
	}
	for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
		if !strings.Contains(string(golden), line+"\n") {
			t.Errorf("README quotes a line the output does not have:\n%s", line)
		}
	}
}
