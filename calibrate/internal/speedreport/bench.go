package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/shirou/gopsutil/v4/load"

	"github.com/modelfit/modelfit/calibrate"
	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/probe"
)

// record is what bench stores (testdata/calibrate/speed-report.json) and
// report reads: this machine, the calibration profile measured just before,
// and llama-bench's figures for the report's layouts.
type record struct {
	Machine    machine               `json:"machine"`
	LoadBefore string                `json:"load_before"`
	LoadAfter  string                `json:"load_after"`
	LlamaBench string                `json:"llama_bench"`
	Threads    int                   `json:"threads"`
	NPrompt    int                   `json:"n_prompt"`
	NGen       int                   `json:"n_gen"`
	Reps       int                   `json:"reps"`
	Samples    []planner.SpeedSample `json:"samples"`
	Profile    *planner.SpeedProfile `json:"profile"`
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

// bench measures every layout with llama-bench and writes the record.
func bench(ctx context.Context, benchBin, dir, profilePath, out string, threads, pp, tg, reps int) error {
	prof, err := readProfile(profilePath)
	if err != nil {
		return err
	}
	snap, err := probe.Probe(ctx, probe.Options{NoGPU: true})
	if err != nil {
		return err
	}
	rec := record{Machine: machine{CPU: snap.CPU.Model, Cores: snap.CPU.PhysicalCores, Features: snap.CPU.Features, RAMBytes: snap.Memory.TotalBytes},
		LoadBefore: loadAvg(), LlamaBench: benchBin, Threads: threads, NPrompt: pp, NGen: tg, Reps: reps, Profile: prof}
	for _, s := range shapes {
		for _, typ := range types {
			path := modelPath(dir, s, typ)
			f, err := gguf.Open(path)
			if err != nil {
				return err
			}
			dec, fl, layers := planner.WorkPerToken(f, pp)
			f.Close()
			t0 := time.Now()
			res, err := calibrate.Bench(ctx, benchBin, path, []int{threads}, pp, tg, reps)
			if err != nil {
				return err
			}
			smp := planner.SpeedSample{Model: s.Name + "-" + typ, Threads: threads, Layers: layers, DecodeBytes: dec, PrefillFLOPs: fl}
			for _, r := range res {
				if r.NGen > 0 {
					smp.NGen, smp.DecodeTokPerSec = r.NGen, r.TokPerSec
				} else {
					smp.NPrompt, smp.PrefillTokPerSec = r.NPrompt, r.TokPerSec
				}
			}
			fmt.Fprintf(os.Stderr, "%s: prefill %.2f tok/s, decode %.2f tok/s (%.0f s, load %s)\n", smp.Model, smp.PrefillTokPerSec, smp.DecodeTokPerSec, time.Since(t0).Seconds(), loadAvg())
			rec.Samples = append(rec.Samples, smp)
			// Written after every layout: a long run stopped early keeps
			// what it measured.
			rec.LoadAfter = loadAvg()
			data, err := json.MarshalIndent(rec, "", "  ")
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, append(data, '\n'), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

func readProfile(path string) (*planner.SpeedProfile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p planner.SpeedProfile
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &p, p.Validate()
}
