package llamaserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/modelfit/modelfit/exec/launch"
	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/planner"
)

// Options control how the server is started. The zero value of every field
// means its default.
type Options struct {
	// Binary is the llama-server to run (see Locate). Required.
	Binary string
	// Host is the address to listen on; "" = 127.0.0.1 (loopback only).
	Host string
	// Port to listen on; 0 = a free port chosen here (retried when another
	// process takes it first).
	Port int
	// Verbosity is llama.cpp's -lv; 0 leaves the binary's default (3).
	// At 4 it logs the buffer sizes (Server.Buffers).
	Verbosity int
	// PromptCache keeps llama-server's prompt cache (--cache-ram, up to
	// 8 GiB of host memory by default that no plan counts). Off unless set:
	// the server then holds what the plan says.
	PromptCache bool
	// ExtraArgs are appended after the plan's (llama.cpp takes the last
	// value of a repeated flag).
	ExtraArgs []string
	// Env is the server's environment; nil inherits this process's.
	Env []string
	// Cgroups start the server inside these cgroup directories
	// (launch.Command.Cgroups).
	Cgroups []string
	// Log receives the server's output as it comes (it is also captured).
	Log io.Writer
	// StartTimeout bounds loading until /health answers; 0 = no bound but
	// the context's.
	StartTimeout time.Duration
	// Grace is how long Close waits after SIGTERM before SIGKILL; 0 = 5 s.
	Grace time.Duration
}

// Server is a running llama-server.
type Server struct {
	URL      string // http://host:port
	Port     int
	Args     []string // the arguments it was started with
	Features *Features
	Process  *launch.Process
	// Ready is when /health first answered (the model is loaded).
	Ready time.Time
}

// Start starts llama-server with the plan's arguments, spelled the way the
// binary understands (--load-mode or the classic flags, from its --help),
// and returns when it serves. Every flag is checked against the binary
// first: a plan that needs a flag it lacks is an error matching
// ErrUnsupportedFlag, not a server with different settings.
func Start(ctx context.Context, plan *planner.Plan, opts Options) (*Server, error) {
	if plan == nil {
		return nil, errors.New("llamaserver: nil plan")
	}
	if plan.Model.Path == "" {
		return nil, errors.New("llamaserver: the plan names no model file")
	}
	if opts.Binary == "" {
		return nil, &Error{Kind: ErrNotFound, Message: "no binary given (see Locate)"}
	}
	if err := checkModel(plan.Model.Path); err != nil {
		return nil, err
	}
	f, err := Detect(ctx, opts.Binary)
	if err != nil {
		return nil, err
	}
	return StartArgs(ctx, f, PlanArgs(plan, f), opts)
}

// checkModel refuses a model file llama.cpp cannot load for want of its
// data, before starting anything: llama.cpp's own message would say so, but
// its log can be lost when it exits at once (see classify).
func checkModel(path string) error {
	f, err := gguf.Open(path)
	if err != nil {
		return &Error{Kind: ErrLoad, Message: err.Error()}
	}
	defer f.Close()
	if n := f.MissingBytes(); n > 0 {
		return &Error{Kind: ErrLoad, Message: fmt.Sprintf("%s lacks %d bytes of tensor data: the file is truncated or header-only", path, n)}
	}
	return nil
}

// PlanArgs renders the plan as arguments for the binary f describes.
func PlanArgs(plan *planner.Plan, f *Features) []string {
	args := plan.LlamaCppArgs(f.ArgsStyle())
	if f.Has("--fit") && !slices.Contains(args, "--fit") { // a plan over RPC hosts says it already
		// The plan has decided every setting: llama.cpp's own fitting
		// (on by default in current builds) must not change them.
		args = append(args, "--fit", "off")
	}
	return args
}

// StartArgs starts the binary f describes with model arguments args (no
// --host/--port: those are added here) and waits until it serves.
func StartArgs(ctx context.Context, f *Features, args []string, opts Options) (*Server, error) {
	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	full := append([]string(nil), args...)
	if opts.Verbosity > 0 && f.Has("-lv") {
		full = append(full, "-lv", strconv.Itoa(opts.Verbosity))
	}
	if !opts.PromptCache && f.Has("--cache-ram") {
		full = append(full, "--cache-ram", "0")
	}
	full = append(full, opts.ExtraArgs...)
	if err := f.Check(full); err != nil {
		return nil, err
	}
	tries := 1
	if opts.Port == 0 {
		tries = 3
	}
	var lastErr error
	for try := 0; try < tries; try++ {
		port := opts.Port
		if port == 0 {
			p, err := launch.FreePort(host)
			if err != nil {
				return nil, err
			}
			port = p
		}
		s, err := start(ctx, f, host, port, full, opts)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !errors.Is(err, ErrPortInUse) {
			break
		}
	}
	return nil, lastErr
}

