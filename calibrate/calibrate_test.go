package calibrate

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/planner"
)

var tiny = Shape{Name: "tiny", Layers: 3, Embd: 256, FFN: 512, Heads: 4, KVHeads: 2, Vocab: 300, Ctx: 256}

// Every mix writes a file the gguf parser reads back whole, with the types
// the mix names and the parameter count Params promises.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	for _, mix := range []string{"F16", "Q8_0", "Q4_0", "Q4_K_M", "Q4_K", "Q6_K"} {
		path := filepath.Join(dir, mix+".gguf")
		if err := Write(context.Background(), path, tiny, mix, 7); err != nil {
			t.Fatalf("%s: %v", mix, err)
		}
		f, err := gguf.Open(path)
		if err != nil {
			t.Fatalf("%s: %v", mix, err)
		}
		var params int64
		types := map[gguf.Type]int{}
		for _, tn := range f.Tensors {
			n := int64(1)
			for _, d := range tn.Shape {
				n *= int64(d)
			}
			params += n
			types[tn.Type]++
		}
		st, _ := os.Stat(path)
		if !f.DataPresent() || params != tiny.Params() || f.Architecture() != "llama" || st.Size() < f.TensorBytes() {
			t.Errorf("%s: data present %v, %d params (want %d), %d bytes", mix, f.DataPresent(), params, tiny.Params(), st.Size())
		}
		if mix == "Q4_K_M" && (types[gguf.TypeQ6_K] == 0 || types[gguf.TypeQ4_K] == 0) {
			t.Errorf("Q4_K_M: types %v", types)
		}
		f.Close()
	}
	if err := Write(context.Background(), filepath.Join(dir, "x.gguf"), Shape{Name: "odd", Layers: 1, Embd: 100, FFN: 200, Heads: 4, KVHeads: 2, Vocab: 300}, "Q4_K", 1); err == nil {
		t.Error("rows of 100 values written as Q4_K")
	}
	if err := Write(context.Background(), filepath.Join(dir, "y.gguf"), tiny, "Q3_K_XL", 1); err == nil {
		t.Error("an unknown mix was written")
	}
}

// The 8B shape and mixes reproduce the released Llama 3.1 8B files'
// layouts (the shared zoo's headers): every tensor's shape and type.
func TestMixesMatchReleasedLayouts(t *testing.T) {
	for _, mix := range []string{"Q4_K_M", "Q8_0"} {
		f, err := gguf.Open(testutil.Shared(t, "zoo", "llama-3.1-8b-"+mix+".header.gguf"))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "h.gguf")
		// Only the header is compared: write it without the data.
		hdr := Llama8B
		if err := WriteHeader(path, hdr, mix); err != nil {
			t.Fatal(err)
		}
		g, err := gguf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		matched := 0
		for _, tn := range g.Tensors {
			ref, ok := f.Tensor(tn.Name)
			if !ok {
				t.Errorf("%s: %s is not in the released file", mix, tn.Name)
				continue
			}
			if ref.Type != tn.Type || ref.Size != tn.Size {
				t.Errorf("%s: %s is %s (%d B), released %s (%d B)", mix, tn.Name, tn.Type, tn.Size, ref.Type, ref.Size)
			}
			matched++
		}
		// The released file adds only rope_freqs.weight.
		if matched != len(f.Tensors)-1 {
			t.Errorf("%s: %d of %d tensors matched", mix, matched, len(f.Tensors))
		}
		f.Close()
		g.Close()
	}
}

