//go:build linux

package llamaserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelfit/modelfit/exec/launch"
	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/probe"
)

const helperEnv = "MODELFIT_LLAMASERVER_HELPER"

// TestMain lets the test binary act as a parent process that starts a
// llama-server and is then killed (TestParentDeath).
func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "parent" {
		s, err := Start(context.Background(), testPlan(nil, os.Args[2], nil), Options{Binary: os.Args[1]})
		if err != nil {
			fmt.Println("start:", err)
			os.Exit(3)
		}
		fmt.Printf("server %d\n", s.Process.PID())
		time.Sleep(time.Hour)
	}
	os.Exit(m.Run())
}

// binary returns the shared llama-server, or skips.
func binary(t *testing.T) string {
	t.Helper()
	return testutil.Shared(t, "tools", "llama.cpp", "bin", "llama-server")
}

var synth = testutil.Path("models", "synth-llama-gqa-Q4_K_M.gguf")

// testPlan plans model for a described 8 GiB, 2-core machine with a small
// context; edit adjusts the request.
func testPlan(t *testing.T, model string, edit func(*planner.Request)) *planner.Plan {
	f, err := gguf.Open(model)
	if err != nil {
		if t == nil {
			panic(err)
		}
		t.Fatal(err)
	}
	defer f.Close()
	req := planner.Request{ModelPath: model}
	req.Settings.NCtx, req.Pinned.NCtx = 512, true
	req.Settings.NUbatch, req.Pinned.NUbatch = 128, true
	if edit != nil {
		edit(&req)
	}
	p, err := planner.Make(context.Background(), f, probe.Describe(probe.Description{RAMBytes: 8 << 30, Cores: 2}), req)
	if err != nil {
		if t == nil {
			panic(err)
		}
		t.Fatal(err)
	}
	return p
}

// alive reports whether pid is a live process (not gone, not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func gone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("llama-server (pid %d) is still running", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDetect(t *testing.T) {
	f, err := Detect(context.Background(), binary(t))
	if err != nil {
		t.Fatal(err)
	}
	if f.Build != 10587 || f.ArgsStyle() != planner.ArgsLoadMode || !f.Has("--no-repack") || !f.Has("--fit") || !f.Has("-lv") {
		t.Errorf("the shared build 10587: %+v", f)
	}
}

