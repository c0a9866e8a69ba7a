package layouts

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
)

// TestZooBuilds checks that every layout builds, parses back with the
// tensors and sizes it was given, and that ids are unique.
func TestZooBuilds(t *testing.T) {
	specs := Zoo()
	if len(specs) < 40 {
		t.Errorf("only %d layouts", len(specs))
	}
	archs := map[string]bool{}
	for _, s := range specs {
		l, err := Build(s)
		if err != nil {
			t.Fatal(err)
		}
		f, err := l.File()
		if err != nil {
			t.Fatalf("%s: %v", s.ID, err)
		}
		if len(f.Tensors) != len(l.Tensors) || f.Architecture() != s.Arch {
			t.Errorf("%s: parsed %d tensors of %q", s.ID, len(f.Tensors), f.Architecture())
		}
		if h := f.HParams(); h.VocabSize != uint64(s.Vocab) || h.BlockCount != s.Layers {
			t.Errorf("%s: vocab %d, %d layers", s.ID, h.VocabSize, h.BlockCount)
		}
		archs[s.Arch] = true
	}
	t.Logf("%d layouts of %d architectures", len(specs), len(archs))
}

// TestQuantizerAgrees writes each zoo model as the converter's F16 file
// and asks the real llama-quantize (--dry-run, from the shared llama.cpp
// build) which type it gives every tensor for each file type the zoo uses:
// they must be the generator's.
func TestQuantizerAgrees(t *testing.T) {
	bin := testutil.Shared(t, "tools", "llama.cpp", "bin", "llama-quantize")
	if testing.Short() {
		t.Skip("runs llama-quantize for every layout")
	}
	dir := t.TempDir()
	line := regexp.MustCompile(`^\[\s*\d+/\s*\d+\]\s+(\S+)\s+- \[.*\], type =\s+(\S+), size = .*?(?:\((\S+)\))?$`)
	for _, s := range Zoo() {
		if s.Type == F16 || s.Type == BF16 {
			continue
		}
		want, err := Build(s)
		if err != nil {
			t.Fatal(err)
		}
		src := *s
		src.Type = F16
		l, err := Build(&src)
		if err != nil {
			t.Fatal(err)
		}
		hdr, size, err := l.Header()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "f16.gguf")
		if err := os.WriteFile(p, hdr, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(p, int64(len(hdr))+int64(size)); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := exec.CommandContext(ctx, bin, "--dry-run", p, s.Type.String()).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("%s: llama-quantize: %v\n%s", s.ID, err, out)
		}
		got := map[string]string{}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if m := line.FindStringSubmatch(sc.Text()); m != nil {
				got[m[1]] = m[2]
				if m[3] != "" {
					got[m[1]] = m[3]
				}
			}
		}
		if len(got) != len(want.Tensors) {
			t.Errorf("%s: llama-quantize listed %d tensors, the layout has %d", s.ID, len(got), len(want.Tensors))
		}
		for _, ti := range want.Tensors {
			if typ, ok := gguf.ParseType(got[ti.Name]); !ok || typ != ti.Type {
				t.Errorf("%s: %s: llama-quantize %s, generator %s", s.ID, ti.Name, got[ti.Name], ti.Type)
			}
		}
	}
}
