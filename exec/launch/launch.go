// Package launch starts helper processes that must not outlive their parent
// (llama-server, ggml-rpc-server, …): each in its own process group, killed
// with its parent (Pdeathsig on Linux), optionally placed in a cgroup, with
// its output captured and a readiness probe waited for.
package launch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Command describes a process to start. The zero value of every optional
// field means its default.
type Command struct {
	Path string   // the executable
	Args []string // arguments, without the program name
	Env  []string // the environment; nil inherits the parent's
	Dir  string   // working directory; "" = the parent's

	// Cgroups are cgroup directories to start the process in: one cgroup v2
	// directory, or v1 directories of different hierarchies (memory, cpu).
	// The process is in them from its first instruction. Empty leaves it in
	// the parent's cgroups.
	Cgroups []string

	// Output receives the process's stdout and stderr as they arrive, in
	// addition to the captured Log. Writes must not block for long.
	Output io.Writer
	// LogLimit bounds the captured log: its first and its last LogLimit/2
	// bytes are kept. 0 = 4 MiB.
	LogLimit int

	// Ready, when set, is polled until it returns nil: Start returns then.
	// Start fails when the process exits first, when ReadyTimeout passes
	// (0 = no limit beyond the context), or when the context ends.
	Ready        func(ctx context.Context) error
	ReadyTimeout time.Duration
	// PollInterval is the time between Ready polls; 0 = 50 ms.
	PollInterval time.Duration

	// Grace is how long Close waits after SIGTERM before SIGKILL; 0 = 5 s.
	Grace time.Duration
}

// Process is a started process. Its whole process group is killed when it
// is closed, when the context given to Start ends, when the parent process
// dies (Linux), and when the process itself exits (so nothing it started
// stays behind).
type Process struct {
	cmd     *exec.Cmd
	log     *Log
	grace   time.Duration
	started time.Time

	done   chan struct{} // closed when the process has exited and been reaped
	state  *os.ProcessState
	err    error // wait error other than a non-zero exit
	oom    bool  // killed by the kernel's OOM killer
	closed chan struct{}

	closeOnce sync.Once
	mu        sync.Mutex
	stopping  bool // Close sent the signals: the exit is expected
}

// ErrNotReady is matched by the error Start returns when the process did not
// become ready (it exited, the timeout passed or the context ended).
var ErrNotReady = errors.New("launch: process did not become ready")

// ExitError describes a process that ended on its own.
type ExitError struct {
	Path string
	// Code is the exit status, or -1 when a signal ended the process.
	Code int
	// Signal is the signal that ended it (0 for a normal exit).
	Signal syscall.Signal
	// OOMKilled is set when the kernel's OOM killer ended it: it died of
	// SIGKILL while the OOM-kill counter of its memory cgroup (or, where
	// that cannot be read, the system's) went up.
	OOMKilled bool
}

func (e *ExitError) Error() string {
	switch {
	case e.OOMKilled:
		return fmt.Sprintf("launch: %s was killed by the kernel's OOM killer (exit status 137)", e.Path)
	case e.Signal != 0:
		return fmt.Sprintf("launch: %s was killed by signal %d (%v)", e.Path, int(e.Signal), e.Signal)
	}
	return fmt.Sprintf("launch: %s exited with status %d", e.Path, e.Code)
}

// ExitStatus is the shell's view of the exit: the code, or 128 + the signal.
func (e *ExitError) ExitStatus() int {
	if e.Signal != 0 {
		return 128 + int(e.Signal)
	}
	return e.Code
}

