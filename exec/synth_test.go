package exec

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/ggufwrite"
	"github.com/modelfit/modelfit/planner"
)

// A tiny model written by the test: f32 weights drawn from a seeded PRNG,
// checked against a plain float64 re-implementation of the llama / qwen2
// forward pass. No qwen2 weights ship with the repository, so this is what
// tests the qwen2 path (QKV biases, NeoX RoPE).

type synthKV struct {
	key string
	val any // string, uint32, float32, []string, []int32
}

type synthTensor struct {
	name  string
	typ   gguf.Type
	shape []uint64
	data  []float32 // f32 values (raw bytes of len 4·n for other 4-byte types)
}

// writeSynth writes a GGUF v3 file and returns its path.
func writeSynth(t testing.TB, kvs []synthKV, tensors []synthTensor) string {
	t.Helper()
	enc := make([]ggufwrite.KV, len(kvs))
	for i, e := range kvs {
		enc[i] = ggufwrite.KV{Key: e.key, Value: e.val}
	}
	ts := make([]ggufwrite.Tensor, len(tensors))
	for i, x := range tensors {
		ts[i] = ggufwrite.Tensor{Name: x.name, Type: x.typ, Shape: x.shape, Data: ggufwrite.F32(x.data)}
	}
	raw, err := ggufwrite.Encode(enc, ts)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "synth.gguf")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// synthShape are the dimensions of the test model.
type synthShape struct {
	arch                                  string
	embd, heads, headsKV, ff, layers, voc int
	ropeBase                              float32
}

var tinyShape = synthShape{embd: 32, heads: 4, headsKV: 2, ff: 48, layers: 2, voc: 24, ropeBase: 10000}

// synthModel builds the metadata and f32 tensors of a tiny model.
func synthModel(s synthShape, seed uint64) ([]synthKV, []synthTensor) {
	rng := rand.New(rand.NewPCG(seed, 1))
	rnd := func(n int, scale float32) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = (rng.Float32()*2 - 1) * scale
		}
		return v
	}
	ones := func(n int) []float32 {
		v := rnd(n, 0.2)
		for i := range v {
			v[i] += 1
		}
		return v
	}
	toks := make([]string, s.voc)
	types := make([]int32, s.voc)
	for i := range toks {
		toks[i] = string(rune('a' + i))
		types[i] = 1
	}
	toks[0], toks[1], types[0], types[1] = "<s>", "</s>", 3, 3
	a := s.arch
	kvs := []synthKV{
		{"general.architecture", a},
		{a + ".block_count", uint32(s.layers)},
		{a + ".context_length", uint32(256)},
		{a + ".embedding_length", uint32(s.embd)},
		{a + ".feed_forward_length", uint32(s.ff)},
		{a + ".attention.head_count", uint32(s.heads)},
		{a + ".attention.head_count_kv", uint32(s.headsKV)},
		{a + ".attention.layer_norm_rms_epsilon", float32(1e-5)},
		{a + ".rope.freq_base", s.ropeBase},
		{"tokenizer.ggml.model", "gpt2"},
		{"tokenizer.ggml.pre", "qwen2"},
		{"tokenizer.ggml.tokens", toks},
		{"tokenizer.ggml.token_type", types},
		{"tokenizer.ggml.merges", []string{"c d"}},
		{"tokenizer.ggml.bos_token_id", uint32(0)},
		{"tokenizer.ggml.eos_token_id", uint32(1)},
	}
	hd := s.embd / s.heads
	kvDim := s.headsKV * hd
	e := uint64(s.embd)
	sc := float32(1 / math.Sqrt(float64(s.embd)))
	ts := []synthTensor{
		{"token_embd.weight", gguf.TypeF32, []uint64{e, uint64(s.voc)}, rnd(s.embd*s.voc, 1)},
		{"output_norm.weight", gguf.TypeF32, []uint64{e}, ones(s.embd)},
		{"output.weight", gguf.TypeF32, []uint64{e, uint64(s.voc)}, rnd(s.embd*s.voc, sc)},
	}
	for il := range s.layers {
		p := "blk." + string(rune('0'+il)) + "."
		ts = append(ts,
			synthTensor{p + "attn_norm.weight", gguf.TypeF32, []uint64{e}, ones(s.embd)},
			synthTensor{p + "attn_q.weight", gguf.TypeF32, []uint64{e, e}, rnd(s.embd*s.embd, 3*sc)},
			synthTensor{p + "attn_k.weight", gguf.TypeF32, []uint64{e, uint64(kvDim)}, rnd(s.embd*kvDim, 3*sc)},
			synthTensor{p + "attn_v.weight", gguf.TypeF32, []uint64{e, uint64(kvDim)}, rnd(s.embd*kvDim, sc)},
			synthTensor{p + "attn_output.weight", gguf.TypeF32, []uint64{e, e}, rnd(s.embd*s.embd, sc)},
			synthTensor{p + "ffn_norm.weight", gguf.TypeF32, []uint64{e}, ones(s.embd)},
			synthTensor{p + "ffn_gate.weight", gguf.TypeF32, []uint64{e, uint64(s.ff)}, rnd(s.embd*s.ff, sc)},
			synthTensor{p + "ffn_up.weight", gguf.TypeF32, []uint64{e, uint64(s.ff)}, rnd(s.embd*s.ff, sc)},
			synthTensor{p + "ffn_down.weight", gguf.TypeF32, []uint64{uint64(s.ff), e}, rnd(s.ff*s.embd, float32(1/math.Sqrt(float64(s.ff))))},
		)
		if s.arch == "qwen2" {
			ts = append(ts,
				synthTensor{p + "attn_q.bias", gguf.TypeF32, []uint64{e}, rnd(s.embd, 0.5)},
				synthTensor{p + "attn_k.bias", gguf.TypeF32, []uint64{uint64(kvDim)}, rnd(kvDim, 0.5)},
				synthTensor{p + "attn_v.bias", gguf.TypeF32, []uint64{uint64(kvDim)}, rnd(kvDim, 0.5)},
			)
		}
	}
	return kvs, ts
}

