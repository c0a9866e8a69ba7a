package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/modelfit/modelfit/exec/llamaserver"
	"github.com/modelfit/modelfit/exec/verify"
	"github.com/modelfit/modelfit/internal/units"
)

func init() {
	commands["verify"] = command{run: runVerify, summary: "plan MODEL, run the plan with llama-server, and compare predicted, logged and measured memory"}
}

const verifyHelp = `Plans the model for this machine, starts llama-server with the plan, runs one prompt of
n_ubatch tokens and a few decode steps, and prints for every device and buffer what the plan
predicted, what llama.cpp logged (-lv 4) and what the process holds (RssAnon, the mapped
model's resident pages, GPU memory through NVML), then load time and speed. Exit status: 0
every figure within its tolerance, 1 one is not (the worst is named) or llama-server failed,
2 usage, 3 the plan does not fit (nothing is started).`

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	set := newFlagSet("plan verify", verifyHelp, "plan verify [flags] MODEL.gguf")
	var asJSON bool
	var decode int
	set.intVar(&decode, 8, groupServer, "N", "decode steps after the prompt", "--decode")
	sf := addServerFlags(set)
	set.boolVar(&asJSON, groupOutput, "print the versioned JSON report", "--json")
	pf := addPlanFlags(set)
	pf.llamaServer = true
	if code, ok := set.parse(args, stdout, stderr); !ok {
		return code
	}
	switch {
	case set.fs.NArg() == 0:
		return set.usageError(stderr, "no model given: plan verify MODEL.gguf")
	case set.fs.NArg() > 1:
		return set.usageError(stderr, "one model at a time, got %d: %s", set.fs.NArg(), strings.Join(set.fs.Args(), " "))
	case isURL(set.fs.Arg(0)):
		return set.usageError(stderr, "%s: plan verify runs a local file; download it first (plan %s plans it without downloading)", set.fs.Arg(0), set.fs.Arg(0))
	case decode < 0:
		return set.usageError(stderr, "--decode %d: want 0 or more", decode)
	}
	model := set.fs.Arg(0)
	f, pl, code := pf.planOrReport(ctx, set, model, stderr)
	if pl == nil {
		return code
	}
	f.Close()
	if code, ok := localOnly(set, pl, stderr); !ok {
		return code
	}
	if !pl.Fits {
		fmt.Fprintf(stderr, "plan verify: DOES NOT FIT, not started: %v\n", pl.NoFit)
		return ExitNoFit
	}
	opts, err := sf.options(stderr)
	if err != nil {
		return serverError(stderr, "plan verify", err)
	}
	if !asJSON {
		fmt.Fprintln(stderr, serverSummary(model, pl))
	}
	rep, err := verify.Run(ctx, pl, verify.Options{Server: opts, DecodeTokens: decode})
	if err != nil {
		return serverError(stderr, "plan verify", err)
	}
	if asJSON {
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
		fmt.Fprintf(w, "%-14s predicted %s, measured %s\n", s.What, units.Number(s.Predicted), units.Number(s.Measured))
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
