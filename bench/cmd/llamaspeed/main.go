// Command llamaspeed measures llama.cpp's prefill and decode speed on the
// synth-llama-gqa-* test models through the llama.h C API (CPU backend,
// 2 threads, 256-token context by default), for comparison with modelfit's
// pure-Go engine. Each model gets one warm-up run, then the median of
// -runs timed runs is printed.
//
//	go run ./cmd/llamaspeed -models ../testdata/models,/work/shared/testdata/models
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/modelfit/modelfit/bench/llamacpp"
)

// DefaultPrompt is the prompt timed unless -prompt is given.
const DefaultPrompt = "Once upon a time, in a small village at the edge of a great forest, there lived an old clockmaker " +
	"who repaired every clock in the valley. One winter morning a stranger knocked at his door and asked him to mend " +
	"a clock that ran backwards."

func main() {
	models := flag.String("models", "../testdata/models", "comma-separated directories searched for synth-llama-gqa-*.gguf")
	prompt := flag.String("prompt", DefaultPrompt, "prompt text")
	gen := flag.Int("n", 64, "tokens to generate")
	runs := flag.Int("runs", 5, "timed runs per model (after one warm-up)")
	threads := flag.Int("threads", 2, "CPU threads")
	nctx := flag.Int("ctx", 256, "context length")
	nopoll := flag.Bool("nopoll", false, "idle threadpool workers sleep instead of spinning")
	verbose := flag.Bool("v", false, "show llama.cpp's log")
	flag.Parse()
	o := llamacpp.Options{Threads: *threads, Ctx: *nctx, NoPoll: *nopoll, Verbose: *verbose}
	if err := run(context.Background(), strings.Split(*models, ","), *prompt, *gen, *runs, o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dirs []string, prompt string, gen, runs int, o llamacpp.Options) error {
	if runs < 1 || gen < 1 {
		return fmt.Errorf("llamaspeed: -runs and -n must be positive")
	}
	seen := map[string]bool{}
	var files []string
	for _, d := range dirs {
		m, err := filepath.Glob(filepath.Join(d, "synth-llama-gqa-*.gguf"))
		if err != nil {
			return fmt.Errorf("llamaspeed: %w", err)
		}
		for _, f := range m {
			if !seen[filepath.Base(f)] {
				seen[filepath.Base(f)] = true
				files = append(files, f)
			}
		}
	}
	sort.Slice(files, func(i, j int) bool { return filepath.Base(files[i]) < filepath.Base(files[j]) })
	fmt.Printf("llama.cpp (ollama v0.17.4 vendored), CPU, %d threads, n_ctx %d, median of %d runs\n", o.Threads, o.Ctx, runs)
	fmt.Printf("%-30s %7s %12s %5s %12s\n", "model", "prompt", "prefill t/s", "gen", "decode t/s")
	for _, f := range files {
		if err := one(ctx, f, prompt, gen, runs, o); err != nil {
			return err
		}
	}
	return nil
}

func one(ctx context.Context, path, prompt string, gen, runs int, o llamacpp.Options) error {
	m, err := llamacpp.Load(path, o)
	if err != nil {
		return err
	}
	defer m.Close()
	toks, err := m.Tokenize(prompt)
	if err != nil {
		return err
	}
	if _, err := m.Run(ctx, toks, gen); err != nil { // warm-up
		return err
	}
	var pre, dec []time.Duration
	var last llamacpp.Timing
	for range runs {
		tm, err := m.Run(ctx, toks, gen)
		if err != nil {
			return err
		}
		pre = append(pre, tm.Prefill)
		dec = append(dec, tm.Decode)
		last = tm
	}
	last.Prefill, last.Decode = median(pre), median(dec)
	fmt.Printf("%-30s %7d %12.1f %5d %12.1f\n", filepath.Base(path), last.PromptTokens, last.PrefillTPS(), last.GenTokens, last.DecodeTPS())
	return nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
