package exec

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/mmapio"
)

// TestTruncatedFile shrinks a mapped model under the engine: evaluation must
// fail with mmapio's fault error, from the calling goroutine and from the
// workers alike, instead of killing the process with SIGBUS.
func TestTruncatedFile(t *testing.T) {
	s := tinyShape
	s.arch = "llama"
	kvs, ts := synthModel(s, 11)
	path := writeSynth(t, kvs, ts)
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := LoadSettings(context.Background(), synthSettings(3, 8), f)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// Keep the page holding the embeddings (read on the calling goroutine)
	// so that the fault comes from the matrix products, split over workers.
	page := int64(os.Getpagesize())
	keep := (f.Parts[0].DataOffset + int64(4*s.embd*s.voc) + page - 1) / page * page
	for _, size := range []int64{keep, 0} {
		if err := os.Truncate(path, size); err != nil {
			t.Fatal(err)
		}
		m.Reset()
		_, err = m.Eval(context.Background(), []int32{2, 3, 4})
		if !errors.Is(err, mmapio.ErrFault) {
			t.Fatalf("truncated to %d bytes: error %v, want a mapped-memory fault", size, err)
		}
	}
}
