package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelfit/modelfit/exec/verify"
	"github.com/modelfit/modelfit/internal/testutil"
)

// llamaServer is the shared llama-server, or the test skips.
func llamaServer(t *testing.T) string {
	t.Helper()
	return testutil.Shared(t, "tools", "llama.cpp", "bin", "llama-server")
}

func testModels(t *testing.T) []string {
	t.Helper()
	ms, _ := filepath.Glob(filepath.Join("testdata", "models", "*.gguf"))
	if len(ms) == 0 {
		t.Fatal("no test models")
	}
	return ms
}

// statsLine is the statistics line both engines print.
var statsLine = regexp.MustCompile(`load \d+ ms, first token \d+ ms, prefill (\d+) tokens at [\d.]+ tok/s, decode (\d+) tokens at [\d.]+ tok/s, peak RSS [\d.]+ \w+, page faults \d+ major / \d+ minor`)

func TestRunLlamaCpp(t *testing.T) {
	bin := llamaServer(t)
	t.Chdir(testutil.Root())
	for _, m := range testModels(t) {
		t.Run(filepath.Base(m), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run(context.Background(), []string{"run", m, "--engine", "llama.cpp", "--llama-server", bin, "-p", "Once upon a time", "-n", "8", "--ignore-eos", "-c", "512"}, &out, &errb)
			if code != ExitOK {
				t.Fatalf("exit %d:\n%s", code, errb.String())
			}
			st := statsLine.FindStringSubmatch(errb.String())
			if st == nil || st[2] != "8" || !strings.Contains(errb.String(), "with llama.cpp on the CPU: ctx 512") {
				t.Errorf("stderr:\n%s", errb.String())
			}
			if strings.TrimSpace(out.String()) == "" {
				t.Error("no text on stdout")
			}
		})
	}
}

// TestServe serves each test model, asks the OpenAI-compatible endpoint
// for a completion, and stops the server as Ctrl-C does.
func TestServe(t *testing.T) {
	bin := llamaServer(t)
	t.Chdir(testutil.Root())
	for _, m := range testModels(t) {
		t.Run(filepath.Base(m), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			pr, pw := io.Pipe()
			var errb bytes.Buffer
			var code int
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				code = Run(ctx, []string{"serve", m, "--llama-server", bin, "-c", "512"}, pw, &errb)
				pw.Close()
			}()
			var url string
			var pid int
			var lines []string
			sc := bufio.NewScanner(pr)
			for sc.Scan() {
				l := sc.Text()
				lines = append(lines, l)
				if m := regexp.MustCompile(`OpenAI-compatible at (\S+)/v1`).FindStringSubmatch(l); m != nil {
					url = m[1]
				}
				if m := regexp.MustCompile(`llama-server pid (\d+)`).FindStringSubmatch(l); m != nil {
					pid, _ = strconv.Atoi(m[1])
					break
				}
			}
			if url == "" || pid == 0 {
				t.Fatalf("no endpoint printed:\n%s\n%s", strings.Join(lines, "\n"), errb.String())
			}
			if !strings.HasPrefix(lines[1], "memory: CPU ") {
				t.Errorf("no memory line: %q", lines[1])
			}
			go io.Copy(io.Discard, pr)
			body := `{"prompt": "Once upon a time", "max_tokens": 4, "temperature": 0, "grammar": "root ::= [^\\x00]*"}`
			resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			var c struct {
				Choices []struct {
					Text string `json:"text"`
				} `json:"choices"`
				Usage struct {
					CompletionTokens int `json:"completion_tokens"`
				} `json:"usage"`
			}
			err = json.NewDecoder(resp.Body).Decode(&c)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || len(c.Choices) != 1 || c.Usage.CompletionTokens == 0 {
				t.Errorf("/v1/completions: %s, %+v, %v", resp.Status, c, err)
			}
			cancel()
			wg.Wait()
			if code != ExitOK {
				t.Errorf("exit %d after Ctrl-C:\n%s", code, errb.String())
			}
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
				b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
				if !strings.Contains(string(b), ") Z ") {
					t.Errorf("llama-server %d still runs after plan serve stopped", pid)
				}
			}
		})
	}
}

func TestServeNoFit(t *testing.T) {
	t.Chdir(testutil.Root())
	var out, errb bytes.Buffer
	code := Run(context.Background(), []string{"serve", "testdata/zoo/deepseek-v3-Q2_K.header.gguf", "--ram", "64GiB", "--no-mmap", "--llama-server", "testdata/nope"}, &out, &errb)
	if code != ExitNoFit || !strings.Contains(errb.String(), "DOES NOT FIT, not started") {
		t.Errorf("exit %d:\n%s%s", code, out.String(), errb.String())
	}
}

func TestVerifyCommand(t *testing.T) {
	bin := llamaServer(t)
	t.Chdir(testutil.Root())
	m := "testdata/models/synth-llama-gqa-Q8_0.gguf"
	var out, errb bytes.Buffer
	start := time.Now()
	code := Run(context.Background(), []string{"verify", m, "--llama-server", bin, "-c", "1024", "-ub", "256", "--json"}, &out, &errb)
	var rep verify.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("exit %d, %v:\n%s%s", code, err, out.String(), errb.String())
	}
	if rep.Schema != verify.SchemaVersion || len(rep.Rows) < 7 || rep.PromptTokens != 256 || rep.DecodeTokens != 8 {
		t.Errorf("report %+v", rep)
	}
	if code != ExitOK || !rep.OK {
		t.Errorf("exit %d, ok=%v; worst %+v", code, rep.OK, rep.WorstRow())
	}
	out.Reset()
	errb.Reset()
	code = Run(context.Background(), []string{"verify", m, "--llama-server", bin, "-c", "1024", "-ub", "256"}, &out, &errb)
	text := out.String()
	for _, want := range []string{"device  figure", "CPU     weights", "CPU     KV", "CPU     anonymous", "CPU     mapped model", "decode tok/s", "prompt 256 tokens, decode 8 tokens"} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
	if code != ExitOK || !regexp.MustCompile(`(?m)^VERIFIED: every figure within its tolerance`).MatchString(text) {
		t.Errorf("exit %d:\n%s", code, text)
	}
	// A figure outside its tolerance names the worst and exits 1: a plan
	// whose margin is below what the process takes beyond its buffers.
	out.Reset()
	errb.Reset()
	code = Run(context.Background(), []string{"verify", m, "--llama-server", bin, "-c", "1024", "-ub", "256", "--host-margin", "1KiB"}, &out, &errb)
	if code != ExitError || !strings.Contains(out.String(), "MISMATCH: CPU anonymous: predicted") {
		t.Errorf("exit %d with a 1 KiB margin:\n%s%s", code, out.String(), errb.String())
	}
	t.Logf("two verifications in %v", time.Since(start))
}

func TestVerifyNoFit(t *testing.T) {
	t.Chdir(testutil.Root())
	var out, errb bytes.Buffer
	code := Run(context.Background(), []string{"verify", "testdata/zoo/deepseek-v3-Q2_K.header.gguf", "--ram", "64GiB", "--no-mmap"}, &out, &errb)
	if code != ExitNoFit || !strings.Contains(errb.String(), "DOES NOT FIT, not started") {
		t.Errorf("exit %d:\n%s", code, errb.String())
	}
}
