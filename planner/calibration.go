package planner

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"gonum.org/v1/gonum/mat"

	"github.com/modelfit/modelfit/gguf"
)

// SpeedSchema identifies the JSON layout of a SpeedProfile.
const SpeedSchema = "speed/v1"

// SpeedProfile is a machine's measured speeds (`plan calibrate`), which the
// speed model uses instead of the reference machine's assumed constants:
// plans made with it say "measured".
type SpeedProfile struct {
	Schema   string `json:"schema"`
	Machine  string `json:"machine"`           // CPU model, as probed
	Measured string `json:"measured"`          // when (RFC 3339)
	Load     string `json:"load,omitempty"`    // the load average while measuring: other work skews the figures
	Runtime  string `json:"runtime,omitempty"` // the llama-bench that was run
	// HostBandwidth is the memory read bandwidth by thread count.
	HostBandwidth []BandwidthPoint `json:"host_bandwidth"`
	// Disk and page-fault figures of the measured directory's filesystem.
	ColdReadBandwidth  float64 `json:"cold_read_bytes_per_second,omitempty"`
	WarmReadBandwidth  float64 `json:"warm_read_bytes_per_second,omitempty"`
	MmapFaultBandwidth float64 `json:"mmap_fault_bytes_per_second,omitempty"`
	// FirstTouchBandwidth is the speed of writing fresh anonymous memory
	// for the first time (page faults and the kernel's zeroing; in a VM
	// also the host's allocation).
	FirstTouchBandwidth float64 `json:"first_touch_bytes_per_second,omitempty"`
	// Points are the fitted constants by thread count; Samples the
	// llama-bench measurements they were fitted to.
	Points  []SpeedPoint  `json:"points"`
	Samples []SpeedSample `json:"samples"`
}

// BandwidthPoint is a memory read bandwidth at a thread count.
type BandwidthPoint struct {
	Threads        int     `json:"threads"`
	BytesPerSecond float64 `json:"bytes_per_second"`
}

// SpeedPoint holds the speed model's constants at one thread count, fitted
// by least squares: decode time per token = Σ bytes read of each kernel
// class × seconds per byte + layers × seconds per layer; prefill time per
// token = Σ FLOPs of each class × seconds per FLOP + seconds per layer ×
// layers. (A constant per token is left out: calibration layouts of two
// shapes cannot tell it from the per-byte cost, and the per-layer cost
// absorbs it.)
type SpeedPoint struct {
	Threads                int                `json:"threads"`
	DecodeSecondsPerByte   map[string]float64 `json:"decode_seconds_per_byte"`
	DecodeSecondsPerLayer  float64            `json:"decode_seconds_per_layer"`
	DecodeSecondsBase      float64            `json:"decode_seconds_base"`
	PrefillSecondsPerFLOP  map[string]float64 `json:"prefill_seconds_per_flop"`
	PrefillSecondsPerLayer float64            `json:"prefill_seconds_per_layer"`
	// DecodeError and PrefillError are the fit's largest relative error on
	// its own samples.
	DecodeError  float64 `json:"decode_error"`
	PrefillError float64 `json:"prefill_error"`
}

// SpeedSample is one llama-bench measurement of a model on the CPU, with
// the model's work per token by kernel class (see WorkPerToken).
type SpeedSample struct {
	Model            string             `json:"model"`
	Threads          int                `json:"threads"`
	Layers           int                `json:"layers"`
	DecodeBytes      map[string]float64 `json:"decode_bytes"`
	PrefillFLOPs     map[string]float64 `json:"prefill_flops"`
	NPrompt          int                `json:"n_prompt"`
	NGen             int                `json:"n_gen"`
	PrefillTokPerSec float64            `json:"prefill_tokens_per_second"`
	DecodeTokPerSec  float64            `json:"decode_tokens_per_second"`
	// PrefillRuns and DecodeRuns are the runs whose medians the speeds
	// are, when the sample is the median of several (plan calibrate).
	PrefillRuns []float64 `json:"prefill_runs,omitempty"`
	DecodeRuns  []float64 `json:"decode_runs,omitempty"`
}

// Kernel classes: ggml-cpu's matrix-vector kernels stream Q8_0 and the
// float types at one rate, the simple 4/5-bit blocks at another, Q6_K (a
// third of a Q4_K_M file) at a third and the other k- and i-quants
// (super-blocks with scales) at a fourth.
const (
	classQ8 = "q8_0"
	classQ4 = "q4_0"
	classQ6 = "q6_k"
	classK  = "k_quant"
)

