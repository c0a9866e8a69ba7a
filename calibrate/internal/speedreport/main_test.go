package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelfit/modelfit/internal/testutil"
)

// The report is generated from the stored measurements and must be
// current; every layout is measured and predicted both ways. Whether the
// predictions meet the goals is the report's content (✗ marks), not a
// property of the code: the stored figures come from a loaded machine.
func TestReport(t *testing.T) {
	rec, err := readRecord(testutil.Path("calibrate", "speed-report.json"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := predictRows(rec, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(shapes)*len(types) {
		t.Fatalf("%d rows, want %d", len(rows), len(shapes)*len(types))
	}
	for _, r := range rows {
		if len(r.decode) != len(rec.Rounds) || len(r.decAfter) != len(rec.Rounds) || r.decBefore <= 0 || r.preBefore <= 0 {
			t.Fatalf("%s: %+v", r.model, r)
		}
		for k := range rec.Rounds {
			if r.decode[k] <= 0 || r.prefill[k] <= 0 || r.decAfter[k] <= 0 || r.preAfter[k] <= 0 {
				t.Errorf("%s, round %d: %+v", r.model, k+1, r)
			}
			if r.decAfter[k] == r.decBefore && r.preAfter[k] == r.preBefore {
				t.Errorf("%s, round %d: the profile changed no prediction", r.model, k+1)
			}
		}
	}
	got := renderReport(rec, rows)
	want, err := os.ReadFile(filepath.Join(testutil.Root(), "docs", "speed-accuracy.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("docs/speed-accuracy.md is stale: go run ./calibrate/internal/speedreport report")
	}
}
