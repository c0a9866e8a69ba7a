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
//
// llama-fit-params has no unified KV cache (-kvu is llama-server's): for
// the layouts small enough to map (-server-max), a few rows come from
// llama-server itself, started without warmup or fitting and stopped once
// it has logged its compute buffer (-server-only measures just those).
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
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
	srv := flag.Int("server", 3, "llama-server rows (unified KV cache) per layout of at most -server-max bytes")
	serverOnly := flag.Bool("server-only", false, "measure only the llama-server rows, keeping every llama-fit-params row")
	srvMax := flag.Int64("server-max", 1600<<20, "largest layout (bytes) measured with llama-server: it maps and prefetches the (sparse) file")
	jobs := flag.Int("j", 2, "runs at a time")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *bin, *out, *only, *per, *jobs, *srv, *srvMax, *serverOnly); err != nil {
		fmt.Fprintln(os.Stderr, "groundtruth:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bin, out, only string, per, jobs, srv int, srvMax int64, serverOnly bool) error {
	tool := filepath.Join(bin, "llama-fit-params")
	server := filepath.Join(bin, "llama-server")
	if _, err := os.Stat(tool); err != nil {
		return fmt.Errorf("llama.cpp tools not available: %w", err)
	}
	var re *regexp.Regexp
	var kept []zoo.Row
	if serverOnly && only == "" {
		only = "."
	}
	if only != "" {
		var err error
		if re, err = regexp.Compile(only); err != nil {
			return err
		}
		if old, err := zoo.Load(out); err == nil {
			for _, r := range old.Rows {
				if !re.MatchString(r.Layout) || serverOnly && !r.KVUnified {
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
			if !serverOnly {
				todo = append(todo, job{len(todo), s, st, p})
			}
		}
		if int64(len(hdr))+int64(size) <= srvMax {
			f, err := l.File()
			if err != nil {
				return err
			}
			if v, ok := f.Metadata.Get(s.Arch + ".attention.causal"); ok {
				if causal, _ := v.Bool(); !causal {
					continue // an encoder: llama-server serves it only with --embeddings
				}
			}
			for _, st := range zoo.SampleServerSettings(s.ID, srv) {
				// llama-server allocates (and clears) what it reserves:
				// keep each run's KV cache and buffers small on a shared
				// machine.
				if b, err := zoo.Estimate(zoo.Row{Settings: st}, f, nil); err == nil && b > serverBudget {
					continue
				}
				todo = append(todo, job{len(todo), s, st, p})
			}
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
				var m zoo.Measured
				if j.s.KVUnified {
					m = measureServer(ctx, server, j.path, j.s)
				} else {
					m = measure(ctx, tool, j.path, j.s)
				}
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

// measureServer starts llama-server on the layout (unified KV cache, no
// warmup, no fitting), reads its debug log until the compute buffer is
// reserved, and stops it: the weights are mapped, never computed with.
func measureServer(ctx context.Context, tool, path string, s zoo.Settings) zoo.Measured {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	port, err := freePort()
	if err != nil {
		return zoo.Measured{Error: err.Error()}
	}
	args := slices.Concat([]string{"-m", path, "-v", "-t", "1", "--host", "127.0.0.1", "--port", strconv.Itoa(port)}, zoo.ServerArgs(s))
	cmd := exec.CommandContext(ctx, tool, args...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return zoo.Measured{Error: err.Error()}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); pw.Close() }()
	var log strings.Builder
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	reserved := false
	for sc.Scan() {
		log.WriteString(sc.Text())
		log.WriteByte('\n')
		if strings.Contains(sc.Text(), "sched_reserve:") && strings.Contains(sc.Text(), "compute buffer size") {
			reserved = true
			cmd.Process.Kill()
		}
	}
	err = <-done
	m, _ := zoo.ParseLog(log.String())
	if !reserved && m.Error == "" {
		m.Error = fmt.Sprint("llama-server stopped before reserving its compute buffer: ", err)
	}
	if reserved {
		// Killed after the reservation: whatever it logged later is moot.
		m.Error = ""
	}
	return m
}

// serverBudget bounds what one llama-server run may allocate beside the
// mapped weights (KV cache, state, output and compute buffers, as the
// planner estimates them).
const serverBudget = 1 << 30

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
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
