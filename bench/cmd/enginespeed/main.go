// Command enginespeed compares modelfit's pure-Go engine (exec) with
// llama.cpp's llama-bench on realistic model sizes: llama layouts with
// TinyLlama-1.1B and Llama-3-8B dimensions, random F16 weights quantized by
// the shared upstream llama-quantize (written once into a cache directory,
// never committed). For every layout it runs llama-bench and the engine
// alternately, -runs times each, every run a fresh process, and prints
// prefill (pp) and decode (tg) tokens per second as median [min–max] with
// the engine/llama.cpp ratio of the medians.
//
//	cd bench && go run ./cmd/enginespeed                    # all shapes and types
//	go run ./cmd/enginespeed -shapes 1.1B -types Q4_K_M -runs 5
//
// The engine runs as a child process of this command (the same binary with
// -engine-run), so both sides' peak RSS is a process's own.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	mexec "github.com/modelfit/modelfit/exec"
	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/planner"
)

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "# "+format+"\n", args...)
}

func main() {
	var (
		cache   = flag.String("cache", filepath.Join(os.TempDir(), "modelfit-bench-layouts"), "directory for the generated model files")
		shapesF = flag.String("shapes", "1.1B,8B", "model shapes (1.1B, 8B)")
		typesF  = flag.String("types", "Q8_0,Q4_0,Q4_K_M,Q6_K", "llama-quantize types")
		runs    = flag.Int("runs", 3, "runs of each side per layout, interleaved")
		nPrompt = flag.Int("p", 128, "prompt tokens (pp test)")
		nGen    = flag.Int("n", 64, "generated tokens (tg test)")
		threads = flag.Int("t", 2, "threads")
		bin     = flag.String("llama", "", "llama.cpp bin directory (default: ../shared/tools/llama.cpp/bin beside the checkout)")
		keepF16 = flag.Bool("keep-f16", false, "keep the F16 source files after quantizing")
		pause   = flag.Duration("pause", 0, "sleep between runs (lets a shared machine's other work run when this runs at real-time priority)")
		before  = flag.String("before", "", "another enginespeed binary (built at an older commit) whose engine runs as a third side, interleaved")
		engine  = flag.String("engine-run", "", "internal: measure the engine on this file and print JSON")
	)
	flag.Parse()
	if *engine != "" {
		r, err := runEngine(*engine, *nPrompt, *nGen, *threads)
		if err != nil {
			fmt.Fprintln(os.Stderr, "enginespeed:", err)
			os.Exit(1)
		}
		json.NewEncoder(os.Stdout).Encode(r)
		return
	}
	pauseBetween = *pause
	if err := run(*cache, *bin, *before, strings.Split(*shapesF, ","), strings.Split(*typesF, ","), *runs, *nPrompt, *nGen, *threads, *keepF16); err != nil {
		fmt.Fprintln(os.Stderr, "enginespeed:", err)
		os.Exit(1)
	}
}

var pauseBetween time.Duration

// result is one run of one side.
type result struct {
	PP, TG  float64 // tokens per second
	RSS     uint64  // peak resident set, bytes
	LoadSec float64 `json:",omitempty"`
}

func findBin() (string, error) {
	_, file, _, _ := runtime.Caller(0)
	for d := filepath.Dir(file); d != filepath.Dir(d); d = filepath.Dir(d) {
		p := filepath.Join(d, "..", "shared", "tools", "llama.cpp", "bin")
		if _, err := os.Stat(filepath.Join(p, "llama-bench")); err == nil {
			return filepath.Clean(p), nil
		}
	}
	return "", errors.New("llama.cpp tools not found beside the checkout (../shared/tools/llama.cpp/bin); pass -llama")
}

