package main

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/layouts"
	"github.com/modelfit/modelfit/planner/internal/zoo"
)

// splitTable is the section on split graphs: every device's compute
// buffer when llama.cpp splits a layout over ggml-rpc-server devices
// (testdata/planner/zoo/rpc-b10587.csv), per family.
func splitTable() ([]byte, error) {
	rows, err := zoo.ReadSplit(zoo.SplitFile())
	if err != nil {
		return nil, err
	}
	type group struct {
		rows, refused int
		stats         errStats
		layers        int // devices given other layers than llama.cpp's
	}
	fams := map[string]*group{}
	all := &group{}
	files := map[string]*gguf.File{}
	for _, r := range rows {
		f := files[r.Layout]
		if f == nil {
			spec, ok := layouts.ByID(r.Layout)
			if !ok {
				return nil, fmt.Errorf("split row for unknown layout %q", r.Layout)
			}
			l, err := layouts.Build(spec)
			if err != nil {
				return nil, err
			}
			if f, err = l.File(); err != nil {
				return nil, err
			}
			files[r.Layout] = f
		}
		arch := f.Architecture()
		if fams[arch] == nil {
			fams[arch] = &group{}
		}
		for _, g := range []*group{fams[arch], all} {
			g.rows++
			if r.Error != "" {
				g.refused++
			}
		}
		figs, err := zoo.CheckSplit(r, f, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Command, err)
		}
		for _, fg := range figs {
			for _, g := range []*group{fams[arch], all} {
				g.stats.add(fg.Compute, true)
				if fg.Layers != fg.Want {
					g.layers++
				}
			}
		}
	}
	names := make([]string, 0, len(fams))
	for n := range fams {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	fmt.Fprintln(&b, "## Split graphs: devices holding some of the layers, build 10587")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "The first layout of every architecture split over two or three `ggml-rpc-server` devices (the build's CPU")
	fmt.Fprintln(&b, "backend) and the host: every layer and the output over -ts 1,1 (flash attention on) and 3,2,1 (off), the")
	fmt.Fprintln(&b, "host keeping half the layers (q8_0 cache), and a 16-token ubatch with two sequences (testdata/planner/zoo/rpc-b10587.csv,")
	fmt.Fprintln(&b, "rows made by `go run ./planner/internal/splittruth`). Each device's compute buffer is llama.cpp's scheduler")
	fmt.Fprintln(&b, "split of the graph (planner/graph_sched.go); the cell is the worst / median error over every device's buffer, with the")
	fmt.Fprintln(&b, "buffers within 3% in parentheses. `go test ./planner` (TestSplitRPC) checks every one, and that each device gets")
	fmt.Fprintln(&b, "llama.cpp's layers. Refused rows are llama.cpp's own aborts.")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| family | rows | device buffers: compute | devices with other layers |")
	fmt.Fprintln(&b, "|---|---|---|---|")
	row := func(name string, g *group) {
		fmt.Fprintf(&b, "| %s | %d (%d refused) | %s | %d |\n", name, g.rows, g.refused, g.stats.cell(true), g.layers)
	}
	for _, n := range names {
		row(n, fams[n])
	}
	row("**all**", all)
	fmt.Fprintln(&b)
	return b.Bytes(), nil
}
