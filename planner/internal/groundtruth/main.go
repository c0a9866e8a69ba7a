// Command groundtruth measures what upstream llama.cpp allocates for every
// layout of the generated zoo (internal/layouts) under a spread of settings
// and writes the planner's ground truth, testdata/planner/zoo/llamacpp-b<N>.csv.
//
//	go run ./planner/internal/groundtruth                  # every layout
//	go run ./planner/internal/groundtruth -only '^qwen3-'  # re-measure some, keep the other rows
//
// Each layout is written as a sparse file (its GGUF header, then a hole up
// to the full size) and given to llama-fit-params from the project's shared
// llama.cpp build (../shared/tools/llama.cpp/bin), which loads the model
// without reading weights (no_alloc) and logs every buffer it would
// allocate. At most two runs go at a time. Run it by hand: it needs the
// shared tools; the tests only read the CSV it writes.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelfit/modelfit/internal/layouts"
	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/planner/internal/zoo"
)

func main() {
	bin := flag.String("bin", filepath.Join(testutil.Root(), "..", "shared", "tools", "llama.cpp", "bin"), "llama.cpp tools")
	out := flag.String("o", zoo.File(), "CSV to write")
	only := flag.String("only", "", "re-measure only the layouts whose id matches this regexp, keeping the others' rows")
	per := flag.Int("n", 10, "settings per layout")
	jobs := flag.Int("j", 2, "runs at a time")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *bin, *out, *only, *per, *jobs); err != nil {
		fmt.Fprintln(os.Stderr, "groundtruth:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bin, out, only string, per, jobs int) error {
	tool := filepath.Join(bin, "llama-fit-params")
	if _, err := os.Stat(tool); err != nil {
		return fmt.Errorf("llama.cpp tools not available: %w", err)
	}
	var re *regexp.Regexp
	var kept []zoo.Row
	if only != "" {
		var err error
		if re, err = regexp.Compile(only); err != nil {
			return err
		}
		if old, err := zoo.Load(out); err == nil {
			for _, r := range old.Rows {
				if !re.MatchString(r.Layout) {
					kept = append(kept, r)
				}
			}
		}
	}
	dir, err := os.MkdirTemp("", "zoo-groundtruth-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	type job struct {
		idx  int
		spec *layouts.Spec
		s    zoo.Settings
		path string
	}
	var todo []job
	var specs []*layouts.Spec
	for _, s := range layouts.Zoo() {
		if re == nil || re.MatchString(s.ID) {
			specs = append(specs, s)
		}
	}
	// Write every layout first (a few MB of headers; the holes take no disk).
	for _, s := range specs {
		l, err := layouts.Build(s)
		if err != nil {
			return err
		}
		hdr, size, err := l.Header()
		if err != nil {
			return err
		}
		p := filepath.Join(dir, s.ID+".gguf")
		if err := os.WriteFile(p, hdr, 0o644); err != nil {
			return err
		}
		if err := os.Truncate(p, int64(len(hdr))+int64(size)); err != nil {
			return err
		}
		for _, st := range zoo.SampleSettings(s.ID, s.CtxTrain, per) {
			todo = append(todo, job{len(todo), s, st, p})
		}
	}
	rows := make([]zoo.Row, len(todo))
	ch := make(chan job)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for range max(jobs, 1) {
		wg.Go(func() {
			for j := range ch {
				m := measure(ctx, tool, j.path, j.s)
				rows[j.idx] = zoo.Row{Layout: j.spec.ID, Settings: j.s, Measured: m, Build: zoo.Build, Command: zoo.Command(j.spec.ID, j.s)}
				mu.Lock()
				done++
				if m.Error != "" {
					fmt.Fprintf(os.Stderr, "[%d/%d] %s: %s\n", done, len(todo), rows[j.idx].Command, m.Error)
				} else if done%50 == 0 {
					fmt.Fprintf(os.Stderr, "[%d/%d]\n", done, len(todo))
				}
				mu.Unlock()
			}
		})
	}
	for _, j := range todo {
		if ctx.Err() != nil {
			break
		}
		ch <- j
	}
	close(ch)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	all := append(kept, rows...)
	order := map[string]int{}
	for i, s := range layouts.Zoo() {
		order[s.ID] = i
	}
	slices.SortStableFunc(all, func(a, b zoo.Row) int { return order[a.Layout] - order[b.Layout] })
	t := &zoo.Truth{Meta: [][2]string{
		{"source", "upstream llama.cpp build 10587 (commit 3f545bec), CPU-only, ../shared/tools/llama.cpp"},
		{"generated_by", "go run ./planner/internal/groundtruth (layouts: internal/layouts)"},
		{"cpu", cpuModel()},
		{"cpu_features", strings.Join(cpuFeatures(), " ")},
		{"note", "llama-fit-params loads with load_mode none (common/fit.cpp), so --no-mmap does not change its figures"},
	}, Rows: all}
	var buf bytes.Buffer
	if err := t.Write(&buf); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}

// measure runs llama-fit-params for one layout and settings and parses its
// log, running it again (up to five times) when the log lost its last lines.
func measure(ctx context.Context, tool, path string, s zoo.Settings) zoo.Measured {
	var m zoo.Measured
	var err error
	for range 5 {
		var complete bool
		m, complete, err = measureOnce(ctx, tool, path, s)
		if complete || err != nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil && m.Error == "" {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			m.Error = ee.String()
		} else {
			m.Error = err.Error()
		}
	}
	if err == nil && m.Compute == 0 && m.Error == "" {
		m.Error = "no compute buffer in the log"
	}
	return m
}

func measureOnce(ctx context.Context, tool, path string, s zoo.Settings) (zoo.Measured, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	args := append([]string{"-m", path, "--fit-print", "on", "-v", "-t", "1"}, s.Args()...)
	cmd := exec.CommandContext(ctx, tool, args...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	err := cmd.Run()
	m, complete := zoo.ParseLog(log.String())
	return m, complete, err
}

func cpuModel() string {
	raw, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// cpuFeatures are the features the planner's repacking rules read.
func cpuFeatures() []string {
	raw, _ := os.ReadFile("/proc/cpuinfo")
	var out []string
	for _, l := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "flags" {
			flags := strings.Fields(v)
			for _, f := range []string{"avx2", "avx512f"} {
				if slices.Contains(flags, f) {
					out = append(out, f)
				}
			}
			break
		}
	}
	return out
}
