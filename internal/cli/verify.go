package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"text/tabwriter"

	"github.com/modelfit/modelfit/exec/llamaserver"
	"github.com/modelfit/modelfit/exec/verify"
	"github.com/modelfit/modelfit/internal/units"
)

func init() {
	commands["verify"] = command{run: runVerify, summary: "plan MODEL, run the plan with llama-server, and compare predicted, logged and measured memory"}
}

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pf := addPlanFlags(fs)
	sf := addServerFlags(fs)
	asJSON := fs.Bool("json", false, "print the versioned JSON report")
	decode := fs.Int("decode", 8, "decode steps after the prompt")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: plan verify [flags] MODEL.gguf\n\nPlans the model for this machine, starts llama-server with the plan, runs one prompt of\nn_ubatch tokens and a few decode steps, and prints for every device and buffer what the\nplan predicted, what llama.cpp logged (-lv 4) and what the process holds (RssAnon, the\nmapped model's resident pages, GPU memory through NVML), then load time and speed.\nExit status: 0 every figure within its tolerance, 1 one is not (the worst is named)\nor llama-server failed, 2 usage, 3 the plan does not fit (nothing is started).\n\nflags:")
		printFlags(stderr, fs)
	}
	if err := fs.Parse(reorderFlags(fs, args)); err != nil {
		return ExitUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return ExitUsage
	}
	if isURL(fs.Arg(0)) {
		fmt.Fprintln(stderr, "plan verify: the model must be a local file")
		return ExitUsage
	}
	f, pl, err := pf.plan(ctx, fs.Arg(0))
	var ue usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "plan verify:", err)
		return ExitUsage
	case pl == nil:
		fmt.Fprintln(stderr, "plan verify:", err)
		return ExitError
	}
	f.Close()
	if len(pl.Hosts) > 0 {
		fmt.Fprintln(stderr, "plan verify: runs a plan on this machine only; run a plan over hosts with plan cluster or the printed commands")
		return ExitUsage
	}
	if !pl.Fits {
		fmt.Fprintf(stderr, "plan verify: DOES NOT FIT, not started: %v\n", pl.NoFit)
		return ExitNoFit
	}
	opts, err := sf.options(stderr)
	if err != nil {
		return serverError(stderr, "plan verify", err)
	}
	if !*asJSON {
		fmt.Fprintln(stderr, serverSummary(fs.Arg(0), pl))
	}
	rep, err := verify.Run(ctx, pl, verify.Options{Server: opts, DecodeTokens: *decode})
	if err != nil {
		return serverError(stderr, "plan verify", err)
	}
	if *asJSON {
		if err := writeJSON(stdout, rep); err != nil {
			fmt.Fprintln(stderr, err)
			return ExitError
		}
	} else {
		printVerify(stdout, rep)
	}
	if !rep.OK {
		return ExitError
	}
	return ExitOK
}

// printVerify prints the report as a table, the speeds and the verdict.
func printVerify(w io.Writer, r *verify.Report) {
	fmt.Fprintf(w, "llama-server %s\n", r.Version)
	fmt.Fprintf(w, "prompt %d tokens, decode %d tokens\n\n", r.PromptTokens, r.DecodeTokens)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "device\tfigure\tpredicted MiB\t[accepted]\tactual MiB\tsource\terror\ttolerance\t")
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t[%.2f–%.2f]\t%s\t%s\t%s\t%s\t%s\n", row.Device, row.Figure, mibOf(row.Predicted),
			mibOf(row.Low), mibOf(row.High), actualMiB(row), row.Source, errText(row), row.Tolerance, mark(row))
	}
	tw.Flush()
	p := r.Process
	fmt.Fprintf(w, "\nprocess peak: RssAnon %s, RssFile %s, RssShmem %s, VmHWM %s", units.Bytes(p.RSSAnon), units.Bytes(p.RSSFile), units.Bytes(p.RSSShmem), units.Bytes(p.PeakRSS))
	if r.PageCacheBytes != nil {
		fmt.Fprintf(w, "; model file in the page cache %s", units.Bytes(uint64(*r.PageCacheBytes)))
	}
	fmt.Fprintln(w)
	for _, g := range r.GPUs {
		fmt.Fprintf(w, "GPU %d (%s): %s held by llama-server\n", g.Index, g.Name, units.Bytes(g.Bytes))
	}
	if c := r.Cgroup; c != nil {
		limit := "none"
		if c.LimitBytes > 0 {
			limit = units.Bytes(c.LimitBytes)
		}
		fmt.Fprintf(w, "memory cgroup %s: usage %s, peak %s, limit %s, OOM kills %d\n", c.Dir, units.Bytes(c.UsageBytes), units.Bytes(c.PeakBytes), limit, c.OOMKills)
	}
	for _, s := range r.Speed {
		fmt.Fprintf(w, "%-14s predicted %.3g, measured %.3g\n", s.What, s.Predicted, s.Measured)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintln(w)
	worst := r.WorstRow()
	switch {
	case r.OK && worst != nil:
		fmt.Fprintf(w, "VERIFIED: every figure within its tolerance (closest to its limit: %s %s, %s)\n", worst.Device, worst.Figure, errText(*worst))
	case r.OK:
		fmt.Fprintln(w, "VERIFIED")
	default:
		for i, row := range r.Failed() {
			lead := "   also"
			if i == 0 {
				lead = "MISMATCH:"
			}
			fmt.Fprintf(w, "%s %s %s: predicted %.2f MiB, %s %s MiB (%s; tolerance %s)\n", lead, row.Device, row.Figure, mibOf(row.Predicted),
				row.Source, actualMiB(row), errText(row), row.Tolerance)
		}
	}
}

func mibOf(b uint64) float64 { return float64(b) / llamaserver.MiB }

func actualMiB(r verify.Row) string {
	if r.Actual == nil {
		return "–"
	}
	return fmt.Sprintf("%.2f", mibOf(*r.Actual))
}

// errText is the prediction's error: relative for large figures, in MiB
// for small ones.
func errText(r verify.Row) string {
	if r.Actual == nil {
		return "not measured"
	}
	d := mibOf(r.Predicted) - mibOf(*r.Actual)
	if *r.Actual < 1<<20 || math.Abs(d) < 0.01 {
		return fmt.Sprintf("%+.3f MiB", d)
	}
	return fmt.Sprintf("%+.1f%%", 100*r.Err())
}

func mark(r verify.Row) string {
	if r.OK {
		return "ok"
	}
	return "✗"
}
