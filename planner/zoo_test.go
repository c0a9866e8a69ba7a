package planner_test

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/planner/internal/zoo"
)

// checkCompute makes the zoo test fail on compute buffers and per-device
// totals outside their tolerance (3% and 2%): the compute model rebuilds
// llama.cpp's graph and allocator (planner/compute.go). computeGaps are the
// architectures whose graph is not modelled (yet): their errors are logged
// and shown in docs/accuracy.md, not enforced.
const checkCompute = true

var computeGaps = map[string]string{}

// computeGapLayouts are single layouts whose graph is not modelled while
// their architecture's is.
var computeGapLayouts = map[string]string{
	"exaone-4.0-32b-q4_k_m": "EXAONE-4.0-32B: exact while n_ctx fits the window, up to 4.5% off (one n_embd × n_ubatch tensor) beyond: not yet found why",
}

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
	if len(truth.Rows) < 1500 {
		t.Errorf("only %d ground-truth rows", len(truth.Rows))
	}
	results, err := zoo.Evaluate(truth)
	if err != nil {
		t.Fatal(err)
	}
	computeErrs := map[string][]float64{}
	var checked, bad, refused int
	for _, r := range results {
		if r.Err != nil {
			t.Errorf("%s: %v", r.Command, r.Err)
			bad++
			continue
		}
		if r.Error != "" {
			refused++
		}
		for _, fg := range r.Figs {
			checked++
			if fg.Name == "compute" {
				computeErrs[r.Arch] = append(computeErrs[r.Arch], fg.Err())
			}
			if (fg.Name == "compute" || fg.Name == "total") && (!checkCompute || computeGaps[r.Arch] != "" || computeGapLayouts[r.Layout] != "") {
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
