// Package cluster runs a plan over several hosts on one machine: one
// ggml-rpc-server per host on its loopback address, each in a memory cgroup
// as large as that host's RAM, then llama-server with --rpc in front of
// them. It is for tests and single-box experiments; for real hosts the plan
// prints each host's command.
//
// Servers bind only the loopback addresses of the plan: Start refuses a
// host at any other address. The RPC protocol has no authentication.
//
// Processes are handled here (start in a process group that dies with this
// one, readiness, bounded log, group kill) until the project's launcher
// (exec/launch, exec/llamaserver) is on main: start, waitListen, waitHealth
// and NewCgroup are the parts it replaces, behind the same Start and Close.
package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modelfit/modelfit/planner"
)

// Options say where the programs are and how to run them.
type Options struct {
	// Bin is the directory with ggml-rpc-server and llama-server.
	Bin string
	// Port is llama-server's port on 127.0.0.1; 0 picks a free one.
	Port int
	// Limit puts each server in a memory cgroup of its host's RAM (root,
	// Linux, cgroup v1 or v2). Without it the servers share this machine's
	// memory and only their RSS is measured.
	Limit bool
	// CgroupParent is where the cgroups go; "" is this process's own
	// memory cgroup.
	CgroupParent string
	// ServerEnv is added to the servers' environment, e.g. LLAMA_CACHE=DIR
	// for where ggml-rpc-server -c keeps its tensor cache (default
	// ~/.cache/llama.cpp/rpc).
	ServerEnv []string
	// Ready bounds the wait for each program to listen (default 2 minutes:
	// llama-server loads the model first).
	Ready time.Duration
}

// Server is one host's ggml-rpc-server.
type Server struct {
	Host   planner.PlanHost
	Cgroup *Cgroup // nil without Options.Limit
	*proc
}

// Cluster is the running servers and llama-server.
type Cluster struct {
	Servers []*Server
	Head    *proc
	// URL is llama-server's address, http://127.0.0.1:PORT.
	URL  string
	plan *planner.Plan
}

// proc is a child process with its output kept in memory.
type proc struct {
	cmd  *exec.Cmd
	log  *tail
	done chan struct{}
	err  error // after done
}

// Pid is the process id.
func (p *proc) Pid() int { return p.cmd.Process.Pid }

// Log returns the end of the process's output.
func (p *proc) Log() string { return p.log.String() }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) stop() {
	if p == nil || p.cmd == nil || p.cmd.Process == nil {
		return
	}
	killGroup(p.cmd)
	<-p.done
}