func run(cache, bin, before string, shapeNames, types []string, runs, nPrompt, nGen, threads int, keepF16 bool) error {
	if bin == "" {
		var err error
		if bin, err = findBin(); err != nil {
			return err
		}
	}
	vocabPath := filepath.Join(bin, "..", "..", "..", "testdata", "vocab", "ggml-vocab-llama-spm.gguf")
	vocab, err := gguf.Open(vocabPath)
	if err != nil {
		return fmt.Errorf("the 32k vocabulary: %w", err)
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	type row struct {
		shape, typ    string
		fileBytes     int64
		readPerToken  int64
		llama, engine []result
		before        []result
	}
	var rows []row
	for _, sn := range shapeNames {
		s, ok := shapes[sn]
		if !ok {
			return fmt.Errorf("unknown shape %q (1.1B or 8B)", sn)
		}
		var paths []string
		for _, typ := range types {
			p, err := ensureLayout(cache, bin, s, typ, vocab)
			if err != nil {
				return err
			}
			paths = append(paths, p)
		}
		if !keepF16 {
			os.Remove(filepath.Join(cache, fmt.Sprintf("llama-%s-F16.gguf", s.name)))
		}
		for i, p := range paths {
			f, err := gguf.Open(p)
			if err != nil {
				return err
			}
			st, _ := os.Stat(p)
			r := row{shape: sn, typ: types[i], fileBytes: st.Size(), readPerToken: perToken(f)}
			f.Close()
			for k := range runs {
				logf("%s %s run %d/%d (load average %s)", sn, types[i], k+1, runs, loadAvg())
				time.Sleep(pauseBetween)
				lr, err := runLlama(bin, p, nPrompt, nGen, threads)
				if err != nil {
					return err
				}
				time.Sleep(pauseBetween)
				er, err := runEngineChild(self, p, nPrompt, nGen, threads)
				if err != nil {
					return err
				}
				logf("  llama.cpp pp %.1f tg %.2f | engine pp %.1f tg %.2f", lr.PP, lr.TG, er.PP, er.TG)
				r.llama, r.engine = append(r.llama, lr), append(r.engine, er)
				if before != "" {
					time.Sleep(pauseBetween)
					br, err := runEngineChild(before, p, nPrompt, nGen, threads)
					if err != nil {
						return err
					}
					logf("  engine before pp %.1f tg %.2f", br.PP, br.TG)
					r.before = append(r.before, br)
				}
			}
			rows = append(rows, r)
		}
	}
	fmt.Printf("enginespeed: %d threads, pp%d / tg%d, %d interleaved runs per side, median [min–max]; %s; load average at end %s\n\n",
		threads, nPrompt, nGen, runs, time.Now().UTC().Format("2006-01-02 15:04 UTC"), loadAvg())
	fmt.Printf("| shape | type | file GB | llama.cpp pp | engine pp | pp ratio | llama.cpp tg | engine tg | tg ratio | engine GB/s | RSS engine / llama.cpp GiB |\n")
	fmt.Printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	pp := func(x result) float64 { return x.PP }
	tg := func(x result) float64 { return x.TG }
	rss := func(x result) float64 { return float64(x.RSS) }
	for _, r := range rows {
		lpp, epp, ltg, etg := stat(r.llama, pp), stat(r.engine, pp), stat(r.llama, tg), stat(r.engine, tg)
		lrss, erss := stat(r.llama, rss), stat(r.engine, rss)
		fmt.Printf("| %s | %s | %.2f | %s | %s | %.2f | %s | %s | %.2f | %.1f | %.2f / %.2f |\n",
			r.shape, r.typ, float64(r.fileBytes)/1e9,
			lpp.fmt(1), epp.fmt(1), epp.med/lpp.med,
			ltg.fmt(2), etg.fmt(2), etg.med/ltg.med,
			etg.med*float64(r.readPerToken)/1e9, erss.max/(1<<30), lrss.max/(1<<30))
	}
	if before == "" {
		return nil
	}
	fmt.Printf("\nThe engine before (%s), in the same runs:\n\n", before)
	fmt.Printf("| shape | type | engine before pp | pp ratio | engine before tg | tg ratio | RSS GiB |\n")
	fmt.Printf("|---|---|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		lpp, bpp, ltg, btg := stat(r.llama, pp), stat(r.before, pp), stat(r.llama, tg), stat(r.before, tg)
		fmt.Printf("| %s | %s | %s | %.2f | %s | %.2f | %.2f |\n", r.shape, r.typ,
			bpp.fmt(1), bpp.med/lpp.med, btg.fmt(2), btg.med/ltg.med, stat(r.before, rss).max/(1<<30))
	}
	return nil
}

// perToken is the weight bytes one decoded token reads: all but the token
// embeddings, of which it reads one row.
func perToken(f *gguf.File) int64 {
	n := f.TensorBytes()
	if t, ok := f.Tensor("token_embd.weight"); ok {
		if _, tied := f.Tensor("output.weight"); tied {
			n -= int64(t.Size)
		}
	}
	return n
}

type summary struct{ med, min, max float64 }

func stat(rs []result, v func(result) float64) summary {
	xs := make([]float64, len(rs))
	for i, r := range rs {
		xs[i] = v(r)
	}
	slices.Sort(xs)
	if len(xs) == 0 {
		return summary{}
	}
	m := xs[len(xs)/2]
	if len(xs)%2 == 0 {
		m = (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	return summary{m, xs[0], xs[len(xs)-1]}
}

func (s summary) fmt(prec int) string {
	return fmt.Sprintf("%.*f [%.*f–%.*f]", prec, s.med, prec, s.min, prec, s.max)
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func maxRSS(ps *os.ProcessState) uint64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return uint64(ru.Maxrss) * 1024
	}
	return 0
}

// runLlama runs one llama-bench process (one repetition of pp and of tg,
// after its own warm-up) with its defaults otherwise: load mode auto (read,
// not mmap), CPU repacking on, flash attention auto.
func runLlama(bin, model string, nPrompt, nGen, threads int) (result, error) {
	cmd := exec.Command(filepath.Join(bin, "llama-bench"), "-m", model, "-p", fmt.Sprint(nPrompt), "-n", fmt.Sprint(nGen),
		"-t", fmt.Sprint(threads), "-r", "1", "-o", "json")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("llama-bench: %w\n%s", err, stderr.String())
	}
	var tests []struct {
		NPrompt int     `json:"n_prompt"`
		NGen    int     `json:"n_gen"`
		AvgTS   float64 `json:"avg_ts"`
	}
	if err := json.Unmarshal(out, &tests); err != nil {
		return result{}, fmt.Errorf("llama-bench output: %w", err)
	}
	r := result{RSS: maxRSS(cmd.ProcessState)}
	for _, t := range tests {
		if t.NPrompt > 0 {
			r.PP = t.AvgTS
		} else if t.NGen > 0 {
			r.TG = t.AvgTS
		}
	}
	return r, nil
}

func runEngineChild(self, model string, nPrompt, nGen, threads int) (result, error) {
	cmd := exec.Command(self, "-engine-run", model, "-p", fmt.Sprint(nPrompt), "-n", fmt.Sprint(nGen), "-t", fmt.Sprint(threads))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("engine: %w\n%s", err, stderr.String())
	}
	var r result
	if err := json.Unmarshal(out, &r); err != nil {
		return result{}, fmt.Errorf("engine output: %w", err)
	}
	r.RSS = maxRSS(cmd.ProcessState)
	return r, nil
}