func start(ctx context.Context, f *Features, host string, port int, args []string, opts Options) (*Server, error) {
	args = append(args, "--host", host, "--port", strconv.Itoa(port))
	// A server listening on every address is reached on loopback.
	reach := host
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		reach = "127.0.0.1"
		if ip.To4() == nil {
			reach = "::1"
		}
	}
	url := "http://" + net.JoinHostPort(reach, strconv.Itoa(port))
	env := opts.Env
	health := launch.HTTPReady(url + "/health")
	var loading atomic.Bool // /health answered 503: the model was loading
	p, err := launch.Start(ctx, launch.Command{
		Path: f.Path, Args: args, Env: env, Cgroups: opts.Cgroups, Output: opts.Log,
		Ready: func(ctx context.Context) error {
			err := health(ctx)
			if err != nil && strings.HasSuffix(err.Error(), ": 503 Service Unavailable") {
				loading.Store(true)
			}
			return err
		},
		ReadyTimeout: opts.StartTimeout, PollInterval: 25 * time.Millisecond, Grace: opts.Grace,
	})
	if err != nil {
		err = startError(ctx, err)
		if e, ok := errorsAs(err); ok && e.Kind == ErrExited && loading.Load() {
			e.Kind = ErrLoad
			e.Message = "it exited while loading the model, and llama.cpp lost its last log lines (its logger thread does not flush at exit, upstream issue 22142)"
		}
		// llama.cpp logs from a worker thread that an early exit can cut
		// short, losing "couldn't bind": an exit while the port is taken is
		// the port's fault.
		if e, ok := errorsAs(err); ok && e.Kind == ErrExited && portTaken(host, port) {
			e.Kind, e.Port, e.Message = ErrPortInUse, port, fmt.Sprintf("%s is in use", net.JoinHostPort(host, strconv.Itoa(port)))
		}
		return nil, err
	}
	return &Server{URL: url, Port: port, Args: args, Features: f, Process: p, Ready: time.Now()}, nil
}

// startError explains why launch.Start failed: a process that exited
// before it served is classified from its log.
func startError(ctx context.Context, err error) error {
	var nr *launch.NotReadyError
	var exit *launch.ExitError
	if errors.As(err, &nr) && nr.Exited {
		errors.As(err, &exit)
		return classify(nr.Log.String(), exit)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("llamaserver: %w", ctx.Err())
	}
	if nr != nil {
		return fmt.Errorf("llamaserver: %w\n%s", err, tailLines(nr.Log.String(), 20))
	}
	return fmt.Errorf("llamaserver: %w", err)
}

// Close stops the server (SIGTERM, then SIGKILL after the grace period)
// and waits until it is gone.
func (s *Server) Close() error { return s.Process.Close() }

// Wait waits for the server to exit on its own and says why it did.
func (s *Server) Wait() error {
	err := s.Process.Wait()
	if err == nil {
		return nil
	}
	var exit *launch.ExitError
	errors.As(err, &exit)
	return classify(s.Process.Log().String(), exit)
}

// Log is the server's captured output.
func (s *Server) Log() *launch.Log { return s.Process.Log() }

// Buffers are the buffer sizes the server logged (at Verbosity 4).
// llama.cpp's logger writes from its own thread (common/log.cpp), so on a
// busy machine the last buffer lines can reach the pipe after /health has
// answered: once the model's buffers are logged, Buffers waits up to
// logSettle for the compute buffers that follow them.
func (s *Server) Buffers() Buffers {
	deadline := time.Now().Add(logSettle)
	for {
		b := ParseBuffers(string(s.Process.Log().Head()))
		if len(b.Model) == 0 || len(b.Compute) > 0 || time.Now().After(deadline) {
			return b
		}
		select {
		case <-s.Process.Done():
			return ParseBuffers(string(s.Process.Log().Head()))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// logSettle bounds the wait for buffer lines still in llama.cpp's logger.
const logSettle = 5 * time.Second

// LoadTime is how long the server took from its start until it first
// answered /health.
func (s *Server) LoadTime() time.Duration { return s.Ready.Sub(s.Process.Started()) }

// portTaken reports whether another process listens on host:port.
func portTaken(host string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return errors.Is(err, syscall.EADDRINUSE)
	}
	l.Close()
	return false
}