var speedClasses = []string{classQ8, classQ4, classQ6, classK}

func kernelClass(t gguf.Type) string {
	switch t {
	case gguf.TypeQ8_0, gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16:
		return classQ8
	case gguf.TypeQ4_0, gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1, gguf.TypeIQ4_NL:
		return classQ4
	case gguf.TypeQ6_K:
		return classQ6
	}
	return classK
}

// WorkPerToken returns what one token costs a CPU-only run of f: the weight
// bytes decode reads, by kernel class (every layer weight and the output
// projection; of the token embedding one row), and the FLOPs prefill does
// for a prompt of nPrompt tokens, per token (2 per weight of each layer;
// the output projection runs for the last token only, as llama.cpp computes
// only its logits), and the number of layers.
func WorkPerToken(f *gguf.File, nPrompt int) (decodeBytes, prefillFLOPs map[string]float64, layers int) {
	m := newModel(f)
	decodeBytes, prefillFLOPs = map[string]float64{}, map[string]float64{}
	for i := range m.tensors {
		t := &m.tensors[i]
		out := t.out || t.name == "token_embd.weight" && m.tied == t
		if t.layer < 0 && !out {
			continue
		}
		c := kernelClass(t.typ)
		frac := 1.0
		if t.exps && m.h.ExpertCount > 0 && m.h.ExpertUsedCount > 0 {
			frac = float64(m.h.ExpertUsedCount) / float64(m.h.ExpertCount)
		}
		decodeBytes[c] += float64(t.size) * frac
		fl := 2 * elements(t) * frac
		if out {
			fl /= float64(max(nPrompt, 1))
		}
		prefillFLOPs[c] += fl
	}
	return decodeBytes, prefillFLOPs, m.nLayer
}

func elements(t *tinfo) float64 {
	n := 1.0
	for _, x := range t.shape {
		n *= float64(x)
	}
	return n
}

// FitSpeed fits the speed model's constants to samples, separately for each
// thread count, by linear least squares (gonum's QR solve). A coefficient
// the data drive negative (noise, or a class no sample holds) is dropped and
// the rest refitted, so every constant stays physical. Each thread count
// needs at least as many samples as the constants its samples determine.
func FitSpeed(samples []SpeedSample) ([]SpeedPoint, error) {
	byThreads := map[int][]SpeedSample{}
	for _, s := range samples {
		if s.Threads <= 0 || s.DecodeTokPerSec <= 0 || s.PrefillTokPerSec <= 0 {
			return nil, fmt.Errorf("planner: speed sample %s (%d threads): speeds must be positive", s.Model, s.Threads)
		}
		byThreads[s.Threads] = append(byThreads[s.Threads], s)
	}
	if len(byThreads) == 0 {
		return nil, errors.New("planner: no speed samples to fit")
	}
	var points []SpeedPoint
	for _, th := range sortedKeys(byThreads) {
		ss := byThreads[th]
		p := SpeedPoint{Threads: th, DecodeSecondsPerByte: map[string]float64{}, PrefillSecondsPerFLOP: map[string]float64{}}
		// Decode: seconds per token against bytes per class and layers.
		dec, err := fitNonNeg(ss, func(s SpeedSample) ([]float64, float64) {
			row := make([]float64, 0, len(speedClasses)+1)
			for _, c := range speedClasses {
				row = append(row, s.DecodeBytes[c])
			}
			return append(row, float64(s.Layers)), 1 / s.DecodeTokPerSec
		})
		if err != nil {
			return nil, fmt.Errorf("planner: fitting decode at %d threads: %w", th, err)
		}
		for i, c := range speedClasses {
			if dec.x[i] > 0 {
				p.DecodeSecondsPerByte[c] = dec.x[i]
			}
		}
		p.DecodeSecondsPerLayer, p.DecodeError = dec.x[len(speedClasses)], dec.worst
		pre, err := fitNonNeg(ss, func(s SpeedSample) ([]float64, float64) {
			row := make([]float64, 0, len(speedClasses)+1)
			for _, c := range speedClasses {
				row = append(row, s.PrefillFLOPs[c])
			}
			return append(row, float64(s.Layers)), 1 / s.PrefillTokPerSec
		})
		if err != nil {
			return nil, fmt.Errorf("planner: fitting prefill at %d threads: %w", th, err)
		}
		for i, c := range speedClasses {
			if pre.x[i] > 0 {
				p.PrefillSecondsPerFLOP[c] = pre.x[i]
			}
		}
		p.PrefillSecondsPerLayer, p.PrefillError = pre.x[len(speedClasses)], pre.worst
		points = append(points, p)
	}
	return points, nil
}