// runEngine measures the engine the way llama-bench measures llama.cpp: a
// warm-up prompt and one generated token, then a prompt of nPrompt tokens
// from an empty cache, then nGen tokens generated one at a time from an
// empty cache.
func runEngine(path string, nPrompt, nGen, threads int) (result, error) {
	ctx := context.Background()
	start := time.Now()
	f, err := gguf.Open(path)
	if err != nil {
		return result{}, err
	}
	defer f.Close()
	s := planner.Settings{NCtx: nPrompt + nGen, NUbatch: 512, CacheTypeK: "f16", CacheTypeV: "f16", MMap: true, Threads: threads}
	m, err := mexec.LoadSettings(ctx, s, f)
	if err != nil {
		return result{}, err
	}
	defer m.Close()
	load := time.Since(start)
	prompt := make([]int32, nPrompt)
	for i := range prompt {
		prompt[i] = int32((i*131 + 7) % m.VocabSize())
	}
	if _, err := m.EvalLast(ctx, prompt); err != nil {
		return result{}, err
	}
	m.Reset()
	if _, err := m.EvalLast(ctx, prompt[:1]); err != nil {
		return result{}, err
	}
	m.Reset()
	t0 := time.Now()
	if _, err := m.EvalLast(ctx, prompt); err != nil {
		return result{}, err
	}
	pp := float64(nPrompt) / time.Since(t0).Seconds()
	m.Reset()
	tok := int32(1)
	t0 = time.Now()
	for range nGen {
		if _, err := m.EvalLast(ctx, []int32{tok}); err != nil {
			return result{}, err
		}
	}
	tg := float64(nGen) / time.Since(t0).Seconds()
	return result{PP: pp, TG: tg, LoadSec: load.Seconds()}, nil
}
