// Package cluster runs a plan over several hosts on one machine: one
// ggml-rpc-server per host on its loopback address, each in a memory cgroup
// as large as that host's RAM, then llama-server with --rpc in front of
// them. It is for tests and single-box experiments; for real hosts the plan
// prints each host's command.
//
// Servers bind only the loopback addresses of the plan: Start refuses a
// host at any other address. The RPC protocol has no authentication.
//
// The processes are exec/launch's (a process group that dies with this
// process, the cgroup joined before the first instruction, a bounded log)
// and the head is an exec/llamaserver server (flags checked against the
// binary, typed start errors, /completion with timings).
package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/modelfit/modelfit/exec/launch"
	"github.com/modelfit/modelfit/exec/llamaserver"
	"github.com/modelfit/modelfit/planner"
)

// ErrNoCgroup is matched when the servers' memory cgroups cannot be made
// (not Linux, not root, no memory controller): launch.ErrNoCgroup.
var ErrNoCgroup = launch.ErrNoCgroup

// Options say where the programs are and how to run them.
type Options struct {
	// Bin is the directory with ggml-rpc-server and llama-server.
	Bin string
	// Port is llama-server's port on 127.0.0.1; 0 picks a free one.
	Port int
	// Limit puts each server in a memory cgroup of its host's RAM (root,
	// Linux, cgroup v1 or v2; where launch.NewCgroup makes it). Without it
	// the servers share this machine's memory and only their RSS is
	// measured.
	Limit bool
	// ServerEnv is added to the servers' environment, e.g. LLAMA_CACHE=DIR
	// for where ggml-rpc-server -c keeps its tensor cache (default
	// ~/.cache/llama.cpp/rpc).
	ServerEnv []string
	// Ready bounds the wait for each program to serve (default 2 minutes:
	// llama-server loads the model first).
	Ready time.Duration
}

// Server is one host's ggml-rpc-server.
type Server struct {
	Host    planner.PlanHost
	Cgroup  *launch.Cgroup // nil without Options.Limit
	Process *launch.Process
}

// Cluster is the running servers and llama-server.
type Cluster struct {
	Servers []*Server
	Head    *llamaserver.Server
	// URL is llama-server's address, http://127.0.0.1:PORT.
	URL  string
	plan *planner.Plan
}

// Start launches the plan's servers and llama-server and waits until
// llama-server has loaded the model. The plan must fit, every host must be
// at a free loopback address, and both programs must be in o.Bin, with
// every flag the plan needs: all of it is checked before anything starts.
// Everything Start started stops when ctx ends, at Close, and when this
// process dies.
func Start(ctx context.Context, p *planner.Plan, o Options) (c *Cluster, err error) {
	if len(p.Hosts) == 0 {
		return nil, errors.New("cluster: the plan has no hosts")
	}
	for _, h := range p.Hosts[1:] {
		if !h.Used {
			continue
		}
		if !loopback(h.Address) {
			return nil, fmt.Errorf("cluster: host %s is at %s: a local cluster binds loopback addresses only; run its command there: %s", h.Name, h.Address, strings.Join(h.Command, " "))
		}
		if len(h.Command) == 0 {
			return nil, fmt.Errorf("cluster: host %s has no command", h.Name)
		}
		// A port another process holds would answer the readiness probe
		// for a server that failed to bind it.
		l, err := net.Listen("tcp", h.Address)
		if err != nil {
			return nil, fmt.Errorf("cluster: host %s: %s is not free: %w", h.Name, h.Address, err)
		}
		l.Close()
	}
	if !p.Fits {
		return nil, errors.New("cluster: the plan does not fit")
	}
	if !p.Model.DataPresent {
		return nil, fmt.Errorf("cluster: %s lacks tensor data (header-only or truncated): it cannot be run", p.Model.Path)
	}
	rpcBin := filepath.Join(o.Bin, "ggml-rpc-server")
	if _, err := exec.LookPath(rpcBin); err != nil {
		return nil, fmt.Errorf("cluster: no ggml-rpc-server in %s: %w", o.Bin, err)
	}
	f, err := llamaserver.Detect(ctx, filepath.Join(o.Bin, "llama-server"))
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	args := llamaserver.PlanArgs(p, f)
	if err := f.Check(args); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if o.Ready <= 0 {
		o.Ready = 2 * time.Minute
	}
	c = &Cluster{plan: p}
	defer func() {
		if err != nil {
			c.Close()
			c = nil
		}
	}()
	env := append(os.Environ(), o.ServerEnv...)
	for _, h := range p.Hosts[1:] {
		if !h.Used {
			continue
		}
		s, err := startServer(ctx, h, rpcBin, env, o)
		if s != nil {
			c.Servers = append(c.Servers, s)
		}
		if err != nil {
			return c, err
		}
	}
	// -lv 4 prints every buffer's size (read by Measure).
	c.Head, err = llamaserver.StartArgs(ctx, f, args, llamaserver.Options{Port: o.Port, Verbosity: 4, StartTimeout: o.Ready})
	if err != nil {
		return c, fmt.Errorf("cluster: %w%s", err, c.serversGone())
	}
	c.URL = c.Head.URL
	return c, nil
}

