package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/modelfit/modelfit/exec"
	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/pagecache"
	"github.com/modelfit/modelfit/internal/units"
	"github.com/modelfit/modelfit/planner"
)

func init() {
	commands["run"] = command{run: runRun, summary: "plan MODEL for this machine, then generate text from a prompt (built-in CPU engine or llama-server)"}
}

const runHelp = `Plans the model for this machine, runs it with the plan's settings (context, ubatch, KV
cache type, threads, mmap, GPU layers) and prints the generated text on stdout; the plan
summary and the measurements go to stderr. The built-in CPU engine runs llama and qwen2
models on the CPU; llama.cpp's llama-server runs the rest (--engine). A plan that does not
fit is refused (exit 3) unless --force is given. Exit status: 0, 3 does not fit, 2 usage,
1 other errors.`

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	set := newFlagSet("plan run", runHelp, "plan run [flags] MODEL.gguf -p PROMPT")
	var prompt, engine string
	var n, topK int
	var seed uint64
	var temp, topP, minP, repeat float64
	var ignoreEOS, force bool
	set.stringVar(&prompt, "", groupGen, "TEXT", "the prompt (required)", "-p", "--prompt")
	set.intVar(&n, 128, groupGen, "N", "tokens to generate; <= 0: no limit but the context", "-n", "--n-predict", "--predict")
	set.add((*uint64Value)(&seed), groupGen, "N", "sampling seed: the same seed gives the same text", "-s", "--seed")
	set.floatVar(&temp, 0, groupGen, "T", "sampling temperature; <= 0: greedy, as llama.cpp (default 0)", "--temp", "--temperature")
	set.intVar(&topK, 40, groupGen, "K", "keep the K most likely tokens; <= 0: all", "--top-k")
	set.floatVar(&topP, 0.95, groupGen, "P", "nucleus sampling threshold; 1: off", "--top-p")
	set.floatVar(&minP, 0.05, groupGen, "P", "drop tokens under this share of the top one; 0: off", "--min-p")
	set.floatVar(&repeat, 1, groupGen, "X", "penalty for recently seen tokens; 1: off", "--repeat-penalty")
	set.boolVar(&ignoreEOS, groupGen, "keep generating past end-of-generation tokens", "--ignore-eos")
	set.stringVar(&engine, "auto", groupServer, "ENGINE", "builtin (the pure-Go CPU engine), llama.cpp (llama-server), or auto: builtin when it runs the model and the plan is CPU-only", "--engine")
	sf := addServerFlags(set)
	set.boolVar(&force, groupMemory, "run a plan that does not fit (or is below --min-tok-s) anyway", "--force")
	pf := addPlanFlags(set)
	if code, ok := set.parse(args, stdout, stderr); !ok {
		return code
	}
	switch {
	case set.fs.NArg() == 0:
		return set.usageError(stderr, "no model given: plan run MODEL.gguf -p PROMPT")
	case set.fs.NArg() > 1:
		return set.usageError(stderr, "one model at a time, got %d: %s (quote a prompt with spaces)", set.fs.NArg(), strings.Join(set.fs.Args(), " "))
	case prompt == "":
		return set.usageError(stderr, "no prompt: give -p TEXT")
	case isURL(set.fs.Arg(0)):
		return set.usageError(stderr, "%s: plan run runs a local file; download it first (plan %s plans it without downloading)", set.fs.Arg(0), set.fs.Arg(0))
	case math.IsNaN(temp) || math.IsNaN(topP) || math.IsNaN(minP) || math.IsNaN(repeat):
		return set.usageError(stderr, "a sampling value is not a number")
	case topP < 0 || minP < 0 || repeat <= 0:
		return set.usageError(stderr, "--top-p and --min-p want 0 or more, --repeat-penalty more than 0")
	}
	switch engine {
	case "builtin", "llama.cpp", "auto":
	default:
		return set.usageError(stderr, "--engine %q: want builtin, llama.cpp or auto", engine)
	}
	temp = max(temp, 0) // common/arg.cpp: temp = max(temp, 0); 0 is greedy
	pf.builtinEngine = engine != "llama.cpp"
	pf.llamaServer = engine == "llama.cpp"
	f, pl, code := pf.planOrReport(ctx, set, set.fs.Arg(0), stderr)
	if pl == nil {
		return code
	}
	defer f.Close()
	if code, ok := localOnly(set, pl, stderr); !ok {
		return code
	}
	why := ""
	if engine == "auto" {
		switch err := exec.Supports(f); {
		case err != nil:
			why = err.Error()
		case len(pl.Devices) > 1:
			why = "the plan offloads layers to a GPU, which the built-in engine cannot use"
		}
	}
	if why != "" {
		// llama.cpp runs it: plan again without the built-in engine's
		// limits (it may quantize the KV cache, and it pages rather
		// than streams).
		f.Close()
		pf.builtinEngine, pf.llamaServer = false, true
		if f, pl, code = pf.planOrReport(ctx, set, set.fs.Arg(0), stderr); pl == nil {
			return code
		}
		defer f.Close()
		engine = "llama.cpp"
	}
	if engine == "builtin" || engine == "auto" {
		fmt.Fprintln(stderr, planSummary(set.fs.Arg(0), pl))
	}
	refuse := ""
	switch {
	case !pl.Fits:
		var sb strings.Builder
		printPlan(&sb, pl)
		refuse = "the plan does not fit this machine"
		fmt.Fprint(stderr, sb.String())
	case pf.slow(pl) != "":
		refuse = pf.slow(pl)
	}
	if refuse != "" {
		if !force {
			fmt.Fprintf(stderr, "plan run: %s: not running it (--force runs it anyway)\n", refuse)
			return ExitNoFit
		}
		fmt.Fprintf(stderr, "plan run: %s: running it anyway (--force)\n", refuse)
	}
	if engine == "llama.cpp" {
		return runLlamaCpp(ctx, pl, set.fs.Arg(0), sf, why, runParams{prompt: prompt, n: n, seed: seed, temp: temp, topK: topK,
			topP: topP, minP: minP, rep: repeat, ignoreEOS: ignoreEOS}, stdout, stderr)
	}
	m, err := loadWithProgress(ctx, pl, f, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "plan run:", err)
		return ExitError
	}
	defer m.Close()
	opts := exec.GenerateOptions{MaxTokens: n, IgnoreEOG: ignoreEOS, Sample: exec.SampleOptions{
		Temperature: float32(temp), TopK: topK, TopP: float32(topP), MinP: float32(minP),
		RepeatPenalty: float32(repeat), Seed: seed,
	}}
	for tok, err := range m.Generate(ctx, prompt, opts) {
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

// loadWithProgress loads the model; when stderr is a terminal and loading
// takes over a second, it shows how much of the files the page cache holds.
func loadWithProgress(ctx context.Context, pl *planner.Plan, f *gguf.File, stderr io.Writer) (*exec.Model, error) {
	line := newProgress(stderr)
	if line == nil {
		return exec.Load(ctx, pl, f)
	}
	var files []*os.File
	var total int64
	for _, part := range f.Parts {
		if fh, err := os.Open(part.Path); err == nil {
			files = append(files, fh)
			total += part.Size
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			var res int64
			known := true
			for _, fh := range files {
				st, _ := fh.Stat()
				r, err := pagecache.Resident(fh, 0, st.Size())
				known = known && err == nil && r.Known
				res += r.Bytes
			}
			if known {
				line.show("loading %s: %s of %s in memory", filepath.Base(pl.Model.Path), units.Bytes(res), units.Bytes(total))
			} else {
				line.show("loading %s (%s)", filepath.Base(pl.Model.Path), units.Bytes(total))
			}
		}
	})
	m, err := exec.Load(ctx, pl, f)
	close(stop)
	wg.Wait()
	line.done()
	for _, fh := range files {
		fh.Close()
	}
	return m, err
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
	verdict := map[planner.Verdict]string{planner.VerdictFits: "fits in memory", planner.VerdictPaging: "runs paging from disk", planner.VerdictNoFit: "does not fit"}[p.Verdict]
	return fmt.Sprintf("plan: %s (%s) on the CPU: ctx %d, ubatch %d, KV %s/%s, %d threads, %s; %s, predicted decode %s tok/s",
		filepath.Base(model), p.Model.Architecture, s.NCtx, s.NUbatch, s.CacheTypeK, s.CacheTypeV, s.Threads, mm, verdict, units.Number(p.Predicted.DecodeTokensPerSecond))
}

func printStats(w io.Writer, st exec.Stats) {
	fmt.Fprintf(w, "load %.0f ms, first token %.0f ms, prefill %d tokens at %.1f tok/s, decode %d tokens at %.1f tok/s, peak RSS %s, page faults %d major / %d minor\n",
		ms(st.Load.Seconds()), ms(st.FirstToken.Seconds()), st.PromptTokens, st.PrefillTokensPerSec(),
		st.GeneratedTokens, st.DecodeTokensPerSec(), units.Bytes(st.PeakRSS), st.MajorFaults, st.MinorFaults)
}

func ms(s float64) float64 { return s * 1000 }
