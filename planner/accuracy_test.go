package planner_test

import (
	"testing"

	"github.com/modelfit/modelfit/planner/internal/accuracy/ref"
)

// TestAccuracy checks every figure llama.cpp logged for the reference
// models (testdata/planner/ref) against the estimate: weights, repacked
// copies, K, V and output to llama.cpp's two-decimal MiB (byte-exact
// predictions always are), compute within 10% and inside the predicted
// range, host totals within 2%. Rows whose model is only in the shared data
// are skipped without it.
func TestAccuracy(t *testing.T) {
	rows, err := ref.Load(ref.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 90 {
		t.Fatalf("only %d reference rows", len(rows))
	}
	missing := map[string]bool{}
	checked := 0
	for _, r := range rows {
		f, ok := ref.Open(r.File)
		if !ok {
			missing[r.File] = true
			continue
		}
		figs, _, err := ref.Check(r, f)
		if err != nil {
			t.Errorf("%s: %v", r.Name(), err)
			continue
		}
		if len(figs) == 0 {
			t.Errorf("%s: nothing to compare", r.Name())
		}
		for _, fg := range figs {
			checked++
			if !fg.OK() {
				t.Errorf("%s: %s", r.Name(), fg)
			}
		}
	}
	t.Logf("%d figures checked; models not available here: %d", checked, len(missing))
	if checked == 0 {
		t.Skip("no reference model available")
	}
}
