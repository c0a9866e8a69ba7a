package planner

import (
	"context"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/probe"
)

// SweepRow is one n_gpu_layers setting of a sweep.
type SweepRow struct {
	NGPULayers  int      `json:"n_gpu_layers"`
	Fits        bool     `json:"fits"`
	DeviceBytes []uint64 `json:"device_total_bytes"` // per device, CPU first
	Decode      float64  `json:"decode_tokens_per_second"`
	Load        float64  `json:"load_seconds"`
}

// Sweep plans f with n_gpu_layers pinned to each of steps values from 0 to
// all layers, for a table of memory against predicted speed. Each row keeps
// the request's other settings: whole layers (no expert overrides beyond the
// request's), no smaller ubatch, context or KV type.
func Sweep(ctx context.Context, f *gguf.File, snap *probe.Snapshot, req Request, steps int) ([]SweepRow, error) {
	n := f.HParams().BlockCount + 1
	steps = max(min(steps, n+1), 2)
	var rows []SweepRow
	last := -1
	for i := 0; i < steps; i++ {
		ngl := i * n / (steps - 1)
		if ngl == last {
			continue
		}
		last = ngl
		r := req
		r.Pinned.NGPULayers = true
		r.Settings.NGPULayers = ngl
		// Whole layers at the requested settings: no expert overrides,
		// no fallbacks.
		r.Pinned.Overrides, r.Pinned.NUbatch = true, true
		r.AllowShrinkContext, r.AllowQuantizedKV = false, false
		p, err := Make(ctx, f, snap, r)
		if p == nil {
			return nil, err
		}
		row := SweepRow{NGPULayers: ngl, Fits: p.Fits, Decode: p.Predicted.DecodeTokensPerSecond, Load: p.Predicted.LoadSeconds}
		for _, d := range p.Devices {
			row.DeviceBytes = append(row.DeviceBytes, d.TotalBytes)
		}
		rows = append(rows, row)
	}
	return rows, nil
}
