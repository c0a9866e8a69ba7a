package cli

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

// TestProgress: drawn only on a terminal, only after progressDelay, and
// erased when done.
func TestProgress(t *testing.T) {
	if newProgress(&bytes.Buffer{}) != nil {
		t.Error("progress on a buffer")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if newProgress(w) != nil {
		t.Error("progress on a pipe")
	}
	var buf bytes.Buffer
	p := &progressLine{w: &buf, start: time.Now()}
	p.show("early")
	if buf.Len() != 0 {
		t.Errorf("drawn before %v: %q", progressDelay, buf.String())
	}
	p.start = time.Now().Add(-2 * time.Second)
	p.show("fetching %s", "x")
	p.done()
	out := buf.String()
	if !strings.HasPrefix(out, "\rfetching x (2 s)") || !strings.HasSuffix(out, "\r") || strings.Count(out, "\r") != 3 {
		t.Errorf("progress %q", out)
	}
}
