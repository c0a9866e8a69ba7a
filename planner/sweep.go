package planner

import (
	"context"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/probe"
)

// SweepRow is one n_gpu_layers setting of a sweep, or for MoE models one
// n_cpu_moe setting with every layer offloaded.
type SweepRow struct {
	NGPULayers int `json:"n_gpu_layers"`
	// NCPUMoE is how many layers keep their experts on the CPU (llama.cpp's
	// --n-cpu-moe); 0 for whole-layer rows.
	NCPUMoE     int      `json:"n_cpu_moe,omitempty"`
	Fits        bool     `json:"fits"`
	DeviceBytes []uint64 `json:"device_total_bytes"` // per device, CPU first
	Decode      float64  `json:"decode_tokens_per_second"`
	Load        float64  `json:"load_seconds"`
}

// Sweep plans f with n_gpu_layers pinned to each of steps values from 0 to
// all layers, for a table of memory against predicted speed; for MoE models
// on GPUs it adds rows with every layer offloaded and the experts of the
// first k layers on the CPU. Each row keeps the request's other settings: no
// expert overrides beyond the row's and the request's, no smaller ubatch,
// context or KV type.
func Sweep(ctx context.Context, f *gguf.File, snap *probe.Snapshot, req Request, steps int) ([]SweepRow, error) {
	h := f.HParams()
	n := h.BlockCount + 1
	steps = max(min(steps, n+1), 2)
	var rows []SweepRow
	row := func(ngl, k int) error {
		r := req
		r.Pinned.NGPULayers = true
		r.Settings.NGPULayers = ngl
		// At the requested settings: no other expert overrides, no
		// fallbacks.
		r.Pinned.Overrides, r.Pinned.NUbatch = true, true
		r.AllowShrinkContext, r.AllowQuantizedKV = false, false
		if k > 0 {
			r.Settings.Overrides = append([]Override{{Pattern: cpuMoEPattern(k), Device: "CPU"}}, req.Settings.Overrides...)
		}
		p, err := Make(ctx, f, snap, r)
		if p == nil {
			return err
		}
		sr := SweepRow{NGPULayers: ngl, NCPUMoE: k, Fits: p.Fits, Decode: p.Predicted.DecodeTokensPerSecond, Load: p.Predicted.LoadSeconds}
		for _, d := range p.Devices {
			sr.DeviceBytes = append(sr.DeviceBytes, d.TotalBytes)
		}
		rows = append(rows, sr)
		return nil
	}
	last := -1
	for i := 0; i < steps; i++ {
		if ngl := i * n / (steps - 1); ngl != last {
			last = ngl
			if err := row(ngl, 0); err != nil {
				return nil, err
			}
		}
	}
	if h.ExpertCount == 0 || len(snap.GPUs) == 0 || req.Runtime.IsOllama() {
		return rows, nil // Ollama has no expert overrides
	}
	// MoE: every layer offloaded, the experts of the first k on the CPU.
	last = -1
	for i := steps - 1; i >= 1; i-- {
		if k := i * h.BlockCount / (steps - 1); k != last {
			last = k
			if err := row(n, k); err != nil {
				return nil, err
			}
		}
	}
	return rows, nil
}
