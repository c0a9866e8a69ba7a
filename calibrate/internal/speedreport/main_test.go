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
		if r.decode <= 0 || r.prefill <= 0 || r.decBefore <= 0 || r.decAfter <= 0 || r.preBefore <= 0 || r.preAfter <= 0 {
			t.Errorf("%s: %+v", r.model, r)
		}
		if r.decAfter == r.decBefore && r.preAfter == r.preBefore {
			t.Errorf("%s: the profile changed no prediction", r.model)
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