// serversGone says which servers have exited and why: llama-server fails
// when one it talks to is gone (killed at its cgroup's limit, say).
func (c *Cluster) serversGone() string {
	var b strings.Builder
	for _, s := range c.Servers {
		select {
		case <-s.Process.Done():
			why := "exited"
			if err := s.Process.Wait(); err != nil {
				why = err.Error()
			}
			fmt.Fprintf(&b, "; host %s's ggml-rpc-server is gone (%s): %s", s.Host.Name, why, lastLines(string(s.Process.Log().Tail(4096)), 3))
		default:
		}
	}
	return b.String()
}

// startServer starts host h's ggml-rpc-server, in a cgroup of its RAM with
// o.Limit, and waits until it accepts connections. The returned server
// holds its cgroup even when the start failed (Close removes it).
func startServer(ctx context.Context, h planner.PlanHost, bin string, env []string, o Options) (*Server, error) {
	s := &Server{Host: h}
	var cgroups []string
	if o.Limit {
		cg, err := launch.NewCgroup(fmt.Sprintf("modelfit-rpc-%d-%s", os.Getpid(), h.Name), h.RAMAvailableBytes)
		if err != nil {
			if !errors.Is(err, ErrNoCgroup) {
				err = fmt.Errorf("%w: %w", ErrNoCgroup, err)
			}
			return nil, fmt.Errorf("cluster: host %s: %w", h.Name, err)
		}
		s.Cgroup, cgroups = cg, cg.Dirs
	}
	pr, err := launch.Start(ctx, launch.Command{Path: bin, Args: h.Command[1:], Env: env, Cgroups: cgroups,
		LogLimit: 256 << 10, Ready: launch.TCPReady(h.Address), ReadyTimeout: o.Ready, PollInterval: 20 * time.Millisecond})
	if err != nil {
		return s, fmt.Errorf("cluster: ggml-rpc-server for %s: %w%s", h.Name, err, logTail(err))
	}
	s.Process = pr
	return s, nil
}

// logTail is the end of the log of a process that did not become ready.
func logTail(err error) string {
	var nr *launch.NotReadyError
	if !errors.As(err, &nr) || nr.Log == nil {
		return ""
	}
	return ": " + lastLines(string(nr.Log.Tail(4096)), 5)
}

// lastLines joins the last n lines of log.
func lastLines(log string, n int) string {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}

// Completion is llama-server's answer to a prompt with its timings.
type Completion struct {
	Content                string  `json:"content"`
	PromptTokens           int     `json:"prompt_tokens"`
	PredictedTokens        int     `json:"predicted_tokens"`
	PrefillTokensPerSecond float64 `json:"prefill_tokens_per_second"`
	DecodeTokensPerSecond  float64 `json:"decode_tokens_per_second"`
}

// Complete asks llama-server for n tokens after prompt, greedily, with no
// prompt cache.
func (c *Cluster) Complete(ctx context.Context, prompt string, n int) (Completion, error) {
	temp, cache := 0.0, false
	r, err := c.Head.Complete(ctx, llamaserver.CompletionRequest{Prompt: prompt, NPredict: n, Temperature: &temp, CachePrompt: &cache,
		// A model cut mid-character fails the whole completion otherwise.
		Grammar: llamaserver.ValidUTF8}, nil)
	if err != nil {
		return Completion{}, fmt.Errorf("cluster: %w", err)
	}
	return Completion{Content: r.Content, PromptTokens: r.Timings.PromptN, PredictedTokens: r.Timings.PredictedN,
		PrefillTokensPerSecond: r.Timings.PromptPerSecond, DecodeTokensPerSecond: r.Timings.PredictedPerSecond}, nil
}

// LoadTime is how long llama-server took from its start until it served:
// loading the model, most of it sending the weights to the servers.
func (c *Cluster) LoadTime() time.Duration { return c.Head.LoadTime() }

// Close stops llama-server, then the servers, and removes their cgroups.
func (c *Cluster) Close() error {
	if c == nil {
		return nil
	}
	if c.Head != nil {
		c.Head.Close()
	}
	var errs []error
	for _, s := range c.Servers {
		if s.Process != nil {
			s.Process.Close()
		}
		if s.Cgroup != nil {
			errs = append(errs, s.Cgroup.Remove())
		}
	}
	return errors.Join(errs...)
}
