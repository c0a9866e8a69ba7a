package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/modelfit/modelfit/calibrate"
	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/probe"
)

// Goals of the report: after calibration, predicted decode within ±10% of
// llama-bench and prefill within ±20%.
const decodeGoal, prefillGoal = 0.10, 0.20

// row is one layout's measured and predicted speeds.
type row struct {
	model                string
	decode, prefill      float64 // measured
	decBefore, preBefore float64 // predicted with the assumed constants
	decAfter, preAfter   float64 // predicted with the profile
}

func (r row) errs() (db, pb, da, pa float64) {
	return r.decBefore/r.decode - 1, r.preBefore/r.prefill - 1, r.decAfter/r.decode - 1, r.preAfter/r.prefill - 1
}

func readRecord(path string) (*record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if rec.Profile == nil || len(rec.Samples) == 0 {
		return nil, fmt.Errorf("%s: no profile or no samples", path)
	}
	return &rec, rec.Profile.Validate()
}

// predictRows plans every measured layout on the recorded machine, without
// and with the profile, as llama-bench ran it: CPU only, its threads, a
// physical batch of the prompt's length.
func predictRows(rec *record, tmp string) ([]row, error) {
	snap := probe.Describe(probe.Description{RAMBytes: rec.Machine.RAMBytes, Cores: rec.Machine.Cores, Features: rec.Machine.Features, Model: rec.Machine.CPU})
	var rows []row
	for _, s := range rec.Samples {
		shape, mix, ok := layoutOf(s.Model)
		if !ok {
			return nil, fmt.Errorf("sample %q: not a report layout", s.Model)
		}
		path := filepath.Join(tmp, s.Model+".header.gguf")
		if err := calibrate.WriteHeader(path, shape, mix); err != nil {
			return nil, err
		}
		f, err := gguf.Open(path)
		if err != nil {
			return nil, err
		}
		req := planner.Request{Settings: planner.Settings{NCtx: 256, NUbatch: s.NPrompt, Threads: s.Threads},
			Pinned: planner.Pins{NCtx: true, NUbatch: true, Threads: true}}
		before, err := planner.Make(context.Background(), f, snap, req)
		if err != nil {
			f.Close()
			return nil, err
		}
		req.Speed = rec.Profile
		after, err := planner.Make(context.Background(), f, snap, req)
		f.Close()
		if err != nil {
			return nil, err
		}
		rows = append(rows, row{model: s.Model, decode: s.DecodeTokPerSec, prefill: s.PrefillTokPerSec,
			decBefore: before.Predicted.DecodeTokensPerSecond, preBefore: before.Predicted.PrefillTokensPerSecond,
			decAfter: after.Predicted.DecodeTokensPerSecond, preAfter: after.Predicted.PrefillTokensPerSecond})
	}
	return rows, nil
}

func layoutOf(name string) (calibrate.Shape, string, bool) {
	for _, s := range shapes {
		for _, t := range types {
			if name == s.Name+"-"+t {
				return s, t, true
			}
		}
	}
	return calibrate.Shape{}, "", false
}

