//go:build linux

package launch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv selects what the re-executed test binary does (TestMain).
const helperEnv = "MODELFIT_LAUNCH_HELPER"

// TestMain turns the test binary into the helper processes the tests start.
func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		helper(mode, os.Args[1:])
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func helper(mode string, args []string) {
	switch mode {
	case "http": // serve /health after a delay, exit 0 on SIGTERM
		delay, _ := time.ParseDuration(args[1])
		fmt.Println("starting")
		time.Sleep(delay)
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		l, err := net.Listen("tcp", "127.0.0.1:"+args[0])
		if err != nil {
			fmt.Println("listen:", err)
			os.Exit(3)
		}
		go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }))
		fmt.Println("listening")
		<-sig
		fmt.Println("terminated")
	case "ignore-term": // only SIGKILL stops it
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ignoring SIGTERM")
		time.Sleep(time.Hour)
	case "grandchild": // start a grandchild that ignores SIGTERM; print its pid; then wait or exit
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), helperEnv+"=ignore-term")
		if err := cmd.Start(); err != nil {
			fmt.Println("start:", err)
			os.Exit(3)
		}
		fmt.Printf("grandchild %d\n", cmd.Process.Pid)
		if args[0] == "exit" {
			time.Sleep(200 * time.Millisecond)
			os.Exit(0)
		}
		time.Sleep(time.Hour)
	case "silent": // ignore SIGTERM and write nothing (a write to a closed pipe would kill it)
		signal.Ignore(syscall.SIGTERM)
		time.Sleep(time.Hour)
	case "parent": // launch a child with this package, print its pid, sleep until killed
		p, err := Start(context.Background(), Command{Path: os.Args[0], Env: append(os.Environ(), helperEnv+"=silent")})
		if err != nil {
			fmt.Println("start:", err)
			os.Exit(3)
		}
		fmt.Printf("child %d\n", p.PID())
		time.Sleep(time.Hour)
	case "exit":
		code, _ := strconv.Atoi(args[0])
		fmt.Fprintln(os.Stderr, "exiting with", code)
		os.Exit(code)
	case "cgroup": // print this process's cgroups
		b, _ := os.ReadFile("/proc/self/cgroup")
		os.Stdout.Write(b)
	case "alloc": // touch memory until killed
		var keep [][]byte
		for {
			b := make([]byte, 16<<20)
			for i := range b {
				if i%4096 == 0 {
					b[i] = 1
				}
			}
			keep = append(keep, b)
		}
	case "noise": // write more than the log keeps
		for i := 0; i < 10000; i++ {
			fmt.Printf("line %05d\n", i)
		}
	}
}

