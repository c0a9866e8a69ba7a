package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/modelfit/modelfit/exec/router"
	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/units"
	"github.com/modelfit/modelfit/probe"
)

const serveManyHelp = `With several models (or --models DIR) it serves them behind one OpenAI-compatible endpoint,
routed by the request's "model" (the file name without .gguf, or ALIAS): each model's
llama-server starts on its first request with the plan the residency planner makes next to
the models already loaded, which evicts the least recently used when there is no room and
unloads idle models after --keep-alive. GET /status shows the models, their plans and
measured memory, and the decisions with their reasons.`

// serveManyFlags are plan serve's flags for several models.
type serveManyFlags struct {
	dir       string
	keepAlive keepAliveValue
	queue     int
	timeout   time.Duration
	maxBody   string
}

func addServeManyFlags(set *flagSet) *serveManyFlags {
	m := &serveManyFlags{keepAlive: keepAliveValue(5 * time.Minute)}
	set.stringVar(&m.dir, "", groupServer, "DIR", "serve every .gguf file in DIR (with several models)", "--models")
	set.add(&m.keepAlive, groupServer, "DURATION", "unload a model idle this long; 0: as soon as it is idle, negative: only for room (with several models)", "--keep-alive")
	set.intVar(&m.queue, 64, groupServer, "N", "requests that may wait for models to load (with several models)", "--queue")
	set.durationVar(&m.timeout, 10*time.Minute, groupServer, "bound on one request, waiting included (with several models)", "--request-timeout")
	set.stringVar(&m.maxBody, "16MiB", groupServer, "SIZE", "largest request body (with several models)", "--max-body")
	return m
}

// keepAliveValue is a duration that may be negative (as Ollama's
// keep_alive: keep until the room is needed).
type keepAliveValue time.Duration

func (v *keepAliveValue) String() string { return time.Duration(*v).String() }

func (v *keepAliveValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("want a duration such as 5m, 0 or -1s")
	}
	*v = keepAliveValue(d)
	return nil
}

// splitPart matches the parts after the first of a split model
// (llama-gguf-split names them NAME-00002-of-00003.gguf).
var splitPart = regexp.MustCompile(`-0*([2-9]|[1-9][0-9]+)-of-[0-9]+\.gguf$`)