// renderReport writes docs/speed-accuracy.md.
func renderReport(rec *record, rows []row) []byte {
	var b bytes.Buffer
	p := rec.Profile
	fmt.Fprintf(&b, "# Speed prediction accuracy\n\n")
	fmt.Fprintf(&b, "The planner's predicted CPU prefill and decode speed against llama.cpp's own `llama-bench` on this project's\n")
	fmt.Fprintf(&b, "development machine (%s, %d cores, %.0f GiB), before calibration (the speed model's constants from the reference\n", rec.Machine.CPU, rec.Machine.Cores, float64(rec.Machine.RAMBytes)/(1<<30))
	fmt.Fprintf(&b, "machine, `planner/predict.go`) and after (`plan calibrate`'s profile of this machine, measured just before). The\n")
	fmt.Fprintf(&b, "layouts are synthetic (random weights) with Llama 3.2 1B's and Llama 3.1 8B's shapes in llama-quantize's Q8_0,\n")
	fmt.Fprintf(&b, "Q4_0 and Q4_K_M mixes (`calibrate.Write`); calibration itself ran on two other, smaller shapes (`calib-wide`,\n")
	fmt.Fprintf(&b, "`calib-deep`), so every row below is out of sample. Goal after calibration: decode within ±%.0f%%, prefill\n", decodeGoal*100)
	fmt.Fprintf(&b, "within ±%.0f%%; a ✗ marks a figure outside it.\n\n", prefillGoal*100)
	fmt.Fprintf(&b, "llama-bench: %d thread(s), CPU only, mmap, prompt %d tokens (one ubatch), %d generated tokens, median of %d\n", rec.Threads, rec.NPrompt, rec.NGen, rec.Reps)
	fmt.Fprintf(&b, "repetitions. Load average (1, 5, 15 min) %s before and %s after; calibration at %s.\n\n", rec.LoadBefore, rec.LoadAfter, p.Load)
	fmt.Fprintf(&b, "Measured with nothing else running (the load averages above are llama-bench's own threads). On this virtual\n")
	fmt.Fprintf(&b, "machine the measurement itself moves: two bench runs of these layouts minutes apart (2026-12-05) differed by\n")
	fmt.Fprintf(&b, "7–25%% in decode on four of the six, under 1%% on one and by a third on one (8B Q4_K_M; llama-bench on it alone agreed with\n")
	fmt.Fprintf(&b, "the second run), more than the decode goal, so a decode miss of 10–15%% here is within the noise of one run.\n\n")
	fmt.Fprintf(&b, "| layout | decode measured | before | error | after | error | prefill measured | before | error | after | error |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|---|---|\n")
	var worstD, worstP float64
	for _, r := range rows {
		db, pb, da, pa := r.errs()
		worstD, worstP = math.Max(worstD, math.Abs(da)), math.Max(worstP, math.Abs(pa))
		fmt.Fprintf(&b, "| %s | %.2f | %.2f | %+.0f%% | %.2f | %+.0f%%%s | %.1f | %.1f | %+.0f%% | %.1f | %+.0f%%%s |\n",
			r.model, r.decode, r.decBefore, db*100, r.decAfter, da*100, mark(da, decodeGoal), r.prefill, r.preBefore, pb*100, r.preAfter, pa*100, mark(pa, prefillGoal))
	}
	fmt.Fprintf(&b, "\nWorst after calibration: decode %.0f%%, prefill %.0f%%.\n\n", worstD*100, worstP*100)
	fmt.Fprintf(&b, "## The profile\n\nMemory read bandwidth:")
	for _, bw := range p.HostBandwidth {
		fmt.Fprintf(&b, " %.1f GB/s with %d thread(s);", bw.BytesPerSecond/1e9, bw.Threads)
	}
	fmt.Fprintf(&b, " file reads %.2f GB/s cold, %.2f GB/s warm; mmap page faults %.2f GB/s.\n\n", p.ColdReadBandwidth/1e9, p.WarmReadBandwidth/1e9, p.MmapFaultBandwidth/1e9)
	fmt.Fprintf(&b, "| threads | decode GB/s by class (q8_0, q4_0, q6_k, k_quant) | µs per layer | prefill GFLOP/s by class | µs per layer | fit error decode / prefill |\n|---|---|---|---|---|---|\n")
	for _, pt := range p.Points {
		var dec, pre []string
		for _, c := range []string{"q8_0", "q4_0", "q6_k", "k_quant"} {
			dec = append(dec, rate(pt.DecodeSecondsPerByte[c], 1e9))
			pre = append(pre, rate(pt.PrefillSecondsPerFLOP[c], 1e9))
		}
		fmt.Fprintf(&b, "| %d | %s | %.0f | %s | %.0f | %.1f%% / %.1f%% |\n", pt.Threads, strings.Join(dec, ", "), pt.DecodeSecondsPerLayer*1e6,
			strings.Join(pre, ", "), pt.PrefillSecondsPerLayer*1e6, pt.DecodeError*100, pt.PrefillError*100)
	}
	fmt.Fprintf(&b, "\nRegenerate (the layouts take 22 GB in /tmp/os-speed; delete them afterwards):\n\n```sh\n")
	fmt.Fprintf(&b, "go run ./cmd/plan calibrate -t %d --llama-bench ../shared/tools/llama.cpp/bin/llama-bench --profile /tmp/os-speed/speed.json --dir /tmp/os-speed\n", rec.Threads)
	fmt.Fprintf(&b, "go run ./calibrate/internal/speedreport prepare -dir /tmp/os-speed\n")
	fmt.Fprintf(&b, "go run ./calibrate/internal/speedreport bench -dir /tmp/os-speed -profile /tmp/os-speed/speed.json -t %d -p %d -n %d -r %d\n", rec.Threads, rec.NPrompt, rec.NGen, rec.Reps)
	fmt.Fprintf(&b, "go run ./calibrate/internal/speedreport report   # this file, from testdata/calibrate/speed-report.json\n```\n\n")
	fmt.Fprintf(&b, "`go test ./calibrate/...` fails when this file is stale.\n")
	return b.Bytes()
}

func mark(e, goal float64) string {
	if math.Abs(e) > goal {
		return " ✗"
	}
	return ""
}

func rate(secondsPer, unit float64) string {
	if secondsPer <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f", 1/secondsPer/unit)
}

// report regenerates the document from the stored record.
func report(in, out string) error {
	rec, err := readRecord(in)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "speedreport-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	rows, err := predictRows(rec, tmp)
	if err != nil {
		return err
	}
	return os.WriteFile(out, renderReport(rec, rows), 0o644)
}
