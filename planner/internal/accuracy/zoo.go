package main

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/modelfit/modelfit/internal/layouts"
	"github.com/modelfit/modelfit/planner/internal/zoo"
)

// zooTerms are the figures of the zoo tables, in column order; exact terms
// in MiB, relative ones in percent.
var zooTerms = []struct {
	name     string
	relative bool
}{
	{"weights", false}, {"repack", false}, {"K", false}, {"V", false}, {"state", false}, {"output", false},
	{"compute", true}, {"total", true},
}

// errStats collects one term's errors over a group of rows.
type errStats struct {
	errs   []float64 // |error|: MiB, or percent
	within int       // rows within the term's tolerance
}

func (s *errStats) add(f zoo.Figure, relative bool) {
	e := math.Abs(f.Pred - f.Actual)
	if relative {
		e = 100 * math.Abs(f.Err())
	}
	s.errs = append(s.errs, e)
	if f.OK() {
		s.within++
	}
}

// cell is "worst / median" (MiB or %), with the share within tolerance for
// relative terms, which may miss it.
func (s *errStats) cell(relative bool) string {
	if len(s.errs) == 0 {
		return "–"
	}
	es := slices.Clone(s.errs)
	slices.Sort(es)
	worst, median := es[len(es)-1], es[len(es)/2]
	if relative {
		return fmt.Sprintf("%.1f%% / %.1f%% (%d/%d)", worst, median, s.within, len(es))
	}
	flag := ""
	if s.within < len(es) {
		flag = fmt.Sprintf(" **✗ %d**", len(es)-s.within)
	}
	return fmt.Sprintf("%.2f / %.2f%s", worst, median, flag)
}

// zooGroup accumulates the rows of a family or a layout.
type zooGroup struct {
	layouts map[string]bool
	rows    int
	refused int
	crashed int
	bad     int // rows whose refusal the estimate disagreed with
	terms   map[string]*errStats
}

func newZooGroup() *zooGroup {
	return &zooGroup{layouts: map[string]bool{}, terms: map[string]*errStats{}}
}

func (g *zooGroup) add(r zoo.Result) {
	g.layouts[r.Layout] = true
	g.rows++
	switch {
	case r.Err != nil:
		g.bad++
	case r.Crashed():
		g.crashed++
	case r.Error != "":
		g.refused++
	}
	for _, f := range r.Figs {
		for _, t := range zooTerms {
			if t.name == f.Name {
				if g.terms[f.Name] == nil {
					g.terms[f.Name] = &errStats{}
				}
				g.terms[f.Name].add(f, t.relative)
			}
		}
	}
}

func (g *zooGroup) cells() string {
	var b bytes.Buffer
	for _, t := range zooTerms {
		s := g.terms[t.name]
		if s == nil {
			s = &errStats{}
		}
		fmt.Fprintf(&b, " %s |", s.cell(t.relative))
	}
	return b.String()
}

func (g *zooGroup) rowsCell() string {
	c := fmt.Sprintf("%d (%d refused", g.rows, g.refused)
	if g.crashed > 0 {
		c += fmt.Sprintf(", %d crashed", g.crashed)
	}
	if g.bad > 0 {
		c += fmt.Sprintf(", **✗ %d refusals disagree**", g.bad)
	}
	return c + ")"
}

const zooHead = "| weights | repack | K | V | recurrent state | output | compute | total |"

