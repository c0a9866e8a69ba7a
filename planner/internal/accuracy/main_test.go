package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/planner/internal/accuracy/ref"
)

// TestZooDetailIsCurrent regenerates docs/accuracy-zoo.md (the generated
// zoo needs no shared data) and fails when the committed file differs.
func TestZooDetailIsCurrent(t *testing.T) {
	_, detail, err := zooTables()
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(zooDetailPath())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(old, detail) {
		t.Error("docs/accuracy-zoo.md is stale: run go run ./planner/internal/accuracy")
	}
}

// TestCommittedTableIsCurrent regenerates docs/accuracy.md and fails when
// the committed file differs.
func TestCommittedTableIsCurrent(t *testing.T) {
	table, err := build(ref.Dir())
	var missing errMissing
	if errors.As(err, &missing) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(filepath.Join(testutil.Root(), "docs", "accuracy.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(old, table) {
		t.Error("docs/accuracy.md is stale: run go run ./planner/internal/accuracy")
	}
}
