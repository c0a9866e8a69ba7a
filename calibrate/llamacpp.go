package calibrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// FindTool returns the llama.cpp tool name (e.g. "llama-bench"): at path
// when given, else from $PATH, else in dir when it is non-empty (the
// project's own tests and tools pass the directory of their llama.cpp
// build).
func FindTool(name, path, dir string) (string, error) {
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("calibrate: %s: %w", name, err)
		}
		return path, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("calibrate: %s not found (give its path, or put it in $PATH)", name)
}

// Quantize runs llama-quantize on in, writing typ ("Q8_0", "Q4_0",
// "Q4_K_M", …) to out with threads threads.
func Quantize(ctx context.Context, bin, in, out, typ string, threads int) error {
	cmd := dieWithParent(exec.CommandContext(ctx, bin, in, out, typ, strconv.Itoa(max(threads, 1))))
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		os.Remove(out)
		return fmt.Errorf("calibrate: llama-quantize %s %s: %w: %s", filepath.Base(in), typ, err, tail(stderr.String(), 400))
	}
	return nil
}

// BenchResult is one llama-bench test: prompt processing (NPrompt tokens,
// NGen 0) or generation (NGen tokens), with the median tokens/s of its
// repetitions (robust to a repetition another process slowed down) and
// their standard deviation.
type BenchResult struct {
	Model     string  `json:"model"`
	Threads   int     `json:"threads"`
	NPrompt   int     `json:"n_prompt"`
	NGen      int     `json:"n_gen"`
	TokPerSec float64 `json:"tokens_per_second"`
	StdDev    float64 `json:"stddev"`
}

// Bench runs llama-bench on model for each thread count: a prompt of pp
// tokens and tg generated tokens, reps repetitions each, CPU only, mmap
// on (as planned), in JSON.
func Bench(ctx context.Context, bin, model string, threads []int, pp, tg, reps int) ([]BenchResult, error) {
	ts := make([]string, len(threads))
	for i, t := range threads {
		ts[i] = strconv.Itoa(t)
	}
	args := []string{"-m", model, "-t", strings.Join(ts, ","), "-p", strconv.Itoa(pp), "-n", strconv.Itoa(tg),
		"-r", strconv.Itoa(max(reps, 1)), "-ngl", "0", "-o", "json"}
	cmd := dieWithParent(exec.CommandContext(ctx, bin, args...))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("calibrate: llama-bench %s: %w: %s", filepath.Base(model), err, tail(stderr.String(), 400))
	}
	return parseBench(stdout.Bytes(), filepath.Base(model))
}

// parseBench reads llama-bench's JSON (-o json: an array of tests).
func parseBench(data []byte, model string) ([]BenchResult, error) {
	var raw []struct {
		Threads  int       `json:"n_threads"`
		NPrompt  int       `json:"n_prompt"`
		NGen     int       `json:"n_gen"`
		AvgTS    float64   `json:"avg_ts"`
		StddevTS float64   `json:"stddev_ts"`
		Samples  []float64 `json:"samples_ts"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("calibrate: llama-bench output: %w", err)
	}
	if len(raw) == 0 {
		return nil, errors.New("calibrate: llama-bench ran no tests")
	}
	out := make([]BenchResult, 0, len(raw))
	for _, r := range raw {
		if r.AvgTS <= 0 || r.Threads <= 0 {
			return nil, fmt.Errorf("calibrate: llama-bench test with %d threads: %g tok/s", r.Threads, r.AvgTS)
		}
		ts := r.AvgTS
		if len(r.Samples) > 0 {
			ts = Median(r.Samples)
		}
		out = append(out, BenchResult{Model: model, Threads: r.Threads, NPrompt: r.NPrompt, NGen: r.NGen, TokPerSec: ts, StdDev: r.StddevTS})
	}
	return out, nil
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}
