package planner_test

import (
	"slices"
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/layouts"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/planner/internal/zoo"
)

// TestSplitRPC compares every row of the split ground truth
// (testdata/planner/zoo/rpc-b10587.csv: llama.cpp build 10587 splitting a
// zoo layout over two or three ggml-rpc-server devices and the host) with
// the estimate: each device gets the layers llama.cpp gave it, its
// compute buffer (the scheduler's split of the graph, graph_sched.go) is
// within 3% and inside the estimate's range.
func TestSplitRPC(t *testing.T) {
	rows, err := zoo.ReadSplit(zoo.SplitFile())
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 20 {
		t.Fatalf("%d split rows, want the four settings of every architecture's first layout", len(rows))
	}
	files := map[string]*gguf.File{}
	var devices, exact int
	for _, r := range rows {
		f := files[r.Layout]
		if f == nil {
			spec, ok := layouts.ByID(r.Layout)
			if !ok {
				t.Fatalf("row for unknown layout %q", r.Layout)
			}
			l, err := layouts.Build(spec)
			if err != nil {
				t.Fatal(err)
			}
			if f, err = l.File(); err != nil {
				t.Fatal(err)
			}
			files[r.Layout] = f
		}
		figs, err := zoo.CheckSplit(r, f, nil)
		if err != nil {
			t.Errorf("%s: %v", r.Command, err)
			continue
		}
		for _, fg := range figs {
			devices++
			if fg.Layers != fg.Want {
				t.Errorf("%s %s: %s: %d layers, llama.cpp %d", r.Layout, r.Command, fg.Device, fg.Layers, fg.Want)
				continue
			}
			c := fg.Compute
			if !c.OK() {
				t.Errorf("%s %s: %s", r.Layout, r.Command, c)
			}
			if c.Actual < fg.ComputeLow-0.01 || c.Actual > fg.High+0.01 {
				t.Errorf("%s %s: %s outside the range %.2f-%.2f", r.Layout, r.Command, c, fg.ComputeLow, fg.High)
			}
			if d := c.Pred - c.Actual; d < 0.006 && d > -0.006 {
				exact++
			} else {
				t.Logf("%s %s: %s", r.Layout, r.Command, c)
			}
		}
	}
	t.Logf("%d rows, %d device buffers, %d to the logged two decimals", len(rows), devices, exact)
}

// TestSplitReduced checks that the layers the split simulation cuts
// (graph_sched.go, splitLayers) change no device's compute buffer: every
// split row estimated with the cut and with every layer.
func TestSplitReduced(t *testing.T) {
	rows, err := zoo.ReadSplit(zoo.SplitFile())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Error != "" {
			continue
		}
		spec, ok := layouts.ByID(r.Layout)
		if !ok {
			t.Fatalf("row for unknown layout %q", r.Layout)
		}
		l, err := layouts.Build(spec)
		if err != nil {
			t.Fatal(err)
		}
		s, env := r.SplitInput(nil)
		est := func(periods int) []uint64 {
			// A fresh file: the split results are cached per model.
			f, err := l.File()
			if err != nil {
				t.Fatal(err)
			}
			defer planner.SetSplitLeadPeriods(planner.SetSplitLeadPeriods(periods))
			b, err := planner.Estimate(f, s, env)
			if err != nil {
				t.Fatal(err)
			}
			var c []uint64
			for _, d := range b.Devices {
				c = append(c, d.ComputeBytes)
			}
			return c
		}
		if cut, all := est(2), est(1<<20); !slices.Equal(cut, all) {
			t.Errorf("%s: compute with the cut layers %v, with every layer %v", r.Command, cut, all)
		}
	}
}
