package layout

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/modelfit/modelfit/gguf"
)

// TestWrite writes both layouts (sparse: no disk used) and checks them
// against the released models' sizes.
func TestWrite(t *testing.T) {
	for _, tt := range []struct {
		s        Shape
		min, max int64 // the released Q4_K_M files are 808 MB and 4.92 GB
	}{{Llama1B, 700e6, 900e6}, {Llama8B, 4.5e9, 5.1e9}} {
		if testing.Short() && tt.s.Name == Llama8B.Name {
			continue
		}
		path := filepath.Join(t.TempDir(), tt.s.Name+".gguf")
		size, err := Write(path, tt.s)
		if err != nil {
			t.Fatal(err)
		}
		f, err := gguf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		h := f.HParams()
		if size < tt.min || size > tt.max || !f.DataPresent() || h.BlockCount != tt.s.Layers || h.EmbeddingLength != uint64(tt.s.Embd) {
			t.Errorf("%s: %d bytes, layers %d, embd %d, data present %v", tt.s.Name, size, h.BlockCount, h.EmbeddingLength, f.DataPresent())
		}
		f.Close()
		st, _ := os.Stat(path)
		t.Logf("%s: %d bytes", tt.s.Name, st.Size())
	}
}
