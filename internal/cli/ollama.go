package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/units"
	"github.com/modelfit/modelfit/ollama"
	"github.com/modelfit/modelfit/planner"
)

// getenv reads the environment; tests replace it.
var getenv = os.Getenv

// ollamaDirs are the stores to look in: $OLLAMA_MODELS alone when set,
// else ~/.ollama/models and, on Linux, the install script's service store.
func ollamaDirs() []string {
	home, _ := os.UserHomeDir()
	d := ollama.DefaultDir(getenv, home)
	if getenv("OLLAMA_MODELS") != "" || runtime.GOOS != "linux" {
		return []string{d}
	}
	return []string{d, ollama.SystemDir}
}

// resolveModel returns the GGUF file arg names: a URL or an existing file
// as is, else an Ollama model name resolved in Ollama's store (nil model
// when arg is not one).
func resolveModel(arg string) (string, *ollama.Model, error) {
	if isURL(arg) || strings.HasSuffix(strings.ToLower(arg), ".gguf") {
		return arg, nil, nil
	}
	if _, err := os.Stat(arg); err == nil {
		return arg, nil, nil
	}
	if _, err := ollama.ParseName(arg); err != nil {
		return arg, nil, nil // not a name: let the file's open error speak
	}
	var first error
	for _, dir := range ollamaDirs() {
		m, err := ollama.Resolve(dir, arg)
		if err == nil {
			return m.Blob, m, nil
		}
		if first == nil {
			first = err
		}
		if !errors.Is(err, ollama.ErrNotFound) {
			return "", nil, err
		}
	}
	if _, err := os.Stat(arg); errors.Is(err, os.ErrNotExist) && strings.ContainsAny(arg, `/\`) && !strings.Contains(arg, ":") {
		return arg, nil, nil // a missing path more likely than a name
	}
	return "", nil, fmt.Errorf("%w (no file %s either)", first, arg)
}

// OpenModel opens a local GGUF file or an Ollama model by name, or parses a
// remote file's header over HTTP, the download bounded by timeout (0:
// gguf.DefaultRemoteTimeout) and its progress drawn on stderr when that is
// a terminal.
func OpenModel(ctx context.Context, arg string, timeout time.Duration, stderr io.Writer) (*gguf.File, error) {
	if isURL(arg) {
		pl := newProgress(stderr)
		defer pl.done()
		return gguf.ParseURLOptions(ctx, arg, gguf.RemoteOptions{Timeout: timeout, Progress: func(read, size int64) {
			if size > 0 {
				pl.show("fetching the header of %s: %s (the file is %s)", arg, units.Bytes(read), units.Bytes(size))
			} else {
				pl.show("fetching the header of %s: %s", arg, units.Bytes(read))
			}
		}})
	}
	path, _, err := resolveModel(arg)
	if err != nil {
		return nil, err
	}
	return gguf.Open(path)
}

// applyOllamaParams pins the parameters stored with an Ollama model unless
// the user gave the same setting on the command line, and returns what it
// pinned ("num_ctx 8192") for the plan's header.
func applyOllamaParams(req *planner.Request, params ollama.Params) []string {
	var used []string
	s, pin := &req.Settings, &req.Pinned
	if n, ok := params.Int("num_ctx"); ok && n > 0 && !pin.NCtx {
		s.NCtx, pin.NCtx = n*max(s.NParallel, 1), true
		used = append(used, fmt.Sprintf("num_ctx %d", n))
	}
	if n, ok := params.Int("num_batch"); ok && n > 0 && !pin.NUbatch {
		s.NUbatch, pin.NUbatch = n, true
		used = append(used, fmt.Sprintf("num_batch %d", n))
	}
	if n, ok := params.Int("num_gpu"); ok && n >= 0 && !pin.NGPULayers {
		s.NGPULayers, pin.NGPULayers = n, true
		used = append(used, fmt.Sprintf("num_gpu %d", n))
	}
	if n, ok := params.Int("num_thread"); ok && n > 0 && !pin.Threads {
		s.Threads, pin.Threads = n, true
		used = append(used, fmt.Sprintf("num_thread %d", n))
	}
	if b, ok := params.Bool("use_mmap"); ok && !pin.MMap {
		s.MMap, pin.MMap = b, true
		used = append(used, fmt.Sprintf("use_mmap %v", b))
	}
	return used
}

// ollamaOptions are the user's options as Ollama would see them: those
// stored with the model, overridden by the command line's pins.
func ollamaOptions(req planner.Request) planner.OllamaOptions {
	var o planner.OllamaOptions
	s, pin := req.Settings, req.Pinned
	ip := func(v int) *int { return &v }
	if pin.NCtx {
		o.NumCtx = ip(s.NCtx / max(s.NParallel, 1))
	}
	if pin.NUbatch {
		o.NumBatch = ip(s.NUbatch)
	}
	if pin.NGPULayers {
		o.NumGPU = ip(s.NGPULayers)
	}
	if pin.Threads {
		o.NumThread = ip(s.Threads)
	}
	if pin.MMap {
		b := s.MMap
		o.UseMMap = &b
	}
	return o
}

// ollamaReport is Ollama's own decision next to the plan for Ollama.
type ollamaReport struct {
	Decision *planner.OllamaDecision `json:"decision"`
	// Plan is the plan for Ollama: its settings, whether it fits, and the
	// forms of the fix; PlanError says why there is none.
	Fits      bool              `json:"fits"`
	Runtime   planner.Runtime   `json:"runtime,omitempty"`
	Settings  *planner.Settings `json:"settings,omitempty"`
	Options   map[string]any    `json:"options,omitempty"`
	Modelfile string            `json:"modelfile,omitempty"`
	Env       []string          `json:"env"`
	PlanError string            `json:"plan_error,omitempty"`
	// Check is Ollama's own decision again, given the plan's options and
	// environment: the fix checked by the same reproduction.
	Check *planner.OllamaDecision `json:"check,omitempty"`

	plan *planner.Plan
}

// ollamaReport reproduces Ollama's decision on the machine and plans the
// model for Ollama (the given plan when it already is one).
func (p *planFlags) ollamaReport(ctx context.Context, f *gguf.File, pl *planner.Plan) (*ollamaReport, error) {
	d, err := planner.DecideOllama(f, p.snap, p.req.OllamaEnv, ollamaOptions(p.req))
	if err != nil {
		return nil, err
	}
	r := &ollamaReport{Decision: d, Env: []string{}}
	op := pl
	if !pl.Runtime.IsOllama() {
		req := p.req
		req.Runtime = planner.RuntimeOllama
		op, err = planner.Make(ctx, f, p.snap, req)
		if op == nil {
			r.PlanError = strings.TrimPrefix(err.Error(), "planner: ")
			return r, nil
		}
	}
	r.plan, r.Fits, r.Runtime, r.Settings = op, op.Fits, op.Runtime, &op.Settings
	r.Options, _ = op.OllamaOptions()
	r.Modelfile, _ = op.Modelfile(p.req.OllamaEnv)
	r.Env = append(r.Env, op.OllamaEnv(p.req.OllamaEnv)...)
	if opts, env, err := op.OllamaFix(p.req.OllamaEnv); err == nil {
		if r.Check, err = planner.DecideOllama(f, p.snap, env, opts); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func printOllamaReport(w io.Writer, r *ollamaReport) {
	wr := &wrapper{w: w, width: textWidth}
	d := r.Decision
	fmt.Fprintln(w, "\nOllama v0.17.4 on this machine:")
	for _, x := range d.Rules {
		wr.para("  ", "      ", fmt.Sprintf("%s = %s: %s", x.Setting, x.Choice, x.Why))
	}
	for _, x := range d.NotModelled {
		wr.para("  ", "    ", fmt.Sprintf("(not modelled: %s)", x))
	}
	wr.para("", "    ", d.Summary()+".")
	if r.plan == nil {
		wr.para("", "    ", "Plan for Ollama: none: "+r.PlanError)
		return
	}
	s := r.plan.Settings
	if !r.Fits {
		why := "nothing fits"
		if r.plan.NoFit != nil {
			why = strings.TrimPrefix(r.plan.NoFit.Error(), "planner: ")
		}
		wr.para("", "    ", fmt.Sprintf("Plan for Ollama (%s): %s.", r.Runtime, why))
		return
	}
	verdict := "fits"
	line := fmt.Sprintf("Plan for Ollama (%s): num_ctx %d, num_gpu %d, num_batch %d", r.Runtime, s.NCtx/max(s.NParallel, 1), s.NGPULayers, s.NUbatch)
	if r.plan.Runtime == planner.RuntimeOllama {
		line += fmt.Sprintf(", use_mmap %v", s.MMap)
	}
	line += fmt.Sprintf(", KV %s, flash attention %s: %s", s.CacheTypeK, onOff(s.FlashAttn), verdict)
	if len(r.plan.Devices) > 0 {
		cpu := r.plan.Devices[0]
		line += fmt.Sprintf(", %s of RAM allocated with %s available", units.Bytes(cpu.TotalBytes), units.Bytes(cpu.AvailableBytes))
	}
	wr.para("", "    ", line+".")
	if r.Options == nil {
		return
	}
	keys := make([]string, 0, len(r.Options))
	for k := range r.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%q: %v", k, r.Options[k]))
	}
	wr.para("  API options: ", "    ", "{"+strings.Join(parts, ", ")+"}")
	fmt.Fprintln(w, "  Modelfile (ollama create NAME -f Modelfile):")
	for _, l := range strings.Split(strings.TrimSuffix(r.Modelfile, "\n"), "\n") {
		fmt.Fprintf(w, "    %s\n", l)
	}
	if len(r.Env) > 0 {
		wr.para("  environment of `ollama serve`: ", "    ", strings.Join(r.Env, " "))
	}
	if r.Check != nil {
		wr.para("", "    ", fmt.Sprintf("Check: with these, %s.", lowerFirst(r.Check.Summary())))
	}
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// ollamaHeader describes the resolved Ollama model for the plan's text.
func ollamaHeader(m *ollama.Model, used []string) string {
	h := fmt.Sprintf("ollama    %s → %s", m.Name.Short(), filepath.Join("…", filepath.Base(filepath.Dir(m.Blob)), filepath.Base(m.Blob)))
	if len(used) > 0 {
		h += "; its stored parameters pinned: " + strings.Join(used, ", ")
	}
	return h
}