func TestParseBench(t *testing.T) {
	data, err := os.ReadFile(testutil.Path("calibrate", "llama-bench-synth-q4_0.json"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := parseBench(data, "synth")
	if err != nil || len(res) != 4 {
		t.Fatalf("%v %v", res, err)
	}
	dec, fl := map[string]float64{"q4_0": 1e6}, map[string]float64{"q4_0": 2e6}
	ss, err := pairSamples("synth", res, dec, fl, 4)
	if err != nil || len(ss) != 2 || ss[0].Threads != 1 || ss[1].Threads != 2 || ss[0].NPrompt != 16 || ss[0].NGen != 4 || ss[1].DecodeTokPerSec <= 0 {
		t.Errorf("%+v %v", ss, err)
	}
	for _, bad := range []string{"", "[]", `[{"n_threads":1,"avg_ts":0}]`, "{"} {
		if _, err := parseBench([]byte(bad), "x"); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if _, err := pairSamples("x", res[:1], dec, fl, 1); err == nil {
		t.Error("a prefill result without its decode result was paired")
	}
	// A thread count run twice (-t 2,2) gives two samples, in order.
	twice := []BenchResult{{Threads: 2, NPrompt: 64, TokPerSec: 100}, {Threads: 2, NGen: 16, TokPerSec: 10},
		{Threads: 2, NPrompt: 64, TokPerSec: 90}, {Threads: 2, NGen: 16, TokPerSec: 9}}
	ss, err = pairSamples("x", twice, dec, fl, 1)
	if err != nil || len(ss) != 2 || ss[0].PrefillTokPerSec != 100 || ss[0].DecodeTokPerSec != 10 || ss[1].PrefillTokPerSec != 90 || ss[1].DecodeTokPerSec != 9 {
		t.Errorf("%+v %v", ss, err)
	}
	m := medianSample([]planner.SpeedSample{{Model: "a", PrefillTokPerSec: 3, DecodeTokPerSec: 30}, {PrefillTokPerSec: 1, DecodeTokPerSec: 20}, {PrefillTokPerSec: 2, DecodeTokPerSec: 10}})
	if m.Model != "a" || m.PrefillTokPerSec != 2 || m.DecodeTokPerSec != 20 {
		t.Errorf("median sample %+v", m)
	}
	_ = planner.SpeedSchema
}

func TestMemoryBandwidth(t *testing.T) {
	bw, err := MemoryBandwidth(context.Background(), 2, 8<<20, 3)
	if err != nil || bw < 1e8 {
		t.Errorf("%g B/s, %v", bw, err)
	}
	if Median([]float64{3, 1, 2}) != 2 || Median([]float64{4, 1, 2, 3}) != 2.5 || Median(nil) != 0 {
		t.Error("median")
	}
}

// The whole calibration with the shared llama-bench, shrunk: layouts
// written, benchmarked, fitted into a valid profile, and removed.
func TestRunQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("runs llama-bench")
	}
	bin := testutil.Shared(t, "tools", "llama.cpp", "bin", "llama-bench")
	dir := t.TempDir()
	p, err := Run(context.Background(), Options{LlamaBench: bin, Dir: dir, Threads: 2, Quick: true, Machine: "test"})
	if err != nil {
		t.Fatal(err)
	}
	// llama-bench runs with the largest thread count only, three times.
	if err := p.Validate(); err != nil || len(p.HostBandwidth) != 2 || len(p.Points) != 1 || p.Points[0].Threads != 2 || len(p.Samples) != len(quickShapes)*len(calibTypes) {
		t.Errorf("profile: %v; %d bandwidths, %d points, %d samples", err, len(p.HostBandwidth), len(p.Points), len(p.Samples))
	}
	if runtime.GOOS == "linux" && !(p.FirstTouchBandwidth > 0) {
		t.Errorf("first touch not measured: %g B/s", p.FirstTouchBandwidth)
	}
	for _, s := range p.Samples {
		if len(s.DecodeRuns) != 3 || len(s.PrefillRuns) != 3 || s.DecodeTokPerSec != Median(s.DecodeRuns) {
			t.Errorf("%s: decode %g from runs %v", s.Model, s.DecodeTokPerSec, s.DecodeRuns)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	// Without llama-bench only the bandwidths are measured.
	p, err = Run(context.Background(), Options{LlamaBench: filepath.Join(dir, "no-such-llama-bench"), Dir: dir, Threads: 1, Quick: true})
	if err == nil {
		t.Errorf("a missing --llama-bench was ignored: %+v", p)
	}
}
