package planner_test

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/layouts"
	"github.com/modelfit/modelfit/planner/internal/zoo"
)

// checkCompute makes the zoo test fail on compute buffers and per-device
// totals outside their tolerance (3% and 2%): the compute model rebuilds
// llama.cpp's graph and allocator (planner/compute.go).
const checkCompute = true

// TestZoo compares every row of the generated-zoo ground truth
// (testdata/planner/zoo, measured with upstream llama.cpp build 10587)
// with the estimate for the layout regenerated from its spec: weights and
// repacked weights within 1 MiB, K, V, recurrent state and output to the
// logged two decimals, padded n_ctx and cache cells exactly, refusals
// refused.
func TestZoo(t *testing.T) {
	truth, err := zoo.Load(zoo.File())
	if err != nil {
		t.Fatal(err)
	}
	if len(truth.Rows) < 400 {
		t.Errorf("only %d ground-truth rows", len(truth.Rows))
	}
	feats := truth.CPUFeatures()
	files := map[string]*gguf.File{}
	computeErrs := map[string][]float64{}
	var checked, bad, refused int
	for _, r := range truth.Rows {
		f, ok := files[r.Layout]
		if !ok {
			spec, found := layouts.ByID(r.Layout)
			if !found {
				t.Errorf("%s: no such layout", r.Layout)
				continue
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
		figs, err := zoo.Check(r, f, feats)
		if err != nil {
			t.Errorf("%s: %v", r.Command, err)
			bad++
			continue
		}
		if r.Error != "" {
			refused++
		}
		for _, fg := range figs {
			checked++
			switch fg.Name {
			case "compute":
				fam := f.Architecture()
				computeErrs[fam] = append(computeErrs[fam], fg.Err())
			}
			if (fg.Name == "compute" || fg.Name == "total") && !checkCompute {
				continue
			}
			if !fg.OK() {
				bad++
				t.Errorf("%s: %s", r.Command, fg)
			}
		}
	}
	t.Logf("%d rows (%d refused by llama.cpp), %d figures checked, %d outside tolerance", len(truth.Rows), refused, checked, bad)
	var fams []string
	for fam := range computeErrs {
		fams = append(fams, fam)
	}
	slices.Sort(fams)
	var b strings.Builder
	for _, fam := range fams {
		es := computeErrs[fam]
		worst, within := 0.0, 0
		for _, e := range es {
			worst = max(worst, math.Abs(e))
			if math.Abs(e) <= 0.03 {
				within++
			}
		}
		fmt.Fprintf(&b, " %s %d/%d within 3%% (worst %.1f%%);", fam, within, len(es), 100*worst)
	}
	t.Logf("compute:%s", b.String())
}
