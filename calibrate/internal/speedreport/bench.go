package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/shirou/gopsutil/v4/load"

	"github.com/modelfit/modelfit/calibrate"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/probe"
)

// record is what bench stores (testdata/calibrate/speed-report.json) and
// report reads: this machine, llama-bench's settings, and rounds of
// calibration followed by llama-bench on every report layout.
type record struct {
	Machine    machine `json:"machine"`
	LlamaBench string  `json:"llama_bench"`
	Threads    int     `json:"threads"`
	NPrompt    int     `json:"n_prompt"`
	NGen       int     `json:"n_gen"`
	Reps       int     `json:"reps"`
	Rounds     []round `json:"rounds"`
}

// round is one calibration (plan calibrate's code, run in process) and the
// layouts measured right after it.
type round struct {
	Started    string                `json:"started"`
	LoadBefore string                `json:"load_before"`
	LoadAfter  string                `json:"load_after"`
	Profile    *planner.SpeedProfile `json:"profile"`
	Samples    []planner.SpeedSample `json:"samples"`
}

type machine struct {
	CPU      string   `json:"cpu"`
	Cores    int      `json:"cores"`
	Features []string `json:"features"`
	RAMBytes uint64   `json:"ram_bytes"`
}

func loadAvg() string {
	l, err := load.Avg()
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%.2f %.2f %.2f", l.Load1, l.Load5, l.Load15)
}

// bench runs rounds of calibration followed by llama-bench on every layout
// and writes the record after each layout, so that a run stopped early keeps
// what it measured. Rounds interleave calibration and measurement in time:
// on a machine whose speed drifts (a shared virtual machine) the report can
// then tell the model's error from the machine's drift.
func bench(ctx context.Context, benchBin, dir, out string, threads, pp, tg, reps, rounds int) error {
	snap, err := probe.Probe(ctx, probe.Options{NoGPU: true})
	if err != nil {
		return err
	}
	rec := record{Machine: machine{CPU: snap.CPU.Model, Cores: snap.CPU.PhysicalCores, Features: snap.CPU.Features, RAMBytes: snap.Memory.TotalBytes},
		LlamaBench: benchBin, Threads: threads, NPrompt: pp, NGen: tg, Reps: reps}
	for i := 1; i <= rounds; i++ {
		rd := round{Started: time.Now().UTC().Format(time.RFC3339), LoadBefore: loadAvg()}
		if err := dropOthers(dir, ""); err != nil {
			return err
		}
		t0 := time.Now()
		rd.Profile, err = calibrate.Run(ctx, calibrate.Options{LlamaBench: benchBin, Dir: dir, Threads: threads, Machine: snap.CPU.Model})
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "round %d: calibrated in %.0f s (load %s)\n", i, time.Since(t0).Seconds(), loadAvg())
		rec.Rounds = append(rec.Rounds, rd)
		cur := &rec.Rounds[len(rec.Rounds)-1]
		for _, s := range shapes {
			for _, typ := range types {
				smp, err := benchLayout(ctx, benchBin, dir, s, typ, threads, pp, tg, reps)
				if err != nil {
					return err
				}
				fmt.Fprintf(os.Stderr, "round %d: %s: prefill %.2f tok/s, decode %.2f tok/s (load %s)\n", i, smp.Model, smp.PrefillTokPerSec, smp.DecodeTokPerSec, loadAvg())
				cur.Samples = append(cur.Samples, smp)
				cur.LoadAfter = loadAvg()
				if err := writeRecord(out, &rec); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func benchLayout(ctx context.Context, benchBin, dir string, s calibrate.Shape, typ string, threads, pp, tg, reps int) (planner.SpeedSample, error) {
	path := modelPath(dir, s, typ)
	if err := dropOthers(dir, path); err != nil {
		return planner.SpeedSample{}, err
	}
	return calibrate.BenchSample(ctx, benchBin, path, s.Name+"-"+typ, threads, pp, tg, reps)
}

func writeRecord(path string, rec *record) error {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