func helperCmd(mode string, args ...string) Command {
	return Command{Path: os.Args[0], Args: args, Env: append(os.Environ(), helperEnv+"="+mode), Grace: 2 * time.Second}
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

// gone waits up to 5 s for pid to die.
func gone(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("%s (pid %d) is still running", what, pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitLine waits for a line with prefix in the process's log and returns
// the rest of it.
func waitLine(t *testing.T, p *Process, prefix string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range strings.Split(p.Log().String(), "\n") {
			if rest, ok := strings.CutPrefix(l, prefix); ok {
				return strings.TrimSpace(rest)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %q line in the log:\n%s", prefix, p.Log())
	return ""
}

func linuxOnly(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs Linux's /proc")
	}
}

func TestReadyAndClose(t *testing.T) {
	linuxOnly(t)
	port, err := FreePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	c := helperCmd("http", strconv.Itoa(port), "300ms")
	c.Ready = HTTPReady(fmt.Sprintf("http://127.0.0.1:%d/health", port))
	start := time.Now()
	p, err := Start(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("Start returned after %v, before the helper listened", d)
	}
	if err := TCPReady(fmt.Sprintf("127.0.0.1:%d", port))(context.Background()); err != nil {
		t.Errorf("TCPReady on a listening port: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		t.Errorf("a process stopped by Close: Wait = %v, want nil", err)
	}
	if err := TCPReady(fmt.Sprintf("127.0.0.1:%d", port))(context.Background()); err == nil {
		t.Error("TCPReady succeeds on a closed port")
	}
	if !strings.Contains(p.Log().String(), "terminated") {
		t.Errorf("SIGTERM did not reach the helper's handler; log:\n%s", p.Log())
	}
	gone(t, p.PID(), "the helper")
}

func TestCloseKillsWhatIgnoresSIGTERM(t *testing.T) {
	linuxOnly(t)
	c := helperCmd("ignore-term")
	c.Grace = 300 * time.Millisecond
	p, err := Start(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	waitLine(t, p, "ignoring")
	start := time.Now()
	p.Close()
	if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
		t.Errorf("Close took %v; want the 300 ms grace, then SIGKILL", d)
	}
	gone(t, p.PID(), "the helper")
}

// TestGroupDies: a grandchild in the process group dies with Close, and
// when the process it belongs to exits on its own.
func TestGroupDies(t *testing.T) {
	linuxOnly(t)
	for _, how := range []string{"close", "exit"} {
		t.Run(how, func(t *testing.T) {
			c := helperCmd("grandchild", how)
			c.Grace = 300 * time.Millisecond
			p, err := Start(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			gc, _ := strconv.Atoi(waitLine(t, p, "grandchild "))
			if how == "close" {
				p.Close()
			} else {
				<-p.Done()
			}
			gone(t, p.PID(), "the helper")
			gone(t, gc, "its grandchild")
		})
	}
}

func TestContextCancelStops(t *testing.T) {
	linuxOnly(t)
	ctx, cancel := context.WithCancel(context.Background())
	c := helperCmd("ignore-term")
	c.Grace = 200 * time.Millisecond
	p, err := Start(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	waitLine(t, p, "ignoring")
	cancel()
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the process outlived its context")
	}
	gone(t, p.PID(), "the helper")
}

// TestParentDeath kills a parent process (a helper that launched a child
// with this package) with SIGKILL: Pdeathsig must take the child down.
func TestParentDeath(t *testing.T) {
	linuxOnly(t)
	parent := exec.Command(os.Args[0])
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
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "child ")))
	if err != nil {
		t.Fatalf("parent printed %q", line)
	}
	if !alive(child) {
		t.Fatal("the child is not running")
	}
	parent.Process.Kill()
	parent.Wait()
	gone(t, child, "the child of a killed parent")
}

func TestExitBeforeReady(t *testing.T) {
	linuxOnly(t)
	c := helperCmd("exit", "7")
	c.Ready = func(context.Context) error { return errors.New("not yet") }
	_, err := Start(context.Background(), c)
	var ee *ExitError
	if !errors.Is(err, ErrNotReady) || !errors.As(err, &ee) || ee.Code != 7 || ee.ExitStatus() != 7 {
		t.Fatalf("err = %v; want ErrNotReady wrapping an exit with status 7", err)
	}
}

func TestReadyTimeout(t *testing.T) {
	linuxOnly(t)
	c := helperCmd("ignore-term")
	c.Grace = 100 * time.Millisecond
	c.ReadyTimeout = 200 * time.Millisecond
	c.Ready = func(context.Context) error { return errors.New("not yet") }
	_, err := Start(context.Background(), c)
	if !errors.Is(err, ErrNotReady) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want ErrNotReady after the deadline", err)
	}
}

func TestExitStatus(t *testing.T) {
	linuxOnly(t)
	p, err := Start(context.Background(), helperCmd("exit", "3"))
	if err != nil {
		t.Fatal(err)
	}
	var ee *ExitError
	if err := p.Wait(); !errors.As(err, &ee) || ee.Code != 3 || ee.OOMKilled {
		t.Fatalf("Wait = %v, want exit status 3", err)
	}
	if !strings.Contains(p.Log().String(), "exiting with 3") {
		t.Errorf("stderr not captured: %q", p.Log())
	}
}

func TestLogBounded(t *testing.T) {
	linuxOnly(t)
	c := helperCmd("noise")
	c.LogLimit = 2000
	var all strings.Builder
	c.Output = &all
	p, err := Start(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	p.Wait()
	s := p.Log().String()
	if !strings.HasPrefix(s, "line 00000\n") || !strings.HasSuffix(s, "line 09999\n") || !strings.Contains(s, "bytes of output left out") {
		t.Errorf("log keeps %d bytes: head %q, tail %q", len(s), s[:min(len(s), 40)], s[max(len(s)-40, 0):])
	}
	if len(s) > 2100 {
		t.Errorf("log keeps %d bytes, limit 2000", len(s))
	}
	if p.Log().Len() != int64(all.Len()) || all.Len() != 10000*11 {
		t.Errorf("streamed %d bytes, counted %d, want %d", all.Len(), p.Log().Len(), 10000*11)
	}
}

func TestLogWrites(t *testing.T) {
	l := newLog(10, nil)
	for _, s := range []string{"abc", "defg", "hij", "klmnopqrstu", "vw", "xyz"} {
		l.Write([]byte(s))
	}
	got := l.String()
	want := "abcde\n[… 16 bytes of output left out …]\nvwxyz"
	if got != want {
		t.Errorf("log %q, want %q", got, want)
	}
	if string(l.Tail(3)) != "xyz" || string(l.Head()) != "abcde" {
		t.Errorf("tail %q head %q", l.Tail(3), l.Head())
	}
}

// TestCgroupPlacement starts processes inside a memory cgroup made for
// them: one is in it from the start, one that allocates without bound is
// killed by the OOM killer and reported as such.
func TestCgroupPlacement(t *testing.T) {
	linuxOnly(t)
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot make a memory cgroup")
	}
	cg, err := NewCgroup(fmt.Sprintf("modelfit-launch-test-%d", os.Getpid()), 64<<20)
	if err != nil {
		t.Skipf("cannot make a memory cgroup here: %v", err)
	}
	defer cg.Remove()
	c := helperCmd("cgroup")
	c.Cgroups = cg.Dirs
	p, err := Start(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	rel := strings.TrimPrefix(cg.Dir, cgroupRoot)
	rel = strings.TrimPrefix(rel, "/memory")
	if !strings.Contains(p.Log().String(), rel+"\n") {
		t.Errorf("the child is not in %s:\n%s", rel, p.Log())
	}
	// This process stays where it was.
	self, err := CgroupOf(os.Getpid())
	if err != nil || self.Dir == cg.Dir {
		t.Errorf("this process is in %v (%v); it must not have moved", self, err)
	}

	c = helperCmd("alloc")
	c.Cgroups = cg.Dirs
	p, err = Start(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	err = p.Wait()
	var ee *ExitError
	if !errors.As(err, &ee) || !ee.OOMKilled || ee.ExitStatus() != 137 {
		t.Fatalf("Wait = %v; want an OOM kill (137)", err)
	}
	if n, err := cg.OOMKills(); err != nil || n == 0 {
		t.Errorf("cgroup OOM kills = %d, %v", n, err)
	}
	// The peak may pass the limit by a few pages charged in bulk before
	// reclaim (memcg's per-CPU charge batch); a runaway child would pass
	// it by far more.
	if peak, err := cg.Peak(); err == nil && peak > 65<<20 {
		t.Errorf("cgroup peak %d more than 1 MiB above its 64 MiB limit", peak)
	}
}

// Starting into a cgroup v1 moves the starting thread there (the child
// inherits it). That must never be the main thread: the kernel reports
// the process's cgroup (/proc/PID/cgroup) and charges its memory (v1
// charges follow the thread-group leader) by it. Many starts from several
// goroutines give the scheduler every chance to run one on the main thread.
func TestCgroupLeavesMainThread(t *testing.T) {
	linuxOnly(t)
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot make a memory cgroup")
	}
	before, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	cg, err := NewCgroup(fmt.Sprintf("modelfit-launch-main-%d", os.Getpid()), 64<<20)
	if err != nil {
		t.Skipf("cannot make a memory cgroup here: %v", err)
	}
	defer cg.Remove()
	errc := make(chan error)
	for g := 0; g < 4; g++ {
		go func() {
			for i := 0; i < 8; i++ {
				c := helperCmd("cgroup")
				c.Cgroups = cg.Dirs
				p, err := Start(context.Background(), c)
				if err == nil {
					err = p.Wait()
				}
				if err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	after, _ := os.ReadFile("/proc/self/cgroup")
	if string(after) != string(before) {
		t.Errorf("this process's cgroups changed:\n%s\nwas:\n%s", after, before)
	}
}
