package layouts

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
)

// TestZooBuilds checks that every layout builds, parses back with the
// tensors and sizes it was given, and that ids are unique.
func TestZooBuilds(t *testing.T) {
	specs := Zoo()
	if len(specs) < 150 {
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
		if h := f.HParams(); h.VocabSize != uint64(s.Vocab) || h.BlockCount != s.Layers+s.NextN {
			t.Errorf("%s: vocab %d, %d layers", s.ID, h.VocabSize, h.BlockCount)
		}
		archs[s.Arch] = true
	}
	t.Logf("%d layouts of %d architectures", len(specs), len(archs))
}

// only restricts TestQuantizerAgrees to some layouts while a family is
// being written: go test ./internal/layouts -run Quantizer -args -only '^falcon'.
var onlyFlag = flag.String("only", "", "check only the layouts whose id matches")

// TestQuantizerAgrees writes each zoo model as the converter's F16 file
// and asks the real llama-quantize (--dry-run, from the shared llama.cpp
// build) which type it gives every tensor for each file type the zoo uses:
// they must be the generator's.
func TestQuantizerAgrees(t *testing.T) {
	bin := testutil.Shared(t, "tools", "llama.cpp", "bin", "llama-quantize")
	if testing.Short() {
		t.Skip("runs llama-quantize for every layout")
	}
	only, err := regexp.Compile(*onlyFlag)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	line := regexp.MustCompile(`^\[\s*\d+/\s*\d+\]\s+(\S+)\s+- \[.*\], type =\s+(\S+), size = .*?(?:\((\S+)\))?$`)
	// check compares one layout; two run at a time (the machine's cores).
	check := func(s *Spec) []string {
		var errs []string
		want, err := Build(s)
		if err != nil {
			return []string{err.Error()}
		}
		src := *s
		src.Type = F16
		l, err := Build(&src)
		if err != nil {
			return []string{err.Error()}
		}
		hdr, size, err := l.Header()
		if err != nil {
			return []string{err.Error()}
		}
		p := filepath.Join(dir, s.ID+".f16.gguf")
		defer os.Remove(p)
		if err := os.WriteFile(p, hdr, 0o644); err != nil {
			return []string{err.Error()}
		}
		if err := os.Truncate(p, int64(len(hdr))+int64(size)); err != nil {
			return []string{err.Error()}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := exec.CommandContext(ctx, bin, "--dry-run", p, s.Type.String()).CombinedOutput()
		cancel()
		if err != nil {
			return []string{fmt.Sprintf("%s: llama-quantize: %v\n%s", s.ID, err, out)}
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
			errs = append(errs, fmt.Sprintf("%s: llama-quantize listed %d tensors, the layout has %d", s.ID, len(got), len(want.Tensors)))
		}
		for _, ti := range want.Tensors {
			if typ, ok := gguf.ParseType(got[ti.Name]); !ok || typ != ti.Type {
				errs = append(errs, fmt.Sprintf("%s: %s: llama-quantize %s, generator %s", s.ID, ti.Name, got[ti.Name], ti.Type))
			}
		}
		return errs
	}
	specs := make(chan *Spec)
	results := make(chan []string)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for s := range specs {
				results <- check(s)
			}
		})
	}
	go func() {
		for _, s := range Zoo() {
			if s.Type != F16 && s.Type != BF16 && only.MatchString(s.ID) {
				specs <- s
			}
		}
		close(specs)
		wg.Wait()
		close(results)
	}()
	for errs := range results {
		for _, e := range errs {
			t.Error(e)
		}
	}
}

// TestMatchesSharedZoo compares layouts with the shared zoo's headers of
// released models (llama.cpp's own parse of them, ../shared/zoo): the same
// tensors with the same shapes and types.
func TestMatchesSharedZoo(t *testing.T) {
	for shared, id := range map[string]string{
		"llama-3.1-8b-Q4_K_M": "llama-3.1-8b-q4_k_m", "llama-3.1-8b-Q8_0": "llama-3.1-8b-q8_0",
		"qwen2.5-0.5b-Q8_0": "qwen2.5-0.5b-q8_0", "gemma-2-9b-Q4_K_M": "gemma-2-9b-q4_k_m",
		"mixtral-8x7b-Q4_K_M": "mixtral-8x7b-q4_k_m",
	} {
		p := testutil.Shared(t, "zoo", shared+".gguf.json")
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var ref struct {
			Tensors []struct {
				Name string
				Type string
				Ne   []uint64
			}
		}
		if err := json.Unmarshal(raw, &ref); err != nil {
			t.Fatal(err)
		}
		s, _ := ByID(id)
		l, err := Build(s)
		if err != nil {
			t.Fatal(err)
		}
		mine := map[string]string{}
		for _, ti := range l.Tensors {
			mine[ti.Name] = fmt.Sprintf("%s %v", ti.Type, ti.Shape)
		}
		if len(ref.Tensors) != len(l.Tensors) {
			t.Errorf("%s: %d tensors, generated %d", shared, len(ref.Tensors), len(l.Tensors))
		}
		for _, rt := range ref.Tensors {
			ne := rt.Ne[:nDims(rt.Ne)]
			if want := fmt.Sprintf("%s %v", rt.Type, ne); mine[rt.Name] != want {
				t.Errorf("%s: %s is %s, generated %s", shared, rt.Name, want, mine[rt.Name])
			}
		}
	}
}
