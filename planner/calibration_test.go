package planner

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/probe"
)

// Samples made from known constants are fitted back to those constants.
func TestFitSpeedRecoversConstants(t *testing.T) {
	rate := map[string]float64{classQ8: 1 / 20e9, classQ4: 1 / 24e9, classQ6: 1 / 14e9, classK: 1 / 18e9}
	flop := map[string]float64{classQ8: 1 / 110e9, classQ4: 1 / 90e9, classQ6: 1 / 60e9, classK: 1 / 80e9}
	const perLayer, prePerLayer = 25e-6, 40e-6
	var samples []SpeedSample
	for _, shape := range []struct {
		params float64
		layers int
	}{{400e6, 6}, {330e6, 24}} {
		for _, c := range speedClasses {
			bpw := map[string]float64{classQ8: 1.0625, classQ4: 0.5625, classQ6: 0.8203, classK: 0.5625}[c]
			dec := map[string]float64{c: shape.params * bpw, classQ8: 1e5} // the F32 norms
			fl := map[string]float64{c: 2 * shape.params, classQ8: 2e5}
			if c == classQ8 {
				dec[c], fl[c] = shape.params*bpw+1e5, 2*shape.params+2e5
			}
			td, tp := float64(shape.layers)*perLayer, float64(shape.layers)*prePerLayer
			for k, v := range dec {
				td += v * rate[k]
			}
			for k, v := range fl {
				tp += v * flop[k]
			}
			samples = append(samples, SpeedSample{Model: c, Threads: 2, Layers: shape.layers, DecodeBytes: dec, PrefillFLOPs: fl,
				DecodeTokPerSec: 1 / td, PrefillTokPerSec: 1 / tp})
		}
	}
	pts, err := FitSpeed(samples)
	if err != nil || len(pts) != 1 {
		t.Fatalf("%v %v", pts, err)
	}
	p := pts[0]
	near := func(got, want float64) bool { return math.Abs(got/want-1) < 1e-6 }
	for _, c := range speedClasses {
		if !near(p.DecodeSecondsPerByte[c], rate[c]) || !near(p.PrefillSecondsPerFLOP[c], flop[c]) {
			t.Errorf("%s: %g s/B, %g s/FLOP; want %g, %g", c, p.DecodeSecondsPerByte[c], p.PrefillSecondsPerFLOP[c], rate[c], flop[c])
		}
	}
	if !near(p.DecodeSecondsPerLayer, perLayer) || !near(p.PrefillSecondsPerLayer, prePerLayer) || p.DecodeError > 1e-9 {
		t.Errorf("per layer %g / %g, error %g", p.DecodeSecondsPerLayer, p.PrefillSecondsPerLayer, p.DecodeError)
	}
	// Too few samples for the constants is an error, not a guess.
	if _, err := FitSpeed(samples[:2]); err == nil {
		t.Error("two samples fitted five constants")
	}
	if _, err := FitSpeed([]SpeedSample{{Threads: 1}}); err == nil {
		t.Error("a sample without speeds was accepted")
	}
}

// WorkPerToken counts what the speed model reads and computes per token.
func TestWorkPerToken(t *testing.T) {
	f, err := gguf.Open(testutil.Path("models", "synth-llama-gqa-Q4_K_M.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec, fl, layers := WorkPerToken(f, 64)
	var want float64
	for _, tn := range f.Tensors {
		if tn.Name == "token_embd.weight" && hasTensor(f, "output.weight") {
			continue
		}
		want += float64(tn.Size)
	}
	got := 0.0
	for _, v := range dec {
		got += v
	}
	if layers != 4 || got != want || dec[classQ6] == 0 || dec[classK] == 0 || fl[classK] == 0 {
		t.Errorf("layers %d, decode bytes %v (sum %g, want %g)", layers, dec, got, want)
	}
}

func hasTensor(f *gguf.File, name string) bool { _, ok := f.Tensor(name); return ok }

// A plan with a profile for its thread count predicts from the fitted
// constants and says so; for another thread count it says they are
// assumed.
func TestPredictWithProfile(t *testing.T) {
	f, err := gguf.Open(testutil.Path("models", "synth-llama-gqa-Q4_K_M.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const perByte, perLayer = 1 / 10e9, 50e-6
	prof := &SpeedProfile{Schema: SpeedSchema, Measured: "2026-12-05T04:00:00Z",
		HostBandwidth: []BandwidthPoint{{1, 20e9}, {2, 30e9}},
		Points: []SpeedPoint{{Threads: 2, DecodeSecondsPerLayer: perLayer,
			DecodeSecondsPerByte:  map[string]float64{classQ8: perByte, classQ4: perByte, classQ6: perByte, classK: perByte},
			PrefillSecondsPerFLOP: map[string]float64{classQ8: 1e-11, classQ4: 1e-11, classQ6: 1e-11, classK: 1e-11}}}}
	if err := prof.Validate(); err != nil {
		t.Fatal(err)
	}
	snap := probeDescribe(4 << 30)
	req := Request{Settings: Settings{NCtx: 256, Threads: 2, NUbatch: 64}, Pinned: Pins{NCtx: true, Threads: true, NUbatch: true}, Speed: prof}
	p, err := Make(context.Background(), f, snap, req)
	if err != nil {
		t.Fatal(err)
	}
	dec, _, layers := WorkPerToken(f, 64)
	var bytes float64
	for _, v := range dec {
		bytes += v
	}
	kv := float64(p.Devices[0].KVBytes) / 2 / (30e9 * hostMemEff)
	want := 1 / (bytes*perByte + perLayer*float64(layers) + kv)
	if got := p.Predicted.DecodeTokensPerSecond; math.Abs(got/want-1) > 0.01 {
		t.Errorf("decode %.4g tok/s, want %.4g from the profile", got, want)
	}
	if !strings.Contains(strings.Join(p.Predicted.Assumptions, "; "), "host speed measured") {
		t.Errorf("assumptions %q", p.Predicted.Assumptions)
	}
	req.Settings.Threads = 1
	p, err = Make(context.Background(), f, snap, req)
	if err != nil || !strings.Contains(strings.Join(p.Predicted.Assumptions, "; "), "host speed assumed: the speed profile has no fit for this thread count") {
		t.Errorf("1 thread: %v %q", err, p.Predicted.Assumptions)
	}
	bad := *prof
	bad.Schema = "speed/v0"
	if bad.Validate() == nil {
		t.Error("a profile of another schema validated")
	}
}

func probeDescribe(ram uint64) *probe.Snapshot {
	return probe.Describe(probe.Description{RAMBytes: ram, Cores: 2, Features: []string{"avx2", "fma"}})
}