// naiveLogits is a direct float64 forward pass over all tokens at once.
func naiveLogits(s synthShape, ts []synthTensor, tokens []int32) [][]float64 {
	w := map[string][]float32{}
	for _, t := range ts {
		w[t.name] = t.data
	}
	hd := s.embd / s.heads
	kvDim := s.headsKV * hd
	matvec := func(m []float32, x []float64, rows int) []float64 {
		cols := len(x)
		out := make([]float64, rows)
		for r := range rows {
			for c := range cols {
				out[r] += float64(m[r*cols+c]) * x[c]
			}
		}
		return out
	}
	norm := func(x []float64, g []float32) []float64 {
		var ss float64
		for _, v := range x {
			ss += v * v
		}
		sc := 1 / math.Sqrt(ss/float64(len(x))+1e-5)
		out := make([]float64, len(x))
		for i, v := range x {
			out[i] = v * sc * float64(g[i])
		}
		return out
	}
	rope := func(v []float64, pos int) {
		for h := 0; h < len(v)/hd; h++ {
			x := v[h*hd : (h+1)*hd]
			for i := 0; i < hd/2; i++ {
				th := float64(pos) * math.Pow(float64(s.ropeBase), -2*float64(i)/float64(hd))
				a, b := 2*i, 2*i+1
				if s.arch == "qwen2" {
					a, b = i, i+hd/2
				}
				x0, x1 := x[a], x[b]
				x[a] = x0*math.Cos(th) - x1*math.Sin(th)
				x[b] = x0*math.Sin(th) + x1*math.Cos(th)
			}
		}
	}
	addB := func(x []float64, name string) {
		for i, b := range w[name] {
			x[i] += float64(b)
		}
	}
	T := len(tokens)
	x := make([][]float64, T)
	for t, id := range tokens {
		x[t] = make([]float64, s.embd)
		for i := range s.embd {
			x[t][i] = float64(w["token_embd.weight"][int(id)*s.embd+i])
		}
	}
	for il := range s.layers {
		p := "blk." + string(rune('0'+il)) + "."
		q, k, v := make([][]float64, T), make([][]float64, T), make([][]float64, T)
		for t := range T {
			xn := norm(x[t], w[p+"attn_norm.weight"])
			q[t], k[t], v[t] = matvec(w[p+"attn_q.weight"], xn, s.embd), matvec(w[p+"attn_k.weight"], xn, kvDim), matvec(w[p+"attn_v.weight"], xn, kvDim)
			addB(q[t], p+"attn_q.bias")
			addB(k[t], p+"attn_k.bias")
			addB(v[t], p+"attn_v.bias")
			rope(q[t], t)
			rope(k[t], t)
		}
		for t := range T {
			att := make([]float64, s.embd)
			for h := range s.heads {
				kvh := h / (s.heads / s.headsKV)
				sc := make([]float64, t+1)
				mx := math.Inf(-1)
				for p := range t + 1 {
					for d := range hd {
						sc[p] += q[t][h*hd+d] * k[p][kvh*hd+d]
					}
					sc[p] /= math.Sqrt(float64(hd))
					mx = max(mx, sc[p])
				}
				var sum float64
				for p := range sc {
					sc[p] = math.Exp(sc[p] - mx)
					sum += sc[p]
				}
				for p := range sc {
					for d := range hd {
						att[h*hd+d] += sc[p] / sum * v[p][kvh*hd+d]
					}
				}
			}
			o := matvec(w[p+"attn_output.weight"], att, s.embd)
			for i := range o {
				x[t][i] += o[i]
			}
			xn := norm(x[t], w[p+"ffn_norm.weight"])
			g, u := matvec(w[p+"ffn_gate.weight"], xn, s.ff), matvec(w[p+"ffn_up.weight"], xn, s.ff)
			for i := range g {
				g[i] = g[i] / (1 + math.Exp(-g[i])) * u[i]
			}
			d := matvec(w[p+"ffn_down.weight"], g, s.embd)
			for i := range d {
				x[t][i] += d[i]
			}
		}
	}
	out := make([][]float64, T)
	for t := range T {
		out[t] = matvec(w["output.weight"], norm(x[t], w["output_norm.weight"]), s.voc)
	}
	return out
}

