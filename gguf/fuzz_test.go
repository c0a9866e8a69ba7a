package gguf

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelfit/modelfit/internal/testutil"
)

// FuzzParse feeds arbitrary bytes to the parser: it must return a result or a
// *FormatError, never panic, and never allocate far beyond the input's size.
// Seeds are the headers of the real test models and a hand-built file with
// every value type.
func FuzzParse(f *testing.F) {
	models, _ := filepath.Glob(testutil.Path("models", "*.gguf"))
	for _, p := range models {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		g, err := Parse(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data[:g.DataOffset+64]) // the header and a little data
	}
	kvs, ts := tinyModel()
	f.Add(build(kvs, ts, 100))
	f.Add(badBool())
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