type fit struct {
	x     []float64
	worst float64 // largest relative error on the samples
}

// fitNonNeg solves min |A x − b| weighted by 1/b (relative errors count
// alike for fast and slow samples), dropping columns whose coefficient
// comes out negative or that no sample uses.
func fitNonNeg(ss []SpeedSample, row func(SpeedSample) ([]float64, float64)) (fit, error) {
	r0, _ := row(ss[0])
	n := len(r0)
	active := make([]bool, n)
	for j := range active {
		for _, s := range ss {
			if r, _ := row(s); r[j] != 0 {
				active[j] = true
				break
			}
		}
	}
	for {
		cols := []int{}
		for j, a := range active {
			if a {
				cols = append(cols, j)
			}
		}
		if len(cols) == 0 {
			return fit{}, errors.New("no constant left to fit")
		}
		if len(ss) < len(cols) {
			return fit{}, fmt.Errorf("%d samples for %d constants", len(ss), len(cols))
		}
		A := mat.NewDense(len(ss), len(cols), nil)
		b := mat.NewVecDense(len(ss), nil)
		for i, s := range ss {
			r, y := row(s)
			for k, j := range cols {
				// Scale columns to order one so the solve is well
				// conditioned: bytes and FLOPs are 1e8–1e10.
				A.Set(i, k, r[j]/y)
			}
			b.SetVec(i, 1)
		}
		scale := make([]float64, len(cols))
		for k := range cols {
			col := mat.Col(nil, k, A)
			scale[k] = math.Max(floatsMax(col), 1e-300)
			for i := range col {
				A.Set(i, k, col[i]/scale[k])
			}
		}
		var x mat.VecDense
		if err := x.SolveVec(A, b); err != nil {
			return fit{}, err
		}
		worstNeg, wj := 0.0, -1
		for k, j := range cols {
			if v := x.AtVec(k); v < worstNeg {
				worstNeg, wj = v, j
			}
		}
		if wj >= 0 {
			active[wj] = false
			continue
		}
		out := fit{x: make([]float64, n)}
		for k, j := range cols {
			out.x[j] = x.AtVec(k) / scale[k]
		}
		for _, s := range ss {
			r, y := row(s)
			pred := 0.0
			for j, v := range out.x {
				pred += r[j] * v
			}
			out.worst = math.Max(out.worst, math.Abs(pred-y)/y)
		}
		return out, nil
	}
}