// Start starts c and, when c.Ready is set, waits until the process is
// ready. The process is stopped when ctx ends, at any time.
func Start(ctx context.Context, c Command) (*Process, error) {
	if c.Path == "" {
		return nil, errors.New("launch: no executable")
	}
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Env, cmd.Dir = c.Env, c.Dir
	p := &Process{
		cmd:    cmd,
		log:    newLog(orInt(c.LogLimit, 4<<20), c.Output),
		grace:  orDuration(c.Grace, 5*time.Second),
		done:   make(chan struct{}),
		closed: make(chan struct{}),
	}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := start(p, c.Cgroups); err != nil {
		return nil, fmt.Errorf("launch: %s: %w", c.Path, err)
	}
	go func() {
		select {
		case <-ctx.Done():
			p.Close()
		case <-p.done:
		case <-p.closed:
		}
	}()
	if c.Ready == nil {
		return p, nil
	}
	if err := p.waitReady(ctx, c); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// waitReady polls c.Ready until it succeeds or the process exits.
func (p *Process) waitReady(ctx context.Context, c Command) error {
	if c.ReadyTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.ReadyTimeout)
		defer cancel()
	}
	tick := time.NewTicker(orDuration(c.PollInterval, 50*time.Millisecond))
	defer tick.Stop()
	var last error
	for {
		// A probe ends early when the process exits: what answers then is
		// not this process.
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		go func() {
			select {
			case <-p.done:
				cancel()
			case <-pctx.Done():
			}
		}()
		last = c.Ready(pctx)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-p.done:
			cause := p.exitError()
			if cause == nil {
				cause = fmt.Errorf("%s exited with status 0", c.Path)
			}
			return &NotReadyError{Cause: cause, Log: p.log, Exited: true}
		case <-ctx.Done():
			return &NotReadyError{Cause: fmt.Errorf("%w (last probe: %v)", ctx.Err(), last), Log: p.log}
		case <-tick.C:
		}
	}
}

// NotReadyError says why a process did not become ready; it matches
// ErrNotReady and unwraps to the cause (an *ExitError when the process
// exited, a context error when time ran out).
type NotReadyError struct {
	Cause  error
	Log    *Log // the process's output until then
	Exited bool // the process exited (else time ran out)
}

func (e *NotReadyError) Error() string {
	return "launch: process did not become ready: " + e.Cause.Error()
}

// Unwrap returns the cause.
func (e *NotReadyError) Unwrap() error { return e.Cause }

// Is matches ErrNotReady.
func (e *NotReadyError) Is(target error) bool { return target == ErrNotReady }

// PID is the process id (also its process group id).
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Started is when the process was started.
func (p *Process) Started() time.Time { return p.started }

// Log is the process's captured output.
func (p *Process) Log() *Log { return p.log }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit and returns nil when it exited with
// status 0 or was stopped by Close, else an *ExitError (or the wait error).
func (p *Process) Wait() error {
	<-p.done
	return p.exitError()
}

// exitError is Wait's result once the process is done.
func (p *Process) exitError() error {
	if p.err != nil {
		return fmt.Errorf("launch: %s: %w", p.cmd.Path, p.err)
	}
	p.mu.Lock()
	stopping := p.stopping
	p.mu.Unlock()
	if p.state == nil || p.state.Success() || stopping {
		return nil
	}
	e := &ExitError{Path: p.cmd.Path, Code: p.state.ExitCode(), OOMKilled: p.oom}
	if ws, ok := p.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		e.Signal = ws.Signal()
	}
	return e
}

// State is the exit state once the process is done, else nil.
func (p *Process) State() *os.ProcessState {
	select {
	case <-p.done:
		return p.state
	default:
		return nil
	}
}

// Close stops the process group: SIGTERM, then SIGKILL after the grace
// period, and waits for the process to exit. It returns nil once the
// process is gone (the error is for io.Closer); calling it again does
// nothing.
func (p *Process) Close() error {
	p.closeOnce.Do(func() {
		close(p.closed)
		select {
		case <-p.done:
			return
		default:
		}
		p.mu.Lock()
		p.stopping = true
		p.mu.Unlock()
		signalGroup(p.cmd.Process, syscall.SIGTERM)
		t := time.NewTimer(p.grace)
		defer t.Stop()
		select {
		case <-p.done:
		case <-t.C:
			signalGroup(p.cmd.Process, syscall.SIGKILL)
			<-p.done
		}
	})
	return nil
}

// HTTPReady returns a readiness probe that GETs url and succeeds on a 200
// response.
func HTTPReady(url string) func(ctx context.Context) error {
	client := &http.Client{}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		return nil
	}
}

// TCPReady returns a readiness probe that succeeds once addr accepts a TCP
// connection (a server without a health endpoint, such as ggml-rpc-server).
func TCPReady(addr string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// FreePort returns a TCP port on host that was free a moment ago (the
// kernel's choice for port 0). Another process can take it before it is
// used: callers that pass it on should retry on "address in use".
func FreePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("launch: no free port on %s: %w", host, err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return strconv.Atoi(port)
}

func orInt(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func orDuration(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}
