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
	"os/signal"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelfit/modelfit/exec/launch"
	"github.com/modelfit/modelfit/exec/router"
	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/ggufwrite"
	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/planner/residency"
	"github.com/modelfit/modelfit/probe"
)

func TestModelArgs(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.gguf", "big-00001-of-00002.gguf", "big-00002-of-00002.gguf", "notes.txt"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	got, err := modelArgs([]string{"chat=/m/x.gguf", "/m/y=z.gguf"}, dir)
	want := [][2]string{{"chat", "/m/x.gguf"}, {"", "/m/y=z.gguf"}, {"", filepath.Join(dir, "a.gguf")}, {"", filepath.Join(dir, "big-00001-of-00002.gguf")}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("modelArgs: %v %v", got, err)
	}
	for _, tt := range [][3]string{{"/m/x.gguf", "/m/x.gguf", "x"}, {"big-00001-of-00002.gguf", "big-00001-of-00002.gguf", "big"}, {"llama3.1:8b", "/store/blobs/sha256-ab", "llama3.1:8b"}} {
		if n := modelName(tt[0], tt[1]); n != tt[2] {
			t.Errorf("modelName(%s) = %s, want %s", tt[0], n, tt[2])
		}
	}
	if _, err := modelArgs(nil, t.TempDir()); err == nil {
		t.Error("an empty directory is not an error")
	}
}

func TestServeManyUsage(t *testing.T) {
	t.Chdir(testutil.Root())
	m := "testdata/models/synth-llama-gqa-Q4_K_M.gguf"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", m, m}, "two models are named"},
		{[]string{"serve", m, "other=" + m, "--max-body", "lots"}, "--max-body"},
		{[]string{"serve", m, "https://example.com/m.gguf"}, "must be a local file"},
		{[]string{"serve", "--models", t.TempDir()}, "no .gguf files"},
		{[]string{"serve", m, "other=" + m, "--host", "n2=16GiB"}, "this machine only"},
	} {
		var out, errb bytes.Buffer
		if code := Run(context.Background(), c.args, &out, &errb); code != ExitUsage || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, want %d and %q\n%s", c.args, code, ExitUsage, c.want, errb.String())
		}
	}
}