func floatsMax(xs []float64) float64 {
	m := 0.0
	for _, x := range xs {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}

// point returns the fitted constants for threads: the exact thread count,
// else none (nil): the fit of another thread count does not transfer.
func (p *SpeedProfile) point(threads int) *SpeedPoint {
	if p == nil {
		return nil
	}
	for i := range p.Points {
		if p.Points[i].Threads == threads {
			return &p.Points[i]
		}
	}
	return nil
}

// bandwidth returns the measured memory bandwidth at threads (the nearest
// measured thread count at or below it), 0 when none was measured.
func (p *SpeedProfile) bandwidth(threads int) float64 {
	if p == nil {
		return 0
	}
	bw, best := 0.0, 0
	for _, b := range p.HostBandwidth {
		if b.Threads <= threads && b.Threads > best {
			bw, best = b.BytesPerSecond, b.Threads
		}
	}
	return bw
}

// Threads lists the thread counts the profile has fitted constants for.
func (p *SpeedProfile) Threads() []int {
	var out []int
	for _, pt := range p.Points {
		out = append(out, pt.Threads)
	}
	slices.Sort(out)
	return out
}

// Validate checks a profile read from a file.
func (p *SpeedProfile) Validate() error {
	if p.Schema != SpeedSchema {
		return fmt.Errorf("planner: speed profile schema %q, want %q", p.Schema, SpeedSchema)
	}
	for _, pt := range p.Points {
		if pt.Threads <= 0 || len(pt.DecodeSecondsPerByte) == 0 || len(pt.PrefillSecondsPerFLOP) == 0 {
			return fmt.Errorf("planner: speed profile: the point for %d threads has no fitted rates", pt.Threads)
		}
		for c, v := range pt.DecodeSecondsPerByte {
			if !slices.Contains(speedClasses, c) || !(v > 0) || math.IsInf(v, 0) {
				return fmt.Errorf("planner: speed profile: decode rate %s = %g", c, v)
			}
		}
		for c, v := range pt.PrefillSecondsPerFLOP {
			if !slices.Contains(speedClasses, c) || !(v > 0) || math.IsInf(v, 0) {
				return fmt.Errorf("planner: speed profile: prefill rate %s = %g", c, v)
			}
		}
	}
	return nil
}

// calibrated applies a speed profile inside predict: where the profile has
// fitted constants for the plan's thread count they replace the assumed
// ones; every method falls back to the assumed model without them.
type calibrated struct {
	prof *SpeedProfile
	pt   *SpeedPoint
	bw   float64 // measured memory bandwidth at the thread count, 0 if none
	// flops by kernel class of the host's weights, output projections
	// counted once per ubatch
	flops map[string]float64
	// classes the profile lacked, for which assumed rates were used
	missing map[string]bool
}

func newCalibrated(p *SpeedProfile, threads int) *calibrated {
	return &calibrated{prof: p, pt: p.point(threads), bw: p.bandwidth(threads), flops: map[string]float64{}, missing: map[string]bool{}}
}

// decodeSeconds is the time one token spends streaming n bytes of host
// tensor t.
func (c *calibrated) decodeSeconds(t *tinfo, n float64, threads int, hostCeil float64) float64 {
	if c.pt != nil {
		if r, ok := c.pt.DecodeSecondsPerByte[kernelClass(t.typ)]; ok {
			return n * r
		}
		c.missing[kernelClass(t.typ)] = true
	}
	return n / min(float64(threads)*kernelRate(t.typ), hostCeil)
}

// addFLOPs records a host tensor's FLOPs per token for the calibrated
// prefill: an output projection runs once per ubatch.
func (c *calibrated) addFLOPs(t *tinfo, fl float64, ub int) {
	if t.out || t.layer < 0 {
		fl /= float64(ub)
	}
	c.flops[kernelClass(t.typ)] += fl
}

// prefillSeconds is the host's prefill time per token with fitted
// constants; classes without one run at the assumed FLOP rate.
func (c *calibrated) prefillSeconds(threads int, assumedFlops float64, layers int) float64 {
	var t float64
	for cl, fl := range c.flops {
		if r, ok := c.pt.PrefillSecondsPerFLOP[cl]; ok {
			t += fl * r
		} else if fl > 0 {
			c.missing[cl] = true
			t += fl / (float64(threads) * assumedFlops)
		}
	}
	return t + c.pt.PrefillSecondsPerLayer*float64(layers)
}

// overhead is the per-token cost that does not scale with bytes.
func (c *calibrated) overhead(threads, hostLayers int) float64 {
	if c.pt != nil {
		return c.pt.DecodeSecondsPerLayer * float64(hostLayers)
	}
	return tokenOverheadBase + tokenOverheadHostLyr*(1+math.Log2(float64(threads)))*float64(hostLayers)
}

// notes says what was measured and what was not.
func (c *calibrated) notes() []string {
	if c.prof == nil {
		return nil
	}
	var out []string
	switch {
	case c.pt != nil:
		out = append(out, fmt.Sprintf("host speed measured: constants fitted to llama-bench on this machine with %d threads (plan calibrate, %s; fit within %.0f%% decode, %.0f%% prefill)",
			c.pt.Threads, c.prof.Measured, c.pt.DecodeError*100, c.pt.PrefillError*100))
	default:
		out = append(out, fmt.Sprintf("host speed assumed: the speed profile has no fit for this thread count (it has %v); run plan calibrate with these threads", c.prof.Threads()))
	}
	if c.bw > 0 {
		out = append(out, fmt.Sprintf("host memory bandwidth %.1f GB/s, measured", c.bw/1e9))
	}
	if len(c.missing) > 0 {
		var cls []string
		for cl := range c.missing {
			cls = append(cls, cl)
		}
		slices.Sort(cls)
		out = append(out, fmt.Sprintf("no measured rate for %v weights: assumed", cls))
	}
	return out
}
