package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/modelfit/modelfit/exec/llamaserver"
	"github.com/modelfit/modelfit/exec/measure"
	"github.com/modelfit/modelfit/internal/units"
	"github.com/modelfit/modelfit/planner"
)

// serverFlags are the flags of the commands that start llama-server.
type serverFlags struct {
	binary  string
	verbose bool
}

func addServerFlags(set *flagSet) *serverFlags {
	s := &serverFlags{}
	set.stringVar(&s.binary, "", groupServer, "FILE", "the llama-server to run (default: $LLAMA_SERVER, then llama-server on PATH)", "--llama-server")
	set.boolVar(&s.verbose, groupServer, "stream llama-server's log to stderr", "-v")
	return s
}

// options locates the binary and fills the server options.
func (s *serverFlags) options(stderr io.Writer) (llamaserver.Options, error) {
	bin, err := llamaserver.Locate(s.binary, os.Getenv("LLAMA_SERVER"))
	if err != nil {
		return llamaserver.Options{}, err
	}
	o := llamaserver.Options{Binary: bin}
	if s.verbose {
		o.Log = stderr
	}
	return o, nil
}

// serverSummary is the one-line description of a plan run by llama.cpp.
func serverSummary(model string, p *planner.Plan) string {
	s := p.Settings
	mm := "mmap"
	if !s.MMap {
		mm = "read into memory"
	}
	if s.MLock {
		mm += ", mlock"
	}
	where := "on the CPU"
	if len(p.Devices) > 1 {
		names := make([]string, 0, len(p.Devices))
		for _, d := range p.Devices {
			names = append(names, d.Name)
		}
		where = fmt.Sprintf("on %s, %d layers offloaded", strings.Join(names, "+"), s.NGPULayers)
	}
	return fmt.Sprintf("plan: %s (%s) with llama.cpp %s: ctx %d, ubatch %d, KV %s/%s, %d threads, %s",
		filepath.Base(model), p.Model.Architecture, where, s.NCtx, s.NUbatch, s.CacheTypeK, s.CacheTypeV, s.Threads, mm)
}

// memoryLine says what the plan holds on each device.
func memoryLine(p *planner.Plan) string {
	parts := make([]string, 0, len(p.Devices))
	for _, d := range p.Devices {
		s := fmt.Sprintf("%s %s allocated", d.Name, units.Bytes(d.TotalBytes))
		if d.ResidentBytes > 0 {
			s += fmt.Sprintf(" + %s of mapped weights in the page cache", units.Bytes(d.ResidentBytes))
		}
		parts = append(parts, s)
	}
	return "memory: " + strings.Join(parts, "; ")
}

// serverError prints why llama-server could not run and returns the exit
// status.
func serverError(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
	var e *llamaserver.Error
	if errors.As(err, &e) && e.LogTail != "" && !errors.Is(err, llamaserver.ErrUnsupportedFlag) {
		fmt.Fprintf(stderr, "llama-server's last lines:\n%s\n", e.LogTail)
	}
	return ExitError
}

// runParams are the generation settings of `plan run`.
type runParams struct {
	prompt                string
	n                     int
	seed                  uint64
	temp, topP, minP, rep float64
	topK                  int
	ignoreEOS             bool
}

// runLlamaCpp generates with llama-server: the text streams to stdout, the
// statistics line (as the built-in engine prints it) goes to stderr.
//
// why, when set, is why --engine auto chose llama.cpp.
func runLlamaCpp(ctx context.Context, pl *planner.Plan, model string, sf *serverFlags, why string, rp runParams, stdout, stderr io.Writer) int {
	opts, err := sf.options(stderr)
	if err != nil {
		if why != "" {
			fmt.Fprintf(stderr, "plan run: llama.cpp must run this model (%s), but: %v\n", why, err)
			return ExitError
		}
		return serverError(stderr, "plan run", err)
	}
	fmt.Fprintln(stderr, serverSummary(model, pl))
	srv, err := llamaserver.Start(ctx, pl, opts)
	if err != nil {
		return serverError(stderr, "plan run", err)
	}
	defer srv.Close()
	before, _ := measure.Process(srv.Process.PID())
	req := llamaserver.CompletionRequest{Prompt: rp.prompt, NPredict: rp.n, IgnoreEOS: rp.ignoreEOS, Grammar: llamaserver.ValidUTF8,
		Temperature: &rp.temp, TopK: &rp.topK, TopP: &rp.topP, MinP: &rp.minP, RepeatPenalty: &rp.rep, Seed: &rp.seed}
	if rp.n <= 0 {
		req.NPredict = -1
	}
	start := time.Now()
	var first time.Duration
	c, err := srv.Complete(ctx, req, func(text string) error {
		if first == 0 {
			first = time.Since(start)
		}
		_, err := io.WriteString(stdout, text)
		return err
	})
	fmt.Fprintln(stdout)
	if err != nil {
		return serverError(stderr, "plan run", err)
	}
	after, _ := measure.Process(srv.Process.PID())
	fmt.Fprintf(stderr, "load %.0f ms, first token %.0f ms, prefill %d tokens at %.1f tok/s, decode %d tokens at %.1f tok/s, peak RSS %s, page faults %d major / %d minor\n",
		ms(srv.LoadTime().Seconds()), ms(first.Seconds()), c.Timings.PromptN, c.Timings.PromptPerSecond,
		c.Timings.PredictedN, c.Timings.PredictedPerSecond, units.Bytes(after.PeakRSS),
		after.MajorFaults-min(before.MajorFaults, after.MajorFaults), after.MinorFaults-min(before.MinorFaults, after.MinorFaults))
	if err := srv.Close(); err != nil {
		fmt.Fprintln(stderr, "plan run:", err)
		return ExitError
	}
	return ExitOK
}