func synthSettings(threads, ubatch int) planner.Settings {
	return planner.Settings{NCtx: 64, NUbatch: ubatch, CacheTypeK: "f32", CacheTypeV: "f32", MMap: true, Threads: threads}
}

// TestSynthArchitectures checks the llama and qwen2 forward passes, with
// prefill split into ubatches and rows split across threads, against the
// float64 re-implementation.
func TestSynthArchitectures(t *testing.T) {
	tokens := []int32{0, 5, 9, 3, 17, 2, 2, 8, 11, 23, 4, 6, 7}
	for _, arch := range []string{"llama", "qwen2"} {
		for _, cfg := range []struct{ threads, ubatch int }{{1, 512}, {3, 4}, {2, 1}} {
			s := tinyShape
			s.arch = arch
			kvs, ts := synthModel(s, 42)
			path := writeSynth(t, kvs, ts)
			want := naiveLogits(s, ts, tokens)
			m := openModel(t, path, synthSettings(cfg.threads, cfg.ubatch))
			got, err := m.Eval(context.Background(), tokens)
			if err != nil {
				t.Fatal(err)
			}
			var worst float64
			for p := range tokens {
				for i := range want[p] {
					worst = max(worst, math.Abs(float64(got[p][i])-want[p][i]))
				}
			}
			if worst > 1e-4 {
				t.Errorf("%s threads %d ubatch %d: max |Δlogit| %.3g vs float64, want <= 1e-4", arch, cfg.threads, cfg.ubatch, worst)
			}
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(kvs []synthKV, ts []synthTensor) ([]synthKV, []synthTensor)
		s      planner.Settings
		target error
		want   string
	}{
		{"architecture", func(kvs []synthKV, ts []synthTensor) ([]synthKV, []synthTensor) {
			for i := range kvs {
				kvs[i].key = strings.Replace(kvs[i].key, "llama.", "gemma.", 1)
			}
			kvs[0].val = "gemma"
			return kvs, ts
		}, synthSettings(1, 8), ErrArchitecture, `architecture "gemma" not supported by the built-in engine`},
		{"tensor type", func(kvs []synthKV, ts []synthTensor) ([]synthKV, []synthTensor) {
			ts[3].typ = gguf.TypeI32
			return kvs, ts
		}, synthSettings(1, 8), nil, "tensor blk.0.attn_norm.weight has type i32, not supported"},
		{"missing tensor", func(kvs []synthKV, ts []synthTensor) ([]synthKV, []synthTensor) {
			return kvs, ts[:len(ts)-1]
		}, synthSettings(1, 8), nil, "tensor blk.1.ffn_down.weight missing"},
		{"KV type", func(kvs []synthKV, ts []synthTensor) ([]synthKV, []synthTensor) { return kvs, ts },
			planner.Settings{CacheTypeK: "q8_0", MMap: true}, nil, "KV cache type q8_0 not supported"},
		{"huge context", func(kvs []synthKV, ts []synthTensor) ([]synthKV, []synthTensor) { return kvs, ts },
			planner.Settings{NCtx: 1 << 30, MMap: true}, nil, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tinyShape
			s.arch = "llama"
			kvs, ts := tt.edit(synthModel(s, 1))
			f, err := gguf.Open(writeSynth(t, kvs, ts))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			m, err := LoadSettings(context.Background(), tt.s, f)
			if err == nil {
				m.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) || tt.target != nil && !errors.Is(err, tt.target) {
				t.Errorf("error %q, want %q", err, tt.want)
			}
		})
	}
}

