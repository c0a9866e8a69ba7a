package gguf

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/modelfit/modelfit/internal/testutil"
)

// FuzzParse feeds arbitrary bytes to the parser: it must return a result or a
// *FormatError, never panic, and never allocate far beyond the input's size.
// The seeds are small (a hand-built model with every value type, a bad
// bool, and the first bytes of a real model): with the real models' 14 KB
// headers, the fuzzer spent its time minimizing them instead of running.
func FuzzParse(f *testing.F) {
	kvs, ts := tinyModel()
	f.Add(build(kvs, ts, 100))
	f.Add(build(kvs, ts, -1))
	f.Add(build(kvs[:3], nil, 0))
	f.Add(badBool())
	data, err := os.ReadFile(testutil.Path("models", "synth-llama-gqa-Q4_K_M.gguf"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data[:512]) // the start of a real header: truncated inside the metadata
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Parse(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if _, ok := err.(*FormatError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		h := g.HParams()
		_ = h.IsSWA(0)
		_ = g.CheckData()
		if err := g.CheckShapes(); err != nil && !errors.Is(err, ErrShape) {
			t.Fatalf("CheckShapes: %v", err)
		}
		for i := range g.Tensors {
			tt := &g.Tensors[i]
			if tt.Offset < g.DataOffset || tt.Size < 0 || tt.Group() < GroupInput {
				t.Fatalf("tensor %q: offset %d size %d", tt.Name, tt.Offset, tt.Size)
			}
		}
		if g.MissingBytes() < 0 || (g.DataPresent() && g.CheckData() != nil) {
			t.Fatalf("inconsistent data presence")
		}
	})
}
