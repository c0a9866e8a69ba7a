// Command table runs `plan verify` on every model in testdata/models and on
// 1B- and 8B-sized synthetic layouts (sparse files made in a temporary
// directory), with mmap and weight repacking on and off, and writes the
// table of predicted, logged and measured figures to docs/verify.md.
//
//	go run ./exec/verify/internal/table                 # everything (the 8B runs need ~6 GB of RAM and minutes)
//	go run ./exec/verify/internal/table -large=false    # the test models and the 1B layout only
//	go run ./exec/verify/internal/table -o -            # print instead of writing docs/verify.md
//
// The synthetic layouts run with n_ubatch pinned to -ubatch (256), so that
// the 8B prompt fits a shared 2-core machine's patience; the test models use
// the plan's own. It needs llama-server: -llama-server, else $LLAMA_SERVER, else the
// project's shared build beside the checkout, else PATH.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/modelfit/modelfit/exec/llamaserver"
	"github.com/modelfit/modelfit/exec/verify"
	"github.com/modelfit/modelfit/exec/verify/internal/layout"
	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/probe"
)

func main() {
	out := flag.String("o", filepath.Join(testutil.Root(), "docs", "verify.md"), "output file (- for stdout)")
	bin := flag.String("llama-server", "", "the llama-server to run")
	large := flag.Bool("large", true, "also verify the 8B-sized layout")
	tmp := flag.String("tmp", "", "directory for the synthetic layouts (default: a new temporary one)")
	ubatch := flag.Int("ubatch", 256, "n_ubatch (and so the prompt's length) pinned for the synthetic layouts; 0 = the plan's")
	profile := flag.String("profile", "", "speed profile from plan calibrate on this machine (default: the assumed speeds)")
	flag.Parse()
	if *profile != "" {
		data, err := os.ReadFile(*profile)
		if err == nil {
			speed = new(planner.SpeedProfile)
			if err = json.Unmarshal(data, speed); err == nil {
				err = speed.Validate()
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "table:", *profile+":", err)
			os.Exit(1)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *out, *bin, *tmp, *large, *ubatch); err != nil {
		fmt.Fprintln(os.Stderr, "table:", err)
		os.Exit(1)
	}
}

// speed is the machine's speed profile (-profile), nil for the assumed speeds.
var speed *planner.SpeedProfile

// config is one verification.
type config struct {
	model, label string
	mmap, repack bool
	ubatch       int // pinned when > 0
}

func run(ctx context.Context, out, bin, tmp string, large bool, ubatch int) error {
	env := os.Getenv("LLAMA_SERVER")
	if shared, ok := testutil.SharedPath("tools", "llama.cpp", "bin", "llama-server"); ok && bin == "" && env == "" {
		bin = shared
	}
	bin, err := llamaserver.Locate(bin, env)
	if err != nil {
		return err
	}
	if tmp == "" {
		if tmp, err = os.MkdirTemp("", "modelfit-verify-"); err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
	}
	var models []config
	tiny, _ := filepath.Glob(testutil.Path("models", "*.gguf"))
	sort.Strings(tiny)
	for _, m := range tiny {
		models = append(models, config{model: m, label: strings.TrimSuffix(filepath.Base(m), ".gguf")})
	}
	shapes := []layout.Shape{layout.Llama1B}
	if large {
		shapes = append(shapes, layout.Llama8B)
	}
	for _, s := range shapes {
		p := filepath.Join(tmp, s.Name+".gguf")
		if _, err := layout.Write(p, s); err != nil {
			return err
		}
		models = append(models, config{model: p, label: s.Name + " (synthetic)", ubatch: ubatch})
	}
	var rows bytes.Buffer
	var n, bad int
	failed := map[string]int{} // figure → configurations where it is outside its tolerance
	var version string
	for _, m := range models {
		for _, c := range []config{{mmap: true, repack: true}, {mmap: false, repack: true}, {mmap: true, repack: false}, {mmap: false, repack: false}} {
			c.model, c.label, c.ubatch = m.model, m.label, m.ubatch
			start := time.Now()
			rep, err := verifyOne(ctx, bin, c)
			if err != nil {
				return fmt.Errorf("%s mmap=%v repack=%v: %w", c.label, c.mmap, c.repack, err)
			}
			version = rep.Version
			n++
			if !rep.OK {
				bad++
			}
			seen := map[string]bool{}
			for _, r := range rep.Failed() {
				if !seen[r.Figure] {
					failed[r.Figure]++
					seen[r.Figure] = true
				}
			}
			fmt.Fprintf(os.Stderr, "%s mmap=%v repack=%v: ok=%v (%.0f s)\n", c.label, c.mmap, c.repack, rep.OK, time.Since(start).Seconds())
			rows.WriteString(row(c, rep))
		}
	}
	var b bytes.Buffer
	header(&b, version, n, bad, failed)
	b.Write(rows.Bytes())
	if out == "-" {
		_, err := os.Stdout.Write(b.Bytes())
		return err
	}
	return os.WriteFile(out, b.Bytes(), 0o644)
}

// verifyOne plans c.model for this machine with mmap and repacking pinned
// and verifies the plan.
func verifyOne(ctx context.Context, bin string, c config) (*verify.Report, error) {
	f, err := gguf.Open(c.model)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	snap, err := probe.Probe(ctx, probe.Options{Files: []string{c.model}, NoGPU: true})
	if err != nil {
		return nil, err
	}
	req := planner.Request{ModelPath: c.model, Speed: speed}
	req.Settings.NOutputsMax = 1 // llama-server's one logits row per slot
	req.Settings.MMap, req.Pinned.MMap = c.mmap, true
	req.Settings.NoRepack, req.Pinned.NoRepack = !c.repack, true
	if c.ubatch > 0 {
		req.Settings.NUbatch, req.Pinned.NUbatch = c.ubatch, true
	}
	p, err := planner.Make(ctx, f, snap, req)
	if p == nil {
		return nil, err
	}
	return verify.Run(ctx, p, verify.Options{Server: llamaserver.Options{Binary: bin}})
}

func header(b *bytes.Buffer, version string, n, bad int, failed map[string]int) {
	cpu := "unknown CPU"
	if snap, err := probe.Probe(context.Background(), probe.Options{NoGPU: true}); err == nil {
		cpu = fmt.Sprintf("%s, %d cores, %.1f GiB RAM", snap.CPU.Model, snap.CPU.PhysicalCores, float64(snap.Memory.TotalBytes)/(1<<30))
	}
	load := strings.Fields(readFile("/proc/loadavg"))
	fmt.Fprintln(b, "# The plan against a live llama-server")
	fmt.Fprintln(b)
	fmt.Fprintln(b, "`plan verify` plans a model for this machine, starts llama.cpp's llama-server with the plan's arguments, runs")
	fmt.Fprintln(b, "one prompt of n_ubatch tokens and 8 decode steps, and compares what the plan predicted with the buffer sizes")
	fmt.Fprintln(b, "llama.cpp logged at `-lv 4` and with what the process held (peak `RssAnon` from /proc, the model file's")
	fmt.Fprintln(b, "resident pages in the process from smaps). Each cell is predicted / actual in MiB; a ✗ marks a figure outside")
	fmt.Fprintln(b, "its tolerance: llama.cpp's logged precision for weights, repack, KV and output; 10% and inside the predicted")
	fmt.Fprintln(b, "range for compute; 2% for the allocated total (every buffer but mapped weights); for RssAnon at most the")
	fmt.Fprintln(b, "plan's host margin above the allocation and 10% below it; for the mapped model between the decode working set")
	fmt.Fprintln(b, "and the file. Speeds are predicted / measured (load: process start until `/health` answers).")
	fmt.Fprintln(b)
	fmt.Fprintf(b, "Generated by `go run ./exec/verify/internal/table` with llama-server %s on %s (%s), CPU only", version, cpu, runtime.GOARCH)
	if len(load) >= 3 {
		fmt.Fprintf(b, ", load average %s %s %s while it ran: the machine was shared, so measured speeds are a floor", load[0], load[1], load[2])
	}
	fmt.Fprintln(b, ". The 1B and 8B rows are sparse files laid out like Llama 3.2 1B and Llama 3.1 8B at Q4_K_M (zero weights: the")
	fmt.Fprintln(b, "same bytes and kernels as trained ones, read from holes instead of disk). No GPU was available: GPU buffers and")
	fmt.Fprintln(b, "NVML per-process memory are covered by unit tests only.")
	if speed != nil && speed.FirstTouchBandwidth > 0 {
		fmt.Fprintf(b, "Predictions use this machine's speed profile from `plan calibrate` (%s; first touch of fresh memory %.2f s/GiB).\n", speed.Measured, (1<<30)/speed.FirstTouchBandwidth)
	}
	fmt.Fprintln(b)
	fmt.Fprintf(b, "%d configurations, %d with a figure outside its tolerance", n, bad)
	if len(failed) > 0 {
		names := make([]string, 0, len(failed))
		for k := range failed {
			names = append(names, k)
		}
		sort.Strings(names)
		fmt.Fprint(b, ":")
		for i, k := range names {
			sep := ","
			if i == len(names)-1 {
				sep = "; every other figure is within its tolerance everywhere."
			}
			fmt.Fprintf(b, " %s in %d%s", k, failed[k], sep)
		}
	}
	fmt.Fprintln(b)
	fmt.Fprintln(b)
	if failed["compute"] > 0 {
		fmt.Fprintln(b, "Why compute differs where it does: the planner's compute point is the graph llama-fit-params and llama-cli")
		fmt.Fprintln(b, "reserve, with logits for every token of the ubatch (n_outputs_max defaults to n_batch, common/common.h).")
		fmt.Fprintln(b, "llama-server reserves one output per sequence (tools/server/server-context.cpp, server_output_limits), and")
		fmt.Fprintln(b, "the planner's low bound allows at most half the point for that difference (planner/compute.go,")
		fmt.Fprintln(b, "graphCompute); with a 128k vocabulary the logits alone are n_vocab × n_ubatch × 4 bytes, far more than half.")
		fmt.Fprintln(b, "The allocated total and RssAnon then miss by the same amount.")
		fmt.Fprintln(b)
	}
	fmt.Fprintln(b, "| model | mmap | repack | n_ctx | ubatch | weights | repack | KV | compute [range] | output | allocated | RssAnon | mapped model | load s | prefill tok/s | decode tok/s | worst |")
	fmt.Fprintln(b, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
}

func row(c config, r *verify.Report) string {
	cells := map[string]string{}
	for _, x := range r.Rows {
		if x.Device != "CPU" {
			continue
		}
		mark := ""
		if !x.OK {
			mark = " ✗"
		}
		a := "–"
		if x.Actual != nil {
			a = fmt.Sprintf("%.2f", mib(*x.Actual))
		}
		switch x.Figure {
		case "compute":
			cells[x.Figure] = fmt.Sprintf("%.2f [%.2f–%.2f] / %s%s", mib(x.Predicted), mib(x.Low), mib(x.High), a, mark)
		case "mapped model":
			cells[x.Figure] = fmt.Sprintf("%.2f–%.2f / %s%s", mib(x.Low), mib(x.High), a, mark)
		default:
			cells[x.Figure] = fmt.Sprintf("%.2f / %s%s", mib(x.Predicted), a, mark)
		}
	}
	cell := func(k string) string {
		if v, ok := cells[k]; ok {
			return v
		}
		return "–"
	}
	speed := func(i int) string {
		s := r.Speed[i]
		return fmt.Sprintf("%.3g / %.3g", s.Predicted, s.Measured)
	}
	worst := "–"
	if w := r.WorstRow(); w != nil {
		worst = w.Figure
		if w.OK {
			worst = "all ok (closest: " + w.Figure + ")"
		}
	}
	return fmt.Sprintf("| %s | %s | %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
		c.label, onOff(c.mmap), onOff(c.repack), r.Settings.NCtx, r.Settings.NUbatch,
		cell("weights"), cell("repack"), cell("KV"), cell("compute"), cell("output"), cell("allocated"),
		cell("anonymous"), cell("mapped model"), speed(0), speed(1), speed(2), worst)
}

func mib(b uint64) float64 { return float64(b) / llamaserver.MiB }

func onOff(v bool) string {
	if v {
		return "on"
	}
	return "off"
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}
