package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/modelfit/modelfit/exec"
	"github.com/modelfit/modelfit/internal/units"
	"github.com/modelfit/modelfit/planner"
)

func init() {
	commands["run"] = command{run: runRun, summary: "plan MODEL for this machine, then generate text from a prompt (built-in CPU engine or llama-server)"}
}

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pf := addPlanFlags(fs)
	prompt := fs.String("p", "", "the prompt")
	fs.StringVar(prompt, "prompt", "", "same as -p")
	n := fs.Int("n", 128, "tokens to generate (<= 0: until end of generation or a full context)")
	fs.IntVar(n, "n-predict", 128, "same as -n")
	seed := fs.Uint64("seed", 0, "sampling seed: the same seed gives the same text")
	temp := fs.Float64("temp", 0, "sampling temperature; 0 is greedy decoding")
	topK := fs.Int("top-k", 40, "keep the K most likely tokens (<= 0: all)")
	topP := fs.Float64("top-p", 0.95, "nucleus sampling threshold (1: off)")
	minP := fs.Float64("min-p", 0.05, "drop tokens below this fraction of the top probability (0: off)")
	repeat := fs.Float64("repeat-penalty", 1, "penalty for recently seen tokens (1: off)")
	ignoreEOS := fs.Bool("ignore-eos", false, "keep generating past end-of-generation tokens")
	engine := fs.String("engine", "auto", "builtin (the pure-Go CPU engine), llama.cpp (llama-server), or auto: builtin when it supports the model and the plan is CPU-only")
	sf := addServerFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: plan run [flags] MODEL.gguf -p PROMPT\n\nPlans the model for this machine, runs it with the plan's settings (context,\nubatch, KV cache type, threads, mmap, GPU layers) and prints the generated text\nto stdout; the plan summary and the measurements go to stderr. The built-in\nCPU engine runs llama and qwen2 models on the CPU; llama.cpp's llama-server\nruns the rest (--engine).\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(reorderFlags(fs, args)); err != nil {
		return ExitUsage
	}
	if fs.NArg() != 1 || *prompt == "" {
		fs.Usage()
		return ExitUsage
	}
	if isURL(fs.Arg(0)) {
		fmt.Fprintln(stderr, "plan run: the model must be a local file")
		return ExitUsage
	}
	switch *engine {
	case "builtin", "llama.cpp", "auto":
	default:
		fmt.Fprintf(stderr, "plan run: --engine %q: want builtin, llama.cpp or auto\n", *engine)
		return ExitUsage
	}
	pf.builtinEngine = *engine != "llama.cpp"
	f, pl, err := pf.plan(ctx, fs.Arg(0))
	var ue usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "plan run:", err)
		return ExitUsage
	case pl == nil:
		fmt.Fprintln(stderr, "plan run:", err)
		return ExitError
	}
	defer f.Close()
	if len(pl.Hosts) > 0 {
		fmt.Fprintln(stderr, "plan run: runs a plan on this machine only; run a plan over hosts with plan cluster or the printed commands")
		return ExitUsage
	}
	why := ""
	if *engine == "auto" {
		switch err := exec.Supports(f); {
		case err != nil:
			why = err.Error()
		case len(pl.Devices) > 1:
			why = "the plan offloads layers to a GPU, which the built-in engine cannot use"
		}
	}
	if why != "" {
		// llama.cpp runs it: plan again without the built-in engine's
		// limits (it may quantize the KV cache).
		f.Close()
		pf.builtinEngine = false
		if f, pl, err = pf.plan(ctx, fs.Arg(0)); pl == nil {
			fmt.Fprintln(stderr, "plan run:", err)
			return ExitError
		}
		defer f.Close()
		*engine = "llama.cpp"
	}
	if *engine == "llama.cpp" {
		if !pl.Fits {
			fmt.Fprintln(stderr, "plan run: warning: the plan does not fit this machine; running anyway")
		}
		return runLlamaCpp(ctx, pl, fs.Arg(0), sf, why, runParams{prompt: *prompt, n: *n, seed: *seed, temp: *temp, topK: *topK,
			topP: *topP, minP: *minP, rep: *repeat, ignoreEOS: *ignoreEOS}, stdout, stderr)
	}
	fmt.Fprintln(stderr, planSummary(fs.Arg(0), pl))
	if !pl.Fits {
		fmt.Fprintln(stderr, "plan run: warning: the plan does not fit this machine; running anyway")
	}
	m, err := exec.Load(ctx, pl, f)
	if err != nil {
		fmt.Fprintln(stderr, "plan run:", err)
		return ExitError
	}
	defer m.Close()
	opts := exec.GenerateOptions{MaxTokens: *n, IgnoreEOG: *ignoreEOS, Sample: exec.SampleOptions{
		Temperature: float32(*temp), TopK: *topK, TopP: float32(*topP), MinP: float32(*minP),
		RepeatPenalty: float32(*repeat), Seed: *seed,
	}}
	for tok, err := range m.Generate(ctx, *prompt, opts) {
		if err != nil {
			fmt.Fprintln(stdout)
			fmt.Fprintln(stderr, "plan run:", err)
			return ExitError
		}
		io.WriteString(stdout, tok.Text)
	}
	fmt.Fprintln(stdout)
	printStats(stderr, m.Stats())
	return ExitOK
}

// planSummary is the one-line description of how the model runs.
func planSummary(model string, p *planner.Plan) string {
	s := p.Settings
	mm := "mmap"
	if !s.MMap {
		mm = "read into memory"
	}
	if s.MLock {
		mm += ", mlock"
	}
	return fmt.Sprintf("plan: %s (%s) on the CPU: ctx %d, ubatch %d, KV %s/%s, %d threads, %s",
		filepath.Base(model), p.Model.Architecture, s.NCtx, s.NUbatch, s.CacheTypeK, s.CacheTypeV, s.Threads, mm)
}

func printStats(w io.Writer, st exec.Stats) {
	fmt.Fprintf(w, "load %.0f ms, first token %.0f ms, prefill %d tokens at %.1f tok/s, decode %d tokens at %.1f tok/s, peak RSS %s, page faults %d major / %d minor\n",
		ms(st.Load.Seconds()), ms(st.FirstToken.Seconds()), st.PromptTokens, st.PrefillTokensPerSec(),
		st.GeneratedTokens, st.DecodeTokensPerSec(), units.Bytes(st.PeakRSS), st.MajorFaults, st.MinorFaults)
}

func ms(s float64) float64 { return s * 1000 }