func TestServer(t *testing.T) {
	bin := binary(t)
	p := testPlan(t, synth, nil)
	s, err := Start(context.Background(), p, Options{Binary: bin, Verbosity: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	args := strings.Join(s.Args, " ")
	for _, want := range []string{"-m " + synth, "-c 512", "-ub 128", "--load-mode mmap", "--fit off", "-lv 4", "--cache-ram 0", "--host 127.0.0.1"} {
		if !strings.Contains(args, want) {
			t.Errorf("arguments lack %q: %s", want, args)
		}
	}
	var streamed strings.Builder
	seed, temp := uint64(1), 0.0
	c, err := s.Complete(context.Background(), CompletionRequest{Prompt: "Once upon a time", NPredict: 8, Seed: &seed, Temperature: &temp, IgnoreEOS: true, Grammar: ValidUTF8},
		func(text string) error { streamed.WriteString(text); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if c.TokensPredicted != 8 || c.Timings.PredictedN != 8 || c.Timings.PromptN < 4 || c.Timings.PredictedPerSecond <= 0 || c.Content != streamed.String() || c.Content == "" {
		t.Errorf("completion %+v, streamed %q", c, streamed.String())
	}
	b := s.Buffers()
	if v, ok := b.Device("KV", "CPU"); !ok || v != 1.0 || b.LoadMode != "mmap" {
		t.Errorf("logged buffers %+v", b)
	}
	ids, err := s.Tokenize(context.Background(), "Once upon a time")
	if err != nil || len(ids) < 3 {
		t.Errorf("tokenize: %v, %v", ids, err)
	}
	pid := s.Process.PID()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	gone(t, pid)
	if s.LoadTime() <= 0 {
		t.Errorf("load time %v", s.LoadTime())
	}
}

// TestStartFailures: each way a start fails gives its typed error.
func TestStartFailures(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	t.Run("corrupt model", func(t *testing.T) {
		data, err := os.ReadFile(synth)
		if err != nil {
			t.Fatal(err)
		}
		trunc := filepath.Join(dir, "trunc.gguf")
		os.WriteFile(trunc, data[:len(data)*2/3], 0o644)
		p := testPlan(t, synth, nil)
		p.Model.Path = trunc
		_, err = Start(context.Background(), p, Options{Binary: bin})
		var e *Error
		if !errors.Is(err, ErrLoad) || !errors.As(err, &e) || !strings.Contains(e.Message, "lacks") || e.Exit != nil {
			t.Fatalf("err = %v; want ErrLoad before starting", err)
		}
		// Started anyway, llama.cpp says the same in its words (or, when
		// it exits before its logger thread writes, the exit while
		// loading is a load failure all the same).
		f, err := Detect(context.Background(), bin)
		if err != nil {
			t.Fatal(err)
		}
		_, err = StartArgs(context.Background(), f, PlanArgs(p, f), Options{})
		switch {
		case errors.Is(err, ErrExited) && errors.As(err, &e) && !strings.Contains(e.LogTail, "error loading model"):
			t.Logf("llama.cpp exited before its logger wrote the reason: %v", err)
		case !errors.Is(err, ErrLoad) || !errors.As(err, &e) || e.Exit == nil:
			t.Fatalf("err = %v; want ErrLoad", err)
		default:
			t.Logf("llama.cpp: %v", err)
		}
	})
	t.Run("port in use", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		port := l.Addr().(*net.TCPAddr).Port
		_, err = Start(context.Background(), testPlan(t, synth, nil), Options{Binary: bin, Port: port})
		var e *Error
		if !errors.Is(err, ErrPortInUse) || !errors.As(err, &e) || e.Port != port {
			t.Fatalf("err = %v; want ErrPortInUse on %d", err, port)
		}
	})
	t.Run("allocation", func(t *testing.T) {
		// The same binary behind a 3 GB address-space limit, and a context
		// whose KV cache needs 4 GB: ggml's allocation fails.
		wrapper := filepath.Join(dir, "llama-server-ulimit")
		os.WriteFile(wrapper, []byte("#!/bin/sh\nulimit -v 3000000\nexec "+bin+" \"$@\"\n"), 0o755)
		p := testPlan(t, synth, func(r *planner.Request) { r.Settings.NCtx = 2 << 20 })
		var err error
		var e *Error
		// llama.cpp's logger thread can lose its last lines when the
		// process exits (upstream issue 22142): a load failure without
		// its reason is tried again, at most twice.
		for range 3 {
			_, err = Start(context.Background(), p, Options{Binary: wrapper})
			if !errors.Is(err, ErrLoad) || !errors.As(err, &e) || e.Buffer != "" {
				break
			}
			t.Logf("the log lost the reason, again: %v", err)
		}
		if !errors.Is(err, ErrLoad) || !errors.As(err, &e) || e.Buffer != "CPU" || e.Size < 4<<30 || !strings.Contains(e.Message, "kv cache") {
			t.Fatalf("err = %v; want ErrLoad naming the CPU buffer and its size", err)
		}
	})
	t.Run("binary too old", func(t *testing.T) {
		// A binary whose --help lacks --no-repack is refused before it runs.
		old := filepath.Join(dir, "llama-server-old")
		os.WriteFile(old, []byte("#!/bin/sh\ncat <<'EOF'\n"+helpOld+"EOF\n"), 0o755)
		p := testPlan(t, synth, func(r *planner.Request) { r.Settings.NoRepack, r.Pinned.NoRepack = true, true })
		_, err := Start(context.Background(), p, Options{Binary: old})
		var e *Error
		if !errors.Is(err, ErrUnsupportedFlag) || !errors.As(err, &e) || e.Flag != "--no-repack" || e.Exit != nil {
			t.Fatalf("err = %v; want ErrUnsupportedFlag --no-repack, before starting", err)
		}
		// One whose --help claims a flag its parser then rejects.
		liar := filepath.Join(dir, "llama-server-liar")
		os.WriteFile(liar, []byte("#!/bin/sh\nif [ \"$1\" = --help ]; then exec "+bin+" --help; fi\necho 'error: invalid argument: --load-mode' >&2\nexit 1\n"), 0o755)
		_, err = Start(context.Background(), testPlan(t, synth, nil), Options{Binary: liar})
		if !errors.Is(err, ErrUnsupportedFlag) || !errors.As(err, &e) || e.Flag != "--load-mode" || e.Exit == nil {
			t.Fatalf("err = %v; want ErrUnsupportedFlag --load-mode from the log", err)
		}
	})
}

// TestOOMKilled starts the server in a 48 MiB memory cgroup with a context
// whose KV cache (256 MiB, cleared at load) cannot fit: the OOM killer
// ends it and the error says so.
func TestOOMKilled(t *testing.T) {
	bin := binary(t)
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot make a memory cgroup")
	}
	cg, err := launch.NewCgroup(fmt.Sprintf("modelfit-llamaserver-test-%d", os.Getpid()), 48<<20)
	if err != nil {
		t.Skipf("cannot make a memory cgroup here: %v", err)
	}
	defer cg.Remove()
	p := testPlan(t, synth, func(r *planner.Request) { r.Settings.NCtx = 128 << 10 })
	_, err = Start(context.Background(), p, Options{Binary: bin, Cgroups: cg.Dirs})
	var e *Error
	if !errors.Is(err, ErrOOMKilled) || !errors.As(err, &e) || e.Exit == nil || e.Exit.ExitStatus() != 137 {
		t.Fatalf("err = %v; want ErrOOMKilled (137)", err)
	}
	if n, _ := cg.OOMKills(); n == 0 {
		t.Error("the cgroup counted no OOM kill")
	}
}

func TestContextCancel(t *testing.T) {
	bin := binary(t)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Start(ctx, testPlan(t, synth, nil), Options{Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-s.Process.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("llama-server outlived its context")
	}
	gone(t, s.Process.PID())
	// A context that ends while the model loads stops the start too.
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := Start(ctx, testPlan(t, synth, nil), Options{Binary: bin}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v; want the context's deadline", err)
	}
}

// TestParentDeath kills a parent process that started llama-server through
// this package: the server must die with it.
func TestParentDeath(t *testing.T) {
	bin := binary(t)
	parent := exec.Command(os.Args[0], bin, synth)
	parent.Env = append(os.Environ(), helperEnv+"=parent")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	defer parent.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	pid, perr := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "server ")))
	if err != nil || perr != nil {
		t.Fatalf("parent printed %q (%v)", line, err)
	}
	if !alive(pid) {
		t.Fatal("llama-server is not running")
	}
	parent.Process.Kill()
	parent.Wait()
	gone(t, pid)
}
