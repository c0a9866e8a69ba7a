package gguf

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelfit/modelfit/internal/testutil"
)

// writeSplit writes the tiny model as count parts into dir and returns the
// first part's path. Part k holds tensors k, k+count, …
func writeSplit(t *testing.T, dir string, count int) string {
	t.Helper()
	kvs, ts := tinyModel()
	for k := 0; k < count; k++ {
		var pk []testKV
		if k == 0 {
			pk = append(pk, kvs...)
		}
		pk = append(pk,
			testKV{KeySplitNo, ValueUint16, uint16(k)},
			testKV{KeySplitCount, ValueUint16, uint16(count)},
			testKV{KeySplitTensor, ValueInt32, int32(len(ts))})
		var pt []testTensor
		var off uint64
		for i := k; i < len(ts); i += count {
			tt := ts[i]
			tt.off = off
			row, _ := tt.typ.RowBytes(tt.shape[0])
			n := row
			for _, d := range tt.shape[1:] {
				n *= d
			}
			off += (n + 31) / 32 * 32
			pt = append(pt, tt)
		}
		if err := os.WriteFile(SplitPath(filepath.Join(dir, "tiny"), k, count), build(pk, pt, -1), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return SplitPath(filepath.Join(dir, "tiny"), 0, count)
}

func TestSplit(t *testing.T) {
	dir := t.TempDir()
	first := writeSplit(t, dir, 3)
	if filepath.Base(first) != "tiny-00001-of-00003.gguf" {
		t.Fatalf("split name %s", first)
	}
	for _, open := range []string{first, SplitPath(filepath.Join(dir, "tiny"), 2, 3)} {
		f, err := Open(open)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Parts) != 3 || len(f.Tensors) != 5 || f.Architecture() != "llama" || !f.DataPresent() {
			t.Fatalf("opened %s: %d parts, %d tensors, arch %q, present %v", open, len(f.Parts), len(f.Tensors), f.Architecture(), f.DataPresent())
		}
		out, _ := f.Tensor("output.weight")
		if out.Part != 1 || f.Parts[out.Part].Path != SplitPath(filepath.Join(dir, "tiny"), 1, 3) || out.Offset != f.Parts[1].DataOffset+2304 {
			t.Errorf("output.weight in part %d at %d", out.Part, out.Offset)
		}
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	}
	os.Remove(SplitPath(filepath.Join(dir, "tiny"), 1, 3))
	_, err := Open(first)
	if !errors.Is(err, ErrMissingPart) || !strings.Contains(err.Error(), "tiny-00002-of-00003.gguf") {
		t.Errorf("missing part: %v", err)
	}
}

// rangeServer serves dir over HTTP with Range support and counts requests.
func rangeServer(t *testing.T, dir string) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	fs := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		fs.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestParseURL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	files := zooFiles(t)
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			srv, n := rangeServer(t, filepath.Dir(path))
			local, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			remote, err := ParseURL(ctx, srv.URL+"/"+name, srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			if len(remote.Tensors) != len(local.Tensors) || remote.DataOffset != local.DataOffset || remote.TensorBytes() != local.TensorBytes() || remote.Metadata.Len() != local.Metadata.Len() {
				t.Errorf("remote parse differs from local")
			}
			if got := n.Load(); got > 3 {
				t.Errorf("%d requests for a %d-byte header, want at most 3", got, local.DataOffset)
			}
			t.Logf("%s: %d-byte header in %d requests", name, local.DataOffset, n.Load())
		})
	}
	t.Run("split", func(t *testing.T) {
		dir := t.TempDir()
		writeSplit(t, dir, 2)
		srv, _ := rangeServer(t, dir)
		f, err := ParseURL(ctx, srv.URL+"/tiny-00001-of-00002.gguf", srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Parts) != 2 || len(f.Tensors) != 5 {
			t.Errorf("%d parts %d tensors", len(f.Parts), len(f.Tensors))
		}
	})
	t.Run("not found", func(t *testing.T) {
		srv, _ := rangeServer(t, t.TempDir())
		_, err := ParseURL(ctx, srv.URL+"/nope.gguf", srv.Client())
		if err == nil || !strings.Contains(err.Error(), "404") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("no range support", func(t *testing.T) {
		data, _ := os.ReadFile(testutil.Path("models", "synth-llama-gqa-Q2_K.gguf"))
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(data) }))
		defer srv.Close()
		f, err := ParseURL(ctx, srv.URL+"/m.gguf", srv.Client())
		if err != nil || !f.DataPresent() {
			t.Errorf("small file without range support: %v", err)
		}
	})
}