// serveMany runs plan serve with args until the returned stop is called;
// it returns the endpoint printed.
func serveMany(t *testing.T, args []string) (url string, out *syncBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	out = &syncBuffer{}
	var errb bytes.Buffer
	var code int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		code = Run(ctx, append([]string{"serve"}, args...), pw, &errb)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if m := regexp.MustCompile(`OpenAI-compatible at (\S+)/v1`).FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
			break
		}
	}
	if url == "" {
		cancel()
		wg.Wait()
		t.Fatalf("no endpoint printed:\n%s\n%s", out.String(), errb.String())
	}
	go func() {
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
		}
	}()
	return url, out, func() int {
		cancel()
		wg.Wait()
		if errb.Len() > 0 {
			t.Logf("stderr: %s", errb.String())
		}
		return code
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) WriteString(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.WriteString(v)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// completion asks url for a short completion of model (the grammar keeps
// random weights' output valid UTF-8, see llamaserver.ValidUTF8).
func completion(url, model string, stream bool) (int, string, error) {
	body := fmt.Sprintf(`{"model":%q,"prompt":"Once upon a time","max_tokens":3,"temperature":0,"stream":%t,"grammar":"root ::= [^\\x00]*"}`, model, stream)
	resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func getStatus(t *testing.T, url string) router.Status {
	t.Helper()
	resp, err := http.Get(url + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st router.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestServeMany serves two test models with llama-server behind one
// endpoint, by name and alias, streamed and not, and stops everything as
// Ctrl-C does.
func TestServeMany(t *testing.T) {
	bin := llamaServer(t)
	t.Chdir(testutil.Root())
	url, out, stop := serveMany(t, []string{"testdata/models/synth-llama-gqa-Q4_K_M.gguf", "small=testdata/models/synth-llama-gqa-Q2_K.gguf",
		"--llama-server", bin, "-c", "512", "--keep-alive", "1m"})
	code, body, err := completion(url, "synth-llama-gqa-Q4_K_M", false)
	if err != nil || code != 200 || !strings.Contains(body, `"completion_tokens":3`) {
		t.Errorf("by name: %d %s %v", code, body, err)
	}
	code, body, err = completion(url, "small", true)
	if err != nil || code != 200 || !strings.HasSuffix(strings.TrimSpace(body), "data: [DONE]") || strings.Count(body, "data: ") < 4 {
		t.Errorf("streamed by alias: %d %s %v", code, body, err)
	}
	st := getStatus(t, url)
	var pids []int
	for _, m := range st.Models {
		if m.State != "ready" || m.PID == 0 || m.Planned == nil || m.Measured == nil || m.Measured.RSSAnonBytes == 0 || m.Settings.NCtx != 512 {
			t.Errorf("%s: %+v", m.Name, m)
		}
		pids = append(pids, m.PID)
	}
	if len(st.Decisions) != 2 || st.Decisions[1].Action != residency.Load {
		t.Errorf("decisions %+v", st.Decisions)
	}
	if code := stop(); code != ExitOK {
		t.Errorf("exit %d after Ctrl-C", code)
	}
	if !strings.Contains(out.String(), "decision: load small") && !strings.Contains(out.String(), "decision: load synth-llama-gqa-Q2_K") {
		t.Errorf("no decision lines:\n%s", out.String())
	}
	for _, pid := range pids {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && !strings.Contains(string(b), ") Z ") {
			t.Errorf("llama-server %d outlives plan serve", pid)
		}
	}
}

// A layout for the cgroup test: a small llama whose Q8_0 weights (212 MB,
// read into memory with --no-mmap) dominate what it holds, with a
// byte-level SPM vocabulary padded with filler tokens. Smaller than the
// 1B the issue names, so that 30 loads stay short; large enough that the
// planner's margins for two models leave no room for a third.
// MODELFIT_SERVE_1B=1 runs the test with Llama-3.2-1B's shape instead
// (2048 wide, 16 layers, 8 KV heads, 8192 FFN; a 32000-token vocabulary):
// 1.2 GB of Q8_0 weights per model.
type cgShape struct{ embd, layers, heads, kv, ff, vocab int }

func cgLayout() cgShape {
	if os.Getenv("MODELFIT_SERVE_1B") == "1" {
		return cgShape{2048, 16, 32, 8, 8192, 32000}
	}
	return cgShape{1024, 12, 16, 4, 4096, 8192}
}

func writeCgroupModel(path, name string) error {
	c := cgLayout()
	cgEmbd, cgLayers, cgHeads, cgKV, cgFF, cgVocab := c.embd, c.layers, c.heads, c.kv, c.ff, c.vocab
	e, ff, v, kv := uint64(cgEmbd), uint64(cgFF), uint64(cgVocab), uint64(cgEmbd/cgHeads*cgKV)
	t := func(name string, typ gguf.Type, shape ...uint64) ggufwrite.Tensor {
		return ggufwrite.Tensor{Name: name, Type: typ, Shape: shape}
	}
	tensors := []ggufwrite.Tensor{t("token_embd.weight", gguf.TypeQ8_0, e, v)}
	for i := range cgLayers {
		p := fmt.Sprintf("blk.%d.", i)
		tensors = append(tensors, t(p+"attn_norm.weight", gguf.TypeF32, e), t(p+"attn_q.weight", gguf.TypeQ8_0, e, e),
			t(p+"attn_k.weight", gguf.TypeQ8_0, e, kv), t(p+"attn_v.weight", gguf.TypeQ8_0, e, kv), t(p+"attn_output.weight", gguf.TypeQ8_0, e, e),
			t(p+"ffn_norm.weight", gguf.TypeF32, e), t(p+"ffn_gate.weight", gguf.TypeQ8_0, e, ff), t(p+"ffn_up.weight", gguf.TypeQ8_0, e, ff),
			t(p+"ffn_down.weight", gguf.TypeQ8_0, ff, e))
	}
	tensors = append(tensors, t("output_norm.weight", gguf.TypeF32, e), t("output.weight", gguf.TypeQ8_0, e, v))
	tokens := []string{"<unk>", "<s>", "</s>"}
	types := []int32{2, 3, 3}
	for b := range 256 {
		tokens, types = append(tokens, fmt.Sprintf("<0x%02X>", b)), append(types, 6)
	}
	for i := len(tokens); i < cgVocab; i++ {
		tokens, types = append(tokens, fmt.Sprintf("▁t%d", i)), append(types, 1)
	}
	scores := make([]float32, cgVocab)
	kvs := []ggufwrite.KV{
		{Key: "general.architecture", Value: "llama"}, {Key: "general.name", Value: name},
		{Key: "general.file_type", Value: uint32(7)}, {Key: "general.quantization_version", Value: uint32(2)},
		{Key: "llama.context_length", Value: uint32(4096)}, {Key: "llama.embedding_length", Value: uint32(cgEmbd)},
		{Key: "llama.block_count", Value: uint32(cgLayers)}, {Key: "llama.feed_forward_length", Value: uint32(cgFF)},
		{Key: "llama.attention.head_count", Value: uint32(cgHeads)}, {Key: "llama.attention.head_count_kv", Value: uint32(cgKV)},
		{Key: "llama.rope.dimension_count", Value: uint32(cgEmbd / cgHeads)}, {Key: "llama.rope.freq_base", Value: float32(10000)},
		{Key: "llama.attention.layer_norm_rms_epsilon", Value: float32(1e-5)}, {Key: "llama.vocab_size", Value: uint32(cgVocab)},
		{Key: "tokenizer.ggml.model", Value: "llama"}, {Key: "tokenizer.ggml.tokens", Value: tokens},
		{Key: "tokenizer.ggml.token_type", Value: types}, {Key: "tokenizer.ggml.scores", Value: scores},
		{Key: "tokenizer.ggml.bos_token_id", Value: uint32(1)}, {Key: "tokenizer.ggml.eos_token_id", Value: uint32(2)},
		{Key: "tokenizer.ggml.unknown_token_id", Value: uint32(0)},
	}
	_, err := ggufwrite.WriteSparse(path, kvs, tensors)
	return err
}

const serveChildEnv = "MODELFIT_SERVE_MANY_CHILD"

// cgMargin is the host margin in the cgroup test: plan serve itself is in
// the usage the probe sees, so the margin covers only what no plan counts.
const cgMargin = 16 << 20

// TestServeManyCgroup is issue 14's done-when test: three synthetic models
// served inside a memory cgroup that holds two of them; 30 requests
// alternating between the three all succeed, the cgroup never OOM-kills
// anything, and /status shows the evictions with their reasons. It needs
// root (a writable memory cgroup) and llama-server, and takes a minute:
// `go test ./internal/cli -run TestServeManyCgroup -v` (skipped with -short).
func TestServeManyCgroup(t *testing.T) {
	if args := os.Getenv(serveChildEnv); args != "" {
		// The child: plan serve, inside the cgroup, until SIGTERM.
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		var list []string
		json.Unmarshal([]byte(args), &list)
		os.Exit(Run(ctx, list, os.Stdout, os.Stderr))
	}
	if testing.Short() {
		t.Skip("-short: the cgroup serving test takes a minute")
	}
	bin := llamaServer(t)
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot create a memory cgroup")
	}
	dir, err := os.MkdirTemp("", "multi-serve-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	names := []string{"m1", "m2", "m3"}
	for _, n := range names {
		if err := writeCgroupModel(filepath.Join(dir, n+".gguf"), n); err != nil {
			t.Fatal(err)
		}
	}
	cg, err := launch.NewCgroup(fmt.Sprintf("multi-serve-%d", os.Getpid()), 0)
	if err != nil {
		t.Skipf("cannot create a memory cgroup here: %v", err)
	}
	defer cg.Remove()
	port, err := launch.FreePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	serveArgs := []string{"serve", "--models", dir, "--port", strconv.Itoa(port), "--llama-server", bin,
		"--no-mmap", "-c", "1024", "-ub", "128", "-t", "1", "--host-margin", strconv.Itoa(cgMargin), "--keep-alive", "10m"}
	argsJSON, _ := json.Marshal(serveArgs)
	var out syncWriter
	p, err := launch.Start(context.Background(), launch.Command{Path: os.Args[0], Args: []string{"-test.run=^TestServeManyCgroup$"},
		Env: append(os.Environ(), serveChildEnv+"="+string(argsJSON)), Cgroups: cg.Dirs, Output: &out,
		Ready: launch.HTTPReady(url + "/health"), ReadyTimeout: time.Minute, Grace: 20 * time.Second})
	if err != nil {
		t.Fatalf("plan serve did not start: %v\n%s", err, out.String())
	}
	defer p.Close()
	// The limit: what plan serve holds now, the margin, and what the
	// planner says two models hold, with room to spare, while three copies
	// of the weights alone exceed it: two fit, three do not, even at the
	// smaller size llama.cpp really allocates. The router probes the
	// machine (and so the limit) afresh while no model is loaded.
	f, err := gguf.Open(filepath.Join(dir, "m1.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pl, err := planner.Make(context.Background(), f, probe.Describe(probe.Description{RAMBytes: 1 << 40, Cores: 1}),
		planner.Request{Settings: planner.Settings{NCtx: 1024, NUbatch: 128, Threads: 1}, Pinned: planner.Pins{NCtx: true, NUbatch: true, Threads: true, MMap: true}, ModelPath: "m1.gguf"})
	if err != nil {
		t.Fatal(err)
	}
	planned := pl.Devices[0].TotalBytes + residency.DefaultProcessOverhead
	weights, margin := uint64(f.TensorBytes()), uint64(cgMargin)
	if 3*weights <= 2*planned+margin {
		t.Fatalf("the layout is too small for the test: three models' weights (%d) do not exceed two planned models and the margin (%d)", 3*weights, 2*planned+margin)
	}
	usage, err := cg.Usage()
	if err != nil {
		t.Fatal(err)
	}
	limit := usage + (3*weights+2*planned+margin)/2
	if err := setCgroupLimit(cg, limit); err != nil {
		t.Skipf("cannot limit the cgroup: %v", err)
	}
	// The anonymous memory in the cgroup (what cannot be reclaimed),
	// sampled while the requests run.
	var anonPeak uint64
	sampled := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if st, err := cg.Stat(); err == nil {
				anonPeak = max(anonPeak, st["total_rss"]+st["anon"])
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	start := time.Now()
	for i := range 30 {
		m := names[i%3]
		code, body, err := completion(url, m, i%2 == 1)
		if err != nil || code != 200 {
			t.Fatalf("request %d for %s: %d %s %v\nplan serve's output:\n%s", i, m, code, body, err, out.String())
		}
	}
	elapsed := time.Since(start)
	close(done)
	<-sampled
	st := getStatus(t, url)
	kills, err := cg.OOMKills()
	if err != nil {
		t.Fatal(err)
	}
	peak, _ := cg.Peak()
	failcnt, ferr := readCgroupUint(cg.Dir, "memory.failcnt")
	if ferr != nil {
		failcnt = 0 // cgroup v2 has no failcnt: memory.events' max counts the same
		if ev, err := readKVFile(filepath.Join(cg.Dir, "memory.events")); err == nil {
			failcnt = ev["max"]
		}
	}
	if kills != 0 {
		t.Errorf("the OOM killer killed %d processes in the cgroup", kills)
	}
	var evictions, loads, crashes int
	for _, d := range st.Decisions {
		switch d.Action {
		case residency.Evict:
			evictions++
			if len(d.Evict) == 0 || !strings.Contains(d.Evict[0].Why, "frees") || len(d.Reasons) == 0 {
				t.Errorf("eviction without its reason: %+v", d)
			}
		case residency.Load:
			loads++
		default:
			t.Errorf("decision %s: %s", d.Action, d.Why)
		}
	}
	running, most := 0, 0
	for _, e := range st.Events {
		switch e.Kind {
		case "load":
			running++
		case "unload":
			running--
		case "crashed", "load failed":
			crashes++
		}
		most = max(most, running)
	}
	if evictions < 20 || crashes != 0 || most != 2 {
		t.Errorf("%d evictions, %d crashes, at most %d models loaded; want ≥ 20 evictions, no crash, two at a time\n%s", evictions, crashes, most, out.String())
	}
	var example string
	for _, d := range st.Decisions {
		if d.Action == residency.Evict {
			example = d.Evict[0].ID + ": " + d.Evict[0].Why
			break
		}
	}
	t.Logf("30 requests in %s: %d loads, %d evictions (e.g. %s); cgroup limit %d MiB, peak usage %d MiB (page cache included), peak anonymous %d MiB, failcnt %d, OOM kills %d",
		elapsed.Round(time.Millisecond), loads, evictions, example, limit>>20, peak>>20, anonPeak>>20, failcnt, kills)
	stopped := time.Now()
	if err := p.Close(); err != nil {
		t.Error(err)
	}
	if err := p.Wait(); err != nil {
		t.Errorf("plan serve: %v\n%s", err, out.String())
	}
	// Everything plan serve started has stopped with it: the cgroup
	// empties (an exiting process may take a moment to leave it).
	deadline := time.Now().Add(30 * time.Second)
	for {
		tasks, _ := os.ReadFile(filepath.Join(cg.Dir, "cgroup.procs"))
		if len(bytes.TrimSpace(tasks)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes remain in the cgroup after plan serve stopped: %s", tasks)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("plan serve and its llama-servers stopped in %s", time.Since(stopped).Round(time.Millisecond))
}

func setCgroupLimit(cg *launch.Cgroup, limit uint64) error {
	v := strconv.FormatUint(limit, 10)
	if cg.Version == 2 {
		return os.WriteFile(filepath.Join(cg.Dir, "memory.max"), []byte(v), 0)
	}
	// memory+swap first when raising, memory first when lowering: the
	// kernel keeps memsw ≥ memory. Both start unlimited here.
	if err := os.WriteFile(filepath.Join(cg.Dir, "memory.limit_in_bytes"), []byte(v), 0); err != nil {
		return err
	}
	os.WriteFile(filepath.Join(cg.Dir, "memory.memsw.limit_in_bytes"), []byte(v), 0)
	return nil
}

func readKVFile(path string) (map[string]uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			out[f[0]], _ = strconv.ParseUint(f[1], 10, 64)
		}
	}
	return out, nil
}

func readCgroupUint(dir, name string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