// modelArgs lists the models to serve: the arguments ([ALIAS=]MODEL) and
// the .gguf files of dir.
func modelArgs(args []string, dir string) ([][2]string, error) {
	var out [][2]string
	for _, a := range args {
		alias, model := "", a
		if i := strings.IndexByte(a, '='); i > 0 && !strings.ContainsAny(a[:i], `/\`) {
			alias, model = a[:i], a[i+1:]
		}
		out = append(out, [2]string{alias, model})
	}
	if dir != "" {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if n := e.Name(); !e.IsDir() && strings.HasSuffix(strings.ToLower(n), ".gguf") && !splitPart.MatchString(n) {
				out = append(out, [2]string{"", filepath.Join(dir, n)})
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("no .gguf files in %s", dir)
		}
	}
	return out, nil
}

// modelName is what requests call a model: its file name without .gguf
// (and without a split suffix), or the Ollama name it was given as.
func modelName(arg, path string) string {
	if path == arg || strings.HasSuffix(strings.ToLower(arg), ".gguf") {
		n := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		return regexp.MustCompile(`-0*1-of-[0-9]+$`).ReplaceAllString(n, "")
	}
	return arg
}

// runServeMany serves several models behind one endpoint (exec/router).
func runServeMany(ctx context.Context, set *flagSet, pf *planFlags, sf *serverFlags, mf *serveManyFlags, host string, port int, stdout, stderr io.Writer) int {
	usage := func(format string, a ...any) int { return set.usageError(stderr, format, a...) }
	args := set.fs.Args()
	maxBody, err := probe.ParseSize(mf.maxBody)
	if err != nil || maxBody == 0 {
		return usage("--max-body %q: want a size such as 16MiB", mf.maxBody)
	}
	if mf.queue <= 0 || mf.timeout <= 0 {
		return usage("--queue and --request-timeout must be positive")
	}
	if port < 0 || port > 65535 {
		return usage("--port %d: want 0 to 65535", port)
	}
	if len(pf.cluster.hosts) > 0 {
		return usage("serves models on this machine only; --host plans over RPC hosts (listen with --listen)")
	}
	specs, err := modelArgs(args, mf.dir)
	if err != nil {
		return usage("%v", err)
	}
	req, err := pf.request()
	if err != nil {
		return usage("%v", err)
	}
	var models []router.Model
	seen := map[string]string{}
	for _, sp := range specs {
		alias, arg := sp[0], sp[1]
		if isURL(arg) {
			return usage("%s: the model must be a local file", arg)
		}
		path, om, err := resolveModel(arg)
		if err != nil {
			fmt.Fprintln(stderr, "plan serve:", err)
			return ExitError
		}
		f, err := gguf.Open(path)
		if err != nil {
			fmt.Fprintln(stderr, "plan serve:", err)
			return ExitError
		}
		defer f.Close()
		m := router.Model{Name: modelName(arg, path), File: f, Request: req}
		m.Request.ModelPath = path
		if om != nil {
			applyOllamaParams(&m.Request, om.Params)
			m.Request.OllamaName = om.Name.Short()
		}
		if alias != "" {
			m.Aliases = []string{alias}
		}
		for _, n := range append([]string{m.Name}, m.Aliases...) {
			if other, dup := seen[n]; dup {
				return usage("two models are named %q (%s and %s): give one an alias, ALIAS=MODEL", n, other, path)
			}
			seen[n] = path
		}
		models = append(models, m)
	}
	opts, err := sf.options(stderr)
	if err != nil {
		return serverError(stderr, "plan serve", err)
	}
	keepAlive := time.Duration(mf.keepAlive)
	if keepAlive == 0 {
		keepAlive = time.Nanosecond // unload as soon as it is idle
	}
	r, err := router.New(ctx, router.Options{
		Models:         models,
		Machine:        func(ctx context.Context) (*probe.Snapshot, error) { return pf.machine(ctx, nil) },
		Start:          router.LlamaServer(opts),
		KeepAlive:      keepAlive,
		MaxBodyBytes:   int64(maxBody),
		MaxQueue:       mf.queue,
		RequestTimeout: mf.timeout,
		Log:            stdout,
	})
	if err != nil {
		fmt.Fprintln(stderr, "plan serve:", err)
		return ExitError
	}
	defer r.Close()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		fmt.Fprintln(stderr, "plan serve:", err)
		return ExitError
	}
	srv := &http.Server{Handler: r.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	names := make([]string, 0, len(models))
	for _, m := range models {
		n := m.Name
		if len(m.Aliases) > 0 {
			n += " (" + strings.Join(m.Aliases, ", ") + ")"
		}
		names = append(names, fmt.Sprintf("%s %s", n, units.Bytes(uint64(m.File.TensorBytes()))))
	}
	sort.Strings(names)
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "serving %d models on demand: %s\n", len(models), strings.Join(names, ", "))
	fmt.Fprintf(stdout, "OpenAI-compatible at %s/v1 (chat/completions, completions, models), status at %s/status; idle models unload after %s\n", url, url, time.Duration(mf.keepAlive))
	select {
	case <-ctx.Done():
	case err := <-served:
		fmt.Fprintln(stderr, "plan serve:", err)
		r.Close()
		return ExitError
	}
	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintln(stderr, "plan serve:", err)
	}
	if err := r.Close(); err != nil {
		fmt.Fprintln(stderr, "plan serve:", err)
		return ExitError
	}
	fmt.Fprintln(stdout, "stopped")
	return ExitOK
}