// zooTables returns the summary section of docs/accuracy.md and the
// per-layout detail file.
func zooTables() (summary, detail []byte, err error) {
	truth, err := zoo.Load(zoo.File())
	if err != nil {
		return nil, nil, err
	}
	results, err := zoo.Evaluate(truth)
	if err != nil {
		return nil, nil, err
	}
	fams, lays := map[string]*zooGroup{}, map[string]*zooGroup{}
	all := newZooGroup()
	archOf := map[string]string{}
	for _, r := range results {
		if fams[r.Arch] == nil {
			fams[r.Arch] = newZooGroup()
		}
		if lays[r.Layout] == nil {
			lays[r.Layout] = newZooGroup()
		}
		fams[r.Arch].add(r)
		lays[r.Layout].add(r)
		all.add(r)
		archOf[r.Layout] = r.Arch
	}
	names := make([]string, 0, len(fams))
	for n := range fams {
		names = append(names, n)
	}
	sort.Strings(names)

	var s bytes.Buffer
	fmt.Fprintln(&s, "## Generated zoo, upstream llama.cpp build 10587")
	fmt.Fprintln(&s)
	fmt.Fprintf(&s, "%d layouts of %d architectures (`internal/layouts`: tensors named, shaped and typed as `convert_hf_to_gguf.py`\n", len(all.layouts), len(fams))
	fmt.Fprintln(&s, "and `llama-quantize` would write them; real released dimensions where the spec says so), each measured under")
	fmt.Fprintln(&s, "ten to sixteen settings by `llama-fit-params -v` of the shared upstream build (testdata/planner/zoo, rows made by")
	fmt.Fprintln(&s, "`go run ./planner/internal/groundtruth`, `-n 16` for some families; the CPU figures of an x86-64 machine with AVX2 and AVX-512). Each cell")
	fmt.Fprintln(&s, "is the worst / median absolute error: MiB for weights (llama.cpp's table gives whole MiB, rounded down: ±1),")
	fmt.Fprintln(&s, "repacked weights, K, V, recurrent state and output (two decimals as logged), percent for compute and the host")
	fmt.Fprintln(&s, "total, with the rows within 3% (compute) or 2% (total) in parentheses. A ✗ counts rows outside tolerance.")
	fmt.Fprintln(&s, "`go test ./planner` (TestZoo) checks every row, compute and totals too, except the compute and total of the")
	fmt.Fprintln(&s, "architectures and layouts listed in `computeGaps` and `computeGapLayouts` (planner/zoo_test.go): today one")
	fmt.Fprintln(&s, "layout, EXAONE-4.0-32B past its 4,096-token window (exaone4's 4.5% below). Per-layout detail:")
	fmt.Fprintln(&s, "[accuracy-zoo.md](accuracy-zoo.md).")
	fmt.Fprintln(&s)
	fmt.Fprintln(&s, "| family | layouts | rows "+zooHead)
	fmt.Fprintln(&s, "|---|---|---|---|---|---|---|---|---|---|---|")
	for _, n := range names {
		g := fams[n]
		fmt.Fprintf(&s, "| %s | %d | %s |%s\n", n, len(g.layouts), g.rowsCell(), g.cells())
	}
	fmt.Fprintf(&s, "| **all** | %d | %s |%s\n", len(all.layouts), all.rowsCell(), all.cells())
	fmt.Fprintln(&s)

	var d bytes.Buffer
	fmt.Fprintln(&d, "# Memory estimate accuracy per generated layout")
	fmt.Fprintln(&d)
	fmt.Fprintln(&d, "Every layout of `internal/layouts` against upstream llama.cpp build 10587 (see [accuracy.md](accuracy.md) for")
	fmt.Fprintln(&d, "how the rows were made and what the cells mean: worst / median absolute error over the layout's settings).")
	fmt.Fprintln(&d, "The exact command of every row is in testdata/planner/zoo/llamacpp-b10587.csv.")
	fmt.Fprintln(&d)
	fmt.Fprintln(&d, "Generated by `go run ./planner/internal/accuracy`; `go test ./planner/internal/accuracy` fails when this file is stale.")
	fmt.Fprintln(&d)
	fmt.Fprintln(&d, "| layout | arch | rows "+zooHead)
	fmt.Fprintln(&d, "|---|---|---|---|---|---|---|---|---|---|---|")
	for _, spec := range layouts.Zoo() {
		g, ok := lays[spec.ID]
		if !ok {
			continue
		}
		fmt.Fprintf(&d, "| %s | %s | %s |%s\n", spec.ID, archOf[spec.ID], g.rowsCell(), g.cells())
	}
	return s.Bytes(), d.Bytes(), nil
}
