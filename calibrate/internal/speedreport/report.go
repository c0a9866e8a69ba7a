package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/modelfit/modelfit/calibrate"
	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/probe"
)

// Goals of the report: after calibration, predicted decode within ±10% of
// llama-bench and prefill within ±20%.
const decodeGoal, prefillGoal = 0.10, 0.20

// row is one layout's measured and predicted speeds, one entry per round.
type row struct {
	model                string
	decode, prefill      []float64 // measured
	decBefore, preBefore float64   // predicted with the assumed constants
	decAfter, preAfter   []float64 // predicted with the round's profile
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
	if len(rec.Rounds) == 0 {
		return nil, fmt.Errorf("%s: no rounds", path)
	}
	for i, rd := range rec.Rounds {
		if rd.Profile == nil || len(rd.Samples) != len(shapes)*len(types) {
			return nil, fmt.Errorf("%s: round %d: no profile or %d samples, want %d", path, i+1, len(rd.Samples), len(shapes)*len(types))
		}
		if err := rd.Profile.Validate(); err != nil {
			return nil, fmt.Errorf("%s: round %d: %w", path, i+1, err)
		}
	}
	return &rec, nil
}

// predictRows plans every measured layout on the recorded machine, without
// and with each round's profile, as llama-bench ran it: CPU only, its
// threads, a physical batch of the prompt's length.
func predictRows(rec *record, tmp string) ([]row, error) {
	snap := probe.Describe(probe.Description{RAMBytes: rec.Machine.RAMBytes, Cores: rec.Machine.Cores, Features: rec.Machine.Features, Model: rec.Machine.CPU})
	var rows []row
	for i, s0 := range rec.Rounds[0].Samples {
		shape, mix, ok := layoutOf(s0.Model)
		if !ok {
			return nil, fmt.Errorf("sample %q: not a report layout", s0.Model)
		}
		path := filepath.Join(tmp, s0.Model+".header.gguf")
		if err := calibrate.WriteHeader(path, shape, mix); err != nil {
			return nil, err
		}
		f, err := gguf.Open(path)
		if err != nil {
			return nil, err
		}
		req := planner.Request{Settings: planner.Settings{NCtx: 256, NUbatch: s0.NPrompt, Threads: s0.Threads},
			Pinned: planner.Pins{NCtx: true, NUbatch: true, Threads: true}}
		before, err := planner.Make(context.Background(), f, snap, req)
		if err != nil {
			f.Close()
			return nil, err
		}
		r := row{model: s0.Model, decBefore: before.Predicted.DecodeTokensPerSecond, preBefore: before.Predicted.PrefillTokensPerSecond}
		for k, rd := range rec.Rounds {
			s := rd.Samples[i]
			if s.Model != s0.Model {
				f.Close()
				return nil, fmt.Errorf("round %d: sample %d is %s, want %s", k+1, i, s.Model, s0.Model)
			}
			req.Speed = rd.Profile
			after, err := planner.Make(context.Background(), f, snap, req)
			if err != nil {
				f.Close()
				return nil, err
			}
			r.decode, r.prefill = append(r.decode, s.DecodeTokPerSec), append(r.prefill, s.PrefillTokPerSec)
			r.decAfter = append(r.decAfter, after.Predicted.DecodeTokensPerSecond)
			r.preAfter = append(r.preAfter, after.Predicted.PrefillTokensPerSecond)
		}
		f.Close()
		rows = append(rows, r)
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
	n := len(rec.Rounds)
	fmt.Fprintf(&b, "# Speed prediction accuracy\n\n")
	fmt.Fprintf(&b, "The planner's predicted CPU prefill and decode speed against llama.cpp's own `llama-bench` on this project's\n")
	fmt.Fprintf(&b, "development machine (%s, %d cores, %.0f GiB), before calibration (the speed model's constants from the reference\n", rec.Machine.CPU, rec.Machine.Cores, float64(rec.Machine.RAMBytes)/(1<<30))
	fmt.Fprintf(&b, "machine, `planner/predict.go`) and after (`plan calibrate`'s profile of this machine). The layouts are synthetic\n")
	fmt.Fprintf(&b, "(random weights) with Llama 3.2 1B's and Llama 3.1 8B's shapes in llama-quantize's Q8_0, Q4_0 and Q4_K_M mixes\n")
	fmt.Fprintf(&b, "(`calibrate.Write`); calibration itself runs on two other, smaller shapes (`calib-wide`, `calib-deep`), so every\n")
	fmt.Fprintf(&b, "row below is out of sample. Goal after calibration: decode within ±%.0f%%, prefill within ±%.0f%%; a ✗ marks a\n", decodeGoal*100, prefillGoal*100)
	fmt.Fprintf(&b, "figure outside it.\n\n")
	fmt.Fprintf(&b, "This virtual machine's speed drifts by tens of percent over minutes (other tenants share its memory), more than\n")
	fmt.Fprintf(&b, "the decode goal, so one calibration and one measurement cannot tell the model's error from the drift. The\n")
	fmt.Fprintf(&b, "measurement runs in %d rounds; each round calibrates (`plan calibrate`'s code) and then runs llama-bench on every\n", n)
	fmt.Fprintf(&b, "layout. \"Measured\" is the median of the rounds (their range in brackets), \"after\" the median of the rounds'\n")
	fmt.Fprintf(&b, "predictions, each with its own round's profile, and the last column each round's prediction against the same\n")
	fmt.Fprintf(&b, "round's measurement. Before every run the other layouts are evicted from the page cache: together they nearly\n")
	fmt.Fprintf(&b, "fill this machine's memory, and kswapd reclaiming them on one of its two cores slowed runs by up to a third.\n\n")
	fmt.Fprintf(&b, "llama-bench: %d thread(s), CPU only, mmap, prompt %d tokens (one ubatch), %d generated tokens, median of %d\n", rec.Threads, rec.NPrompt, rec.NGen, rec.Reps)
	fmt.Fprintf(&b, "repetitions. Nothing else ran. Load average (1, 5, 15 min) by round:")
	for i, rd := range rec.Rounds {
		sep := ";"
		if i == n-1 {
			sep = "."
		}
		fmt.Fprintf(&b, " %d: %s before, %s after%s", i+1, rd.LoadBefore, rd.LoadAfter, sep)
	}
	fmt.Fprintf(&b, "\n\n")
	var worstD, worstP, roundD, roundP, driftD, driftP float64
	table := func(title, unit string, meas func(row) []float64, before func(row) float64, after func(row) []float64, goal float64, worst, worstRound, drift *float64) {
		fmt.Fprintf(&b, "## %s (%s)\n\n", title, unit)
		fmt.Fprintf(&b, "| layout | measured | before | error | after | error | error by round |\n|---|---|---|---|---|---|---|\n")
		for _, r := range rows {
			m, a := meas(r), after(r)
			mm, am := calibrate.Median(m), calibrate.Median(a)
			eb, ea := before(r)/mm-1, am/mm-1
			*worst = math.Max(*worst, math.Abs(ea))
			*drift = math.Max(*drift, slices.Max(m)/slices.Min(m)-1)
			var byRound []string
			for k := range m {
				e := a[k]/m[k] - 1
				*worstRound = math.Max(*worstRound, math.Abs(e))
				byRound = append(byRound, pct(e))
			}
			fmt.Fprintf(&b, "| %s | %s (%s–%s) | %s | %s | %s | %s%s | %s |\n", r.model, num(mm), num(slices.Min(m)), num(slices.Max(m)),
				num(before(r)), pct(eb), num(am), pct(ea), mark(ea, goal), strings.Join(byRound, ", "))
		}
		fmt.Fprintf(&b, "\n")
	}
	table("Decode", "tokens/s", func(r row) []float64 { return r.decode }, func(r row) float64 { return r.decBefore }, func(r row) []float64 { return r.decAfter }, decodeGoal, &worstD, &roundD, &driftD)
	table("Prefill", "tokens/s", func(r row) []float64 { return r.prefill }, func(r row) float64 { return r.preBefore }, func(r row) []float64 { return r.preAfter }, prefillGoal, &worstP, &roundP, &driftP)
	fmt.Fprintf(&b, "Worst after calibration, median of rounds: decode %.0f%%, prefill %.0f%%. Worst single round: decode %.0f%%,\n", worstD*100, worstP*100, roundD*100)
	fmt.Fprintf(&b, "prefill %.0f%%. The machine's own drift (fastest round over slowest, one layout): up to %.0f%% in decode, %.0f%% in\n", roundP*100, driftD*100, driftP*100)
	fmt.Fprintf(&b, "prefill.\n\n")
	fmt.Fprintf(&b, "## The profiles\n\n")
	fmt.Fprintf(&b, "Calibration measures each of its layouts three times, seconds apart, and fits the medians; the last column is\n")
	fmt.Fprintf(&b, "the largest spread of one layout's three decode runs (fastest over slowest), the noise the medians absorb.\n\n")
	fmt.Fprintf(&b, "| round | memory read GB/s by threads | threads | decode GB/s by class (q8_0, q4_0, q6_k, k_quant) | µs per layer | prefill GFLOP/s by class | µs per layer | fit error decode / prefill | decode runs' spread |\n|---|---|---|---|---|---|---|---|---|\n")
	for i, rd := range rec.Rounds {
		p := rd.Profile
		var bw []string
		for _, x := range p.HostBandwidth {
			bw = append(bw, fmt.Sprintf("%.1f", x.BytesPerSecond/1e9))
		}
		for _, pt := range p.Points {
			var dec, pre []string
			for _, c := range []string{"q8_0", "q4_0", "q6_k", "k_quant"} {
				dec = append(dec, rate(pt.DecodeSecondsPerByte[c], 1e9))
				pre = append(pre, rate(pt.PrefillSecondsPerFLOP[c], 1e9))
			}
			spread := 0.0
			for _, smp := range p.Samples {
				if smp.Threads == pt.Threads && len(smp.DecodeRuns) > 0 {
					spread = math.Max(spread, slices.Max(smp.DecodeRuns)/slices.Min(smp.DecodeRuns)-1)
				}
			}
			fmt.Fprintf(&b, "| %d | %s | %d | %s | %.0f | %s | %.0f | %.1f%% / %.1f%% | %.0f%% |\n", i+1, strings.Join(bw, ", "), pt.Threads, strings.Join(dec, ", "), pt.DecodeSecondsPerLayer*1e6,
				strings.Join(pre, ", "), pt.PrefillSecondsPerLayer*1e6, pt.DecodeError*100, pt.PrefillError*100, spread*100)
		}
	}
	fmt.Fprintf(&b, "\nRegenerate (the layouts take 22 GB in /tmp/os-speed; delete them afterwards):\n\n```sh\n")
	fmt.Fprintf(&b, "go run ./calibrate/internal/speedreport prepare -dir /tmp/os-speed\n")
	fmt.Fprintf(&b, "go run ./calibrate/internal/speedreport bench -dir /tmp/os-speed -rounds %d -t %d -p %d -n %d -r %d\n", n, rec.Threads, rec.NPrompt, rec.NGen, rec.Reps)
	fmt.Fprintf(&b, "go run ./calibrate/internal/speedreport report   # this file, from testdata/calibrate/speed-report.json\n```\n\n")
	fmt.Fprintf(&b, "`go test ./calibrate/...` fails when this file is stale.\n")
	return b.Bytes()
}

// pct prints a relative error as a signed whole percentage ("+3%", "0%").
func pct(e float64) string {
	if math.Round(e*100) == 0 {
		return "0%"
	}
	return fmt.Sprintf("%+.0f%%", e*100)
}

// num prints a speed with three significant figures.
func num(x float64) string {
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%.2f", x)
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
