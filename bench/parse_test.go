package bench

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	parser "github.com/gpustack/gguf-parser-go"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
)

// zooModel is one header-only file of the shared zoo.
type zooModel struct {
	Name     string // e.g. "llama-3.1-8b-Q4_K_M"
	Header   string // path of the header-only file
	FileSize int64  // size of the released file
}

// zoo lists the zoo headers with their full sizes from manifest.json.
func zoo(tb testing.TB) []zooModel {
	tb.Helper()
	dir := testutil.Shared(tb, "zoo")
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var manifest []struct {
		File     string `json:"file"`
		FileSize int64  `json:"file_size"`
	}
	if err := json.Unmarshal(b, &manifest); err != nil {
		tb.Fatal(err)
	}
	var out []zooModel
	for _, m := range manifest {
		h := filepath.Join(dir, m.File+".header.gguf")
		if _, err := os.Stat(h); err != nil {
			tb.Fatalf("manifest lists %s: %v", m.File, err)
		}
		out = append(out, zooModel{Name: m.File, Header: h, FileSize: m.FileSize})
	}
	if len(out) == 0 {
		tb.Fatal("empty zoo manifest")
	}
	return out
}

// sparseCopy copies the header into dir and extends it to the released
// file's size without writing the data (a sparse file), because
// gguf-parser-go refuses a file whose tensor data is missing.
func sparseCopy(tb testing.TB, dir string, m zooModel) string {
	tb.Helper()
	src, err := os.Open(m.Header)
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	p := filepath.Join(dir, m.Name+".gguf")
	dst, err := os.Create(p)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		tb.Fatal(err)
	}
	if err := dst.Truncate(m.FileSize); err != nil {
		tb.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		tb.Fatal(err)
	}
	return p
}

// TestParsersAgree checks that both parsers read the same tensor table from
// each file the benchmark times, so the comparison is like for like.
func TestParsersAgree(t *testing.T) {
	dir := t.TempDir()
	for _, m := range zoo(t) {
		t.Run(m.Name, func(t *testing.T) {
			ours, err := gguf.Open(m.Header)
			if err != nil {
				t.Fatal(err)
			}
			defer ours.Close()
			theirs, err := parser.ParseGGUFFile(sparseCopy(t, dir, m))
			if err != nil {
				t.Fatal(err)
			}
			if len(ours.Tensors) != len(theirs.TensorInfos) {
				t.Fatalf("tensors: ours %d, theirs %d", len(ours.Tensors), len(theirs.TensorInfos))
			}
			for i, tt := range theirs.TensorInfos {
				o := ours.Tensors[i]
				if o.Name != tt.Name || uint32(o.Type) != uint32(tt.Type) || o.Offset-ours.DataOffset != int64(tt.Offset) {
					t.Fatalf("tensor %d: ours %s %v @%d, theirs %s %v @%d", i, o.Name, o.Type, o.Offset-ours.DataOffset, tt.Name, tt.Type, tt.Offset)
				}
			}
			if int64(theirs.Size) != m.FileSize {
				t.Errorf("theirs size %d, manifest %d", theirs.Size, m.FileSize)
			}
		})
	}
}

// BenchmarkParse times a full header parse of every zoo file by modelfit's
// gguf.Open (on the header-only file) and gguf-parser-go's ParseGGUFFile (on
// a sparse full-size copy; it refuses the header alone).
func BenchmarkParse(b *testing.B) {
	dir := b.TempDir()
	for _, m := range zoo(b) {
		full := sparseCopy(b, dir, m)
		b.Run(m.Name+"/modelfit", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f, err := gguf.Open(m.Header)
				if err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
		b.Run(m.Name+"/gguf-parser-go", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := parser.ParseGGUFFile(full); err != nil {
					b.Fatal(strings.TrimSpace(err.Error()))
				}
			}
		})
	}
}