func TestEvalErrors(t *testing.T) {
	s := tinyShape
	s.arch = "llama"
	kvs, ts := synthModel(s, 3)
	m := openModel(t, writeSynth(t, kvs, ts), synthSettings(2, 8))
	ctx := context.Background()
	if _, err := m.Eval(ctx, []int32{int32(s.voc)}); err == nil || !strings.Contains(err.Error(), "out of the vocabulary") {
		t.Errorf("bad token: %v", err)
	}
	if _, err := m.Eval(ctx, make([]int32, 65)); err == nil || !strings.Contains(err.Error(), "do not fit the context") {
		t.Errorf("too long: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Eval(cancelled, []int32{1, 2}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	var got error
	for _, err := range m.Generate(cancelled, "abc", GenerateOptions{MaxTokens: 4}) {
		got = err
	}
	if !errors.Is(got, context.Canceled) {
		t.Errorf("cancelled Generate: %v", got)
	}
	// Generation stops at a full context with an error.
	n := 0
	for _, err := range m.Generate(ctx, "abcdefgh", GenerateOptions{IgnoreEOG: true}) {
		if err != nil {
			got = err
			break
		}
		n++
	}
	if got == nil || !strings.Contains(got.Error(), "context full") || m.Pos() != 64 {
		t.Errorf("after %d tokens, position %d: %v", n, m.Pos(), got)
	}
	// Stopping the iteration early is allowed.
	n = 0
	for _, err := range m.Generate(ctx, "cd", GenerateOptions{MaxTokens: 10, IgnoreEOG: true}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n == 3 {
			break
		}
	}
	if n != 3 {
		t.Errorf("stopped after %d tokens", n)
	}
}

// TestSampling checks that sampled generation is reproducible per seed and
// that greedy equals argmax of Eval.
func TestSampling(t *testing.T) {
	s := tinyShape
	s.arch = "qwen2"
	kvs, ts := synthModel(s, 9)
	m := openModel(t, writeSynth(t, kvs, ts), synthSettings(2, 8))
	ctx := context.Background()
	gen := func(o SampleOptions) []int32 {
		var ids []int32
		for tok, err := range m.Generate(ctx, "abc", GenerateOptions{MaxTokens: 20, IgnoreEOG: true, Sample: o}) {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, tok.ID)
		}
		return ids
	}
	greedy := gen(SampleOptions{})
	st := m.Stats()
	if st.Load <= 0 || st.Prefill <= 0 || st.FirstToken <= 0 || st.Decode <= 0 || st.PeakRSS == 0 ||
		st.GeneratedTokens != 20 || st.PrefillTokensPerSec() <= 0 || st.DecodeTokensPerSec() <= 0 {
		t.Errorf("stats %+v", st)
	}
	hot := SampleOptions{Temperature: 2, Seed: 5}
	if a, b := gen(hot), gen(hot); !equalIDs(a, b) {
		t.Errorf("same seed: %v then %v", a, b)
	}
	other := hot
	other.Seed = 6
	if a, b := gen(hot), gen(other); equalIDs(a, b) {
		t.Errorf("seeds 5 and 6 both gave %v", a)
	}
	// top-k 1 is greedy whatever the temperature.
	if k1 := gen(SampleOptions{Temperature: 2, TopK: 1, Seed: 3}); !equalIDs(greedy, k1) {
		t.Errorf("top-k 1 %v, greedy %v", k1, greedy)
	}
	// Greedy equals argmax of teacher-forced logits.
	m.Reset()
	prompt := m.Tokenizer().Encode("abc", true, true)
	l, err := m.Eval(ctx, prompt)
	if err != nil {
		t.Fatal(err)
	}
	last := l[len(l)-1]
	for i, id := range greedy {
		if a := argmax(last); a != id {
			t.Fatalf("step %d: argmax %d, greedy %d", i, a, id)
		}
		l, err := m.Eval(ctx, []int32{id})
		if err != nil {
			t.Fatal(err)
		}
		last = l[0]
	}
}

func TestSampler(t *testing.T) {
	logits := []float32{1, 5, 2, 4.9, -3}
	tests := []struct {
		name    string
		o       SampleOptions
		history []int32
		allowed []int32
	}{
		{"greedy", SampleOptions{}, nil, []int32{1}},
		{"penalty flips the top token", SampleOptions{RepeatPenalty: 1.1}, []int32{1}, []int32{3}},
		{"top-k 2", SampleOptions{Temperature: 5, TopK: 2}, nil, []int32{1, 3}},
		{"top-p", SampleOptions{Temperature: 5, TopP: 0.6}, nil, []int32{1, 3}},
		{"min-p", SampleOptions{Temperature: 5, MinP: 0.5}, nil, []int32{1, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[int32]bool{}
			for seed := range uint64(200) {
				o := tt.o
				o.Seed = seed
				id := newSampler(o).sample(append([]float32(nil), logits...), tt.history)
				seen[id] = true
			}
			for id := range seen {
				ok := false
				for _, a := range tt.allowed {
					ok = ok || a == id
				}
				if !ok {
					t.Errorf("sampled %d, allowed %v", id, tt.allowed)
				}
			}
			if len(seen) != len(tt.allowed) {
				t.Errorf("sampled %v over 200 seeds, want all of %v", seen, tt.allowed)
			}
		})
	}
}
