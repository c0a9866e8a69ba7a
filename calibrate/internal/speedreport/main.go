// Command speedreport measures llama-bench's prefill and decode speed on
// synthetic 1B- and 8B-sized layouts (Q8_0, Q4_0, Q4_K_M) and compares the
// planner's predictions with them, before and after calibration.
//
//	go run ./calibrate/internal/speedreport prepare -dir /tmp/os-speed   # write and quantize the layouts
//	go run ./calibrate/internal/speedreport bench -dir /tmp/os-speed      # rounds: calibrate, then every layout
//	go run ./calibrate/internal/speedreport report                      # docs/speed-accuracy.md
//
// The layouts are large (the 8B F16 file is 16 GB while it lasts): they
// live outside the repository and are deleted by hand afterwards.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/modelfit/modelfit/calibrate"
	"github.com/modelfit/modelfit/internal/testutil"
)

var (
	shapes = []calibrate.Shape{calibrate.Llama1B, calibrate.Llama8B}
	types  = []string{"Q8_0", "Q4_0", "Q4_K_M"}
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: speedreport prepare|bench [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	dir := fs.String("dir", "/tmp/os-speed", "directory of the synthetic layouts")
	bin := fs.String("bin", "../shared/tools/llama.cpp/bin", "directory of llama-quantize and llama-bench")
	threads := fs.Int("t", 2, "threads")
	rounds := fs.Int("rounds", 3, "rounds of calibration followed by every layout (bench)")
	out := fs.String("o", "testdata/calibrate/speed-report.json", "the measurements (bench)")
	pp := fs.Int("p", 64, "prompt tokens (bench)")
	tg := fs.Int("n", 32, "generated tokens (bench)")
	reps := fs.Int("r", 3, "repetitions (bench)")
	in := fs.String("i", testutil.Path("calibrate", "speed-report.json"), "the measurements (report)")
	doc := fs.String("doc", filepath.Join(testutil.Root(), "docs", "speed-accuracy.md"), "the report (report)")
	fs.Parse(os.Args[2:])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	switch os.Args[1] {
	case "prepare":
		os.MkdirAll(*dir, 0o755)
		err = prepare(ctx, *dir, shapes, types)
	case "bench":
		var b string
		if b, err = calibrate.FindTool("llama-bench", "", *bin); err == nil {
			err = bench(ctx, b, *dir, *out, *threads, *pp, *tg, *reps, *rounds)
		}
	case "report":
		err = report(*in, *doc)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "speedreport:", err)
		os.Exit(1)
	}
}
