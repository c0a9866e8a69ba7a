package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/internal/testutil"
)

// TestREADME runs every `$ go run ./cmd/plan …` the README quotes and checks
// that the output quoted under it is what the command prints: each part
// between "…" lines appears whole, in order. The README cannot go stale.
func TestREADME(t *testing.T) {
	t.Chdir(testutil.Root())
	raw, err := os.ReadFile(filepath.Join(testutil.Root(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	type example struct {
		args []string
		want []string // the quoted lines, "…" between the parts
	}
	var examples []example
	inBlock, collecting, cont := false, false, false
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case strings.HasPrefix(line, "```"):
			inBlock, collecting = !inBlock, false
		case cont: // the command goes on after a backslash
			e := &examples[len(examples)-1]
			e.args = append(e.args, strings.Fields(strings.TrimSuffix(line, "\\"))...)
			cont = strings.HasSuffix(line, "\\")
		case inBlock && strings.HasPrefix(line, "$ go run ./cmd/plan "):
			args := strings.TrimPrefix(line, "$ go run ./cmd/plan ")
			examples = append(examples, example{args: strings.Fields(strings.TrimSuffix(args, "\\"))})
			collecting, cont = true, strings.HasSuffix(line, "\\")
		case collecting && strings.HasPrefix(line, "$ "):
			t.Fatalf("README quotes a command this test cannot run: %s", line)
		case collecting:
			e := &examples[len(examples)-1]
			e.want = append(e.want, line)
		}
	}
	if len(examples) < 3 {
		t.Fatalf("found %d quoted commands in the README, want the three examples", len(examples))
	}
	for _, e := range examples {
		t.Run(strings.Join(e.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			Run(context.Background(), e.args, &out, io.Discard)
			got := out.String()
			at := 0
			for _, part := range strings.Split(strings.Join(e.want, "\n"), "\n…\n") {
				part = strings.Trim(part, "\n…")
				if part == "" {
					continue
				}
				i := strings.Index(got[at:], part+"\n")
				if i < 0 {
					t.Errorf("the output lacks the quoted lines\n%s\n--- output ---\n%s", part, got)
					return
				}
				at += i + len(part)
			}
		})
	}
}