func start(name string, args []string, env []string) (*proc, error) {
	cmd := exec.Command(name, args...)
	p := &proc{cmd: cmd, log: &tail{head: 1 << 20, max: 64 << 10}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.Env = append(os.Environ(), env...)
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cluster: starting %s: %w", name, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// Start launches the plan's servers and llama-server and waits until
// llama-server has loaded the model. The plan must fit and every host must
// be at a loopback address.
func Start(ctx context.Context, p *planner.Plan, o Options) (c *Cluster, err error) {
	if !supported {
		return nil, errors.New("cluster: a local cluster needs Linux")
	}
	if len(p.Hosts) == 0 {
		return nil, errors.New("cluster: the plan has no hosts")
	}
	for _, h := range p.Hosts[1:] {
		if h.Used && !loopback(h.Address) {
			return nil, fmt.Errorf("cluster: host %s is at %s: a local cluster binds loopback addresses only; run its command there: %s", h.Name, h.Address, strings.Join(h.Command, " "))
		}
		if h.Used && len(h.Command) == 0 {
			return nil, fmt.Errorf("cluster: host %s has no command", h.Name)
		}
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
	parent, version := o.CgroupParent, 0
	if o.Limit {
		dir, v, err := CgroupRoot("/")
		if err != nil {
			return c, err
		}
		version = v
		if parent == "" {
			parent = dir
		}
	}
	for _, h := range p.Hosts[1:] {
		if !h.Used {
			continue
		}
		s := &Server{Host: h}
		bin := filepath.Join(o.Bin, "ggml-rpc-server")
		args := h.Command[1:]
		name := bin
		if o.Limit {
			cg, err := NewCgroup(parent, version, fmt.Sprintf("modelfit-rpc-%d-%s", os.Getpid(), h.Name), h.RAMAvailableBytes)
			if err != nil {
				return c, err
			}
			s.Cgroup = cg
			// Join the cgroup before the server allocates anything.
			name = "/bin/sh"
			args = append([]string{"-c", `echo $$ > "$0/cgroup.procs" && exec "$@"`, cg.Dir, bin}, args...)
		}
		pr, err := start(name, args, o.ServerEnv)
		if err != nil {
			return c, err
		}
		s.proc = pr
		c.Servers = append(c.Servers, s)
	}
	for _, s := range c.Servers {
		if err := waitListen(ctx, s.proc, s.Host.Address, o.Ready); err != nil {
			return c, fmt.Errorf("cluster: ggml-rpc-server for %s: %w", s.Host.Name, err)
		}
	}
	port := o.Port
	if port == 0 {
		if port, err = freePort(); err != nil {
			return c, err
		}
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	c.URL = "http://" + addr
	if c.Head, err = start(filepath.Join(o.Bin, "llama-server"), headArgs(p, port), nil); err != nil {
		return c, err
	}
	if err := waitHealth(ctx, c.Head, c.URL, o.Ready); err != nil {
		return c, fmt.Errorf("cluster: llama-server: %w", err)
	}
	return c, nil
}

// headArgs are llama-server's arguments: the plan's, on 127.0.0.1, with
// the log verbosity that prints every buffer's size (read by Buffers).
func headArgs(p *planner.Plan, port int) []string {
	return append(append([]string{}, p.LlamaArgs...), "--host", "127.0.0.1", "--port", strconv.Itoa(port), "-lv", "4")
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitListen waits until addr accepts a connection (the server serves one
// client at a time and drops one that sends nothing).
func waitListen(ctx context.Context, p *proc, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		if p.exited() {
			return fmt.Errorf("exited (%v): %s", p.err, lastLines(p.Log(), 5))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening on %s after %s: %s", addr, limit, lastLines(p.Log(), 5))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitHealth waits until llama-server answers /health with 200 (503 while
// it loads).
func waitHealth(ctx context.Context, p *proc, url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if resp, err := client.Get(url + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if p.exited() {
			return fmt.Errorf("exited (%v): %s", p.err, lastLines(p.Log(), 8))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %s", limit, lastLines(p.Log(), 8))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Completion is llama-server's answer to a prompt with its timings.
type Completion struct {
	Content                string  `json:"content"`
	PromptTokens           int     `json:"prompt_tokens"`
	PredictedTokens        int     `json:"predicted_tokens"`
	PrefillTokensPerSecond float64 `json:"prefill_tokens_per_second"`
	DecodeTokensPerSecond  float64 `json:"decode_tokens_per_second"`
}

// Complete asks llama-server for n tokens after prompt, greedily.
func (c *Cluster) Complete(ctx context.Context, prompt string, n int) (Completion, error) {
	body, _ := json.Marshal(map[string]any{"prompt": prompt, "n_predict": n, "temperature": 0, "cache_prompt": false})
	req, err := http.NewRequestWithContext(ctx, "POST", c.URL+"/completion", bytes.NewReader(body))
	if err != nil {
		return Completion{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Completion{}, fmt.Errorf("cluster: completion: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return Completion{}, fmt.Errorf("cluster: completion: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Completion{}, fmt.Errorf("cluster: completion: %s: %s", resp.Status, bytes.TrimSpace(data))
	}
	var r struct {
		Content string `json:"content"`
		Timings struct {
			PromptN     int     `json:"prompt_n"`
			PromptRate  float64 `json:"prompt_per_second"`
			PredictedN  int     `json:"predicted_n"`
			PredictRate float64 `json:"predicted_per_second"`
		} `json:"timings"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return Completion{}, fmt.Errorf("cluster: completion: %w", err)
	}
	return Completion{Content: r.Content, PromptTokens: r.Timings.PromptN, PredictedTokens: r.Timings.PredictedN,
		PrefillTokensPerSecond: r.Timings.PromptRate, DecodeTokensPerSecond: r.Timings.PredictRate}, nil
}

// Close stops llama-server, then the servers, and removes their cgroups.
func (c *Cluster) Close() error {
	if c == nil {
		return nil
	}
	c.Head.stop()
	var errs []error
	for _, s := range c.Servers {
		s.stop()
		if s.Cgroup != nil {
			errs = append(errs, s.Cgroup.Remove())
		}
	}
	return errors.Join(errs...)
}

// tail keeps the first head bytes written to it (where llama-server
// reports its buffers) and the last max.
type tail struct {
	mu        sync.Mutex
	first     []byte
	buf       []byte
	head, max int
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(b)
	if k := min(t.head-len(t.first), len(b)); k > 0 {
		t.first = append(t.first, b[:k]...)
		b = b[k:]
	}
	t.buf = append(t.buf, b...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return n, nil
}

// String is the end of the output.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) == 0 {
		return string(t.first)
	}
	return string(t.buf)
}

// Head is the start of the output.
func (t *tail) Head() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.first)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
