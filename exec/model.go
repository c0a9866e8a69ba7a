// Package exec is the built-in CPU inference engine: it runs a plan on a
// GGUF model of the llama family (llama, Mistral, TinyLlama, qwen2) in pure
// Go, reading the weights in their stored type straight from the mapping and
// computing the way ggml's CPU backend does (activations quantized to the
// weight's vec_dot type, f16 KV cache), so its logits track llama.cpp's.
package exec

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/mmapio"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/quant"
	"github.com/modelfit/modelfit/tokenizer"
)

// ErrArchitecture is returned (wrapped) for a model the engine cannot run;
// llama.cpp may still run its plan.
var ErrArchitecture = errors.New("not supported by the built-in engine")

// maxCacheBytes bounds the KV cache a plan may ask for.
const maxCacheBytes = 1 << 40

// weight is one matrix in its stored type: rows of cols elements.
type weight struct {
	name       string
	typ        gguf.Type
	rows, cols int
	rowBytes   int
	data       []byte
	part       int   // file part of the data
	off        int64 // file offset of the data
}

type layer struct {
	attnNorm, ffnNorm []float32
	bq, bk, bv        []float32 // qwen2's biases; nil for llama
	wq, wk, wv, wo    weight
	gate, up, down    weight
	stream            int // index of the layer's range in Model.stream, or -1 when resident
}

// hparams are the shapes and constants of the forward pass.
type hparams struct {
	arch                  string
	nEmbd, nLayer, nVocab int
	nHead, nHeadKV        int
	headDim               int
	nFF                   int
	eps                   float32
	ropeDims              int
	ropeBase              float32
	ropeScale             float32 // llama.cpp's freq_scale: 1/factor for linear scaling
	neox                  bool
}

// Model is a loaded model ready to evaluate tokens. Its methods are not safe
// for concurrent use; Close it when done.
type Model struct {
	settings planner.Settings
	hp       hparams
	tok      *tokenizer.Tokenizer
	src      mmapio.Source

	embd      weight
	outNorm   []float32
	output    weight
	layers    []layer
	ropeFreqs []float32 // per-dimension-pair divisors (rope_freqs.weight), or nil

	kv         *kvCache
	stream     *mmapio.Stream // the layers read from disk every token, or nil
	streamPlan StreamStats
	buf        buffers
	pool       *pool
	stats      Stats

	closeOnce sync.Once
}

// Load loads f to run with the plan's settings (context, ubatch, KV cache
// type, threads, mmap, mlock).
func Load(ctx context.Context, plan *planner.Plan, f *gguf.File) (*Model, error) {
	if plan == nil {
		return nil, errors.New("exec: nil plan")
	}
	return LoadSettings(ctx, plan.Settings, f)
}

// LoadSettings is Load with the settings given directly.
func LoadSettings(ctx context.Context, s planner.Settings, f *gguf.File) (m *Model, err error) {
	start := time.Now()
	if f == nil {
		return nil, errors.New("exec: nil model file")
	}
	hp, err := readHParams(f)
	if err != nil {
		return nil, err
	}
	// The loader's shape check, shared with the planner and plan inspect.
	if err := f.CheckShapes(); err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	if s.NCtx <= 0 {
		s.NCtx = 4096
	}
	if s.NUbatch <= 0 {
		s.NUbatch = 512
	}
	if s.NBatch > 0 && s.NUbatch > s.NBatch {
		s.NUbatch = s.NBatch
	}
	s.Threads = max(s.Threads, 1)
	kt, err := cacheType(s.CacheTypeK)
	if err != nil {
		return nil, err
	}
	vt, err := cacheType(s.CacheTypeV)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	paths := make([]string, len(f.Parts))
	for i, p := range f.Parts {
		if p.Path == "" || strings.Contains(p.Path, "://") {
			return nil, fmt.Errorf("exec: part %d of the model is not a local file (%q)", i, p.Path)
		}
		paths[i] = p.Path
	}
	var src mmapio.Source
	if s.MMap {
		src, err = mmapio.Map(paths, mmapio.Options{Mlock: s.MLock})
	} else {
		src, err = mmapio.Read(ctx, paths, mmapio.RangesOf(f.Tensors), nil)
	}
	if err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	m = &Model{settings: s, hp: hp, tok: tok, src: src}
	built := m // the named result is nil by the time an error return defers
	defer func() {
		if err != nil {
			built.Close()
		}
	}()
	if err := mmapio.Guard(func() error { return m.bind(f) }); err != nil {
		return nil, err
	}
	m.kv, err = newKVCache(hp, s.NCtx, kt, vt)
	if err != nil {
		return nil, err
	}
	if s.MMap && s.StreamWeights {
		if err := m.planStream(ctx, paths); err != nil {
			return nil, err
		}
	}
	m.pool = newPool(s.Threads)
	m.stats.Load = time.Since(start)
	return m, nil
}

// cacheType maps a KV cache type name to the types the engine stores.
func cacheType(name string) (gguf.Type, error) {
	if name == "" {
		return gguf.TypeF16, nil
	}
	t, ok := gguf.ParseType(name)
	if !ok {
		return 0, fmt.Errorf("exec: unknown KV cache type %q", name)
	}
	switch t {
	case gguf.TypeF16, gguf.TypeF32, gguf.TypeBF16:
		return t, nil
	}
	return 0, fmt.Errorf("exec: KV cache type %v not supported by the built-in engine (f16, bf16 or f32)", t)
}

func readHParams(f *gguf.File) (hparams, error) {
	h := f.HParams()
	hp := hparams{arch: h.Architecture}
	switch h.Architecture {
	case "llama":
	case "qwen2":
		hp.neox = true
	default:
		return hp, fmt.Errorf("exec: architecture %q %w (llama and qwen2 are)", h.Architecture, ErrArchitecture)
	}
	if h.ExpertCount > 0 {
		return hp, fmt.Errorf("exec: mixture-of-experts %s model %w", h.Architecture, ErrArchitecture)
	}
	const limit = 1 << 20
	ok := func(v uint64) bool { return v > 0 && v < limit }
	if !ok(h.EmbeddingLength) || h.BlockCount <= 0 || h.BlockCount > 4096 || !ok(h.HeadCount.At(0)) || !ok(h.HeadCountKV.At(0)) {
		return hp, fmt.Errorf("exec: bad hyperparameters (n_embd %d, layers %d, heads %d/%d)",
			h.EmbeddingLength, h.BlockCount, h.HeadCount.At(0), h.HeadCountKV.At(0))
	}
	hp.nEmbd, hp.nLayer = int(h.EmbeddingLength), h.BlockCount
	hp.nHead, hp.nHeadKV = int(h.HeadCount.At(0)), int(h.HeadCountKV.At(0))
	for il := range hp.nLayer {
		if int(h.HeadCount.At(il)) != hp.nHead || int(h.HeadCountKV.At(il)) != hp.nHeadKV {
			return hp, errors.New("exec: per-layer head counts are not supported")
		}
	}
	if hp.nHead%hp.nHeadKV != 0 {
		return hp, fmt.Errorf("exec: %d heads are not a multiple of %d KV heads", hp.nHead, hp.nHeadKV)
	}
	// The head size is n_embd/n_head unless the file says otherwise (Mistral
	// Nemo's 128 with n_embd 5120 and 32 heads).
	hp.headDim = hp.nEmbd / hp.nHead
	if h.KeyLength != 0 {
		hp.headDim = int(h.KeyLength)
	}
	if hp.headDim <= 0 || hp.headDim > 1<<12 || h.ValueLength != 0 && int(h.ValueLength) != hp.headDim {
		return hp, fmt.Errorf("exec: key/value length %d/%d not supported", h.KeyLength, h.ValueLength)
	}
	hp.nFF = int(h.FeedForwardLength.At(0))
	hp.eps = float32(h.RMSEpsilon)
	if hp.eps == 0 {
		hp.eps = 1e-5
	}
	hp.ropeDims = hp.headDim
	if h.RopeDimensionCount != 0 {
		hp.ropeDims = int(h.RopeDimensionCount)
	}
	if hp.ropeDims > hp.headDim || hp.ropeDims%2 != 0 {
		return hp, fmt.Errorf("exec: rope dimension count %d does not fit head size %d", hp.ropeDims, hp.headDim)
	}
	hp.ropeBase = float32(h.RopeFreqBase)
	if hp.ropeBase == 0 {
		hp.ropeBase = 10000
	}
	hp.ropeScale = 1
	switch h.RopeScalingType {
	case "", "none":
	case "linear":
		if h.RopeScalingFactor > 0 {
			hp.ropeScale = float32(1 / h.RopeScalingFactor)
		}
	default:
		return hp, fmt.Errorf("exec: rope scaling %q not supported by the built-in engine", h.RopeScalingType)
	}
	return hp, nil
}

// bind resolves every tensor the forward pass needs to its bytes, checking
// type and shape.
func (m *Model) bind(f *gguf.File) error {
	byName := make(map[string]*gguf.Tensor, len(f.Tensors))
	for i := range f.Tensors {
		byName[f.Tensors[i].Name] = &f.Tensors[i]
	}
	hp := &m.hp
	var err error
	mat := func(name string, cols, rows int) weight {
		if err != nil {
			return weight{}
		}
		var w weight
		w, err = m.matrix(byName, name, cols, rows)
		return w
	}
	vec := func(name string, n int, optional bool) []float32 {
		if err != nil {
			return nil
		}
		if optional && byName[name] == nil {
			return nil
		}
		var w weight
		if w, err = m.matrix(byName, name, n, 1); err != nil {
			return nil
		}
		v := make([]float32, n)
		err = quant.DequantizeRow(w.typ, w.data, v)
		return v
	}
	embd := byName["token_embd.weight"]
	if embd == nil || len(embd.Shape) != 2 {
		return errors.New("exec: token_embd.weight missing or not a matrix")
	}
	if embd.Shape[1] == 0 || embd.Shape[1] > 1<<24 {
		return fmt.Errorf("exec: bad vocabulary size %d", embd.Shape[1])
	}
	hp.nVocab = int(embd.Shape[1])
	m.embd = mat("token_embd.weight", hp.nEmbd, hp.nVocab)
	m.outNorm = vec("output_norm.weight", hp.nEmbd, false)
	if byName["output.weight"] != nil {
		m.output = mat("output.weight", hp.nEmbd, hp.nVocab)
	} else {
		m.output = m.embd // tied embeddings
	}
	if t := byName["rope_freqs.weight"]; t != nil {
		m.ropeFreqs = vec("rope_freqs.weight", hp.ropeDims/2, false)
	}
	qDim, kvDim := hp.nHead*hp.headDim, hp.nHeadKV*hp.headDim
	m.layers = make([]layer, hp.nLayer)
	for il := range m.layers {
		p := fmt.Sprintf("blk.%d.", il)
		l := &m.layers[il]
		l.stream = -1
		l.attnNorm = vec(p+"attn_norm.weight", hp.nEmbd, false)
		l.wq = mat(p+"attn_q.weight", hp.nEmbd, qDim)
		l.wk = mat(p+"attn_k.weight", hp.nEmbd, kvDim)
		l.wv = mat(p+"attn_v.weight", hp.nEmbd, kvDim)
		l.wo = mat(p+"attn_output.weight", qDim, hp.nEmbd)
		l.bq = vec(p+"attn_q.bias", qDim, true)
		l.bk = vec(p+"attn_k.bias", kvDim, true)
		l.bv = vec(p+"attn_v.bias", kvDim, true)
		l.ffnNorm = vec(p+"ffn_norm.weight", hp.nEmbd, false)
		if err == nil && hp.nFF == 0 {
			if t := byName[p+"ffn_gate.weight"]; t != nil && len(t.Shape) == 2 {
				hp.nFF = int(min(t.Shape[1], 1<<24))
			}
		}
		l.gate = mat(p+"ffn_gate.weight", hp.nEmbd, hp.nFF)
		l.up = mat(p+"ffn_up.weight", hp.nEmbd, hp.nFF)
		l.down = mat(p+"ffn_down.weight", hp.nFF, hp.nEmbd)
	}
	return err
}

// matrix checks one tensor's type and shape and takes its bytes.
func (m *Model) matrix(byName map[string]*gguf.Tensor, name string, cols, rows int) (weight, error) {
	t := byName[name]
	if t == nil {
		return weight{}, fmt.Errorf("exec: tensor %s missing", name)
	}
	if !quant.Supported(t.Type) {
		return weight{}, fmt.Errorf("exec: tensor %s has type %v, not supported by the built-in engine", name, t.Type)
	}
	shapeOK := len(t.Shape) >= 1 && t.Shape[0] == uint64(cols)
	for i, d := range t.Shape[1:] {
		want := uint64(1)
		if i == 0 {
			want = uint64(rows)
		}
		shapeOK = shapeOK && d == want
	}
	if !shapeOK || len(t.Shape) == 1 && rows != 1 {
		return weight{}, fmt.Errorf("exec: tensor %s has shape %v, want [%d %d]", name, t.Shape, cols, rows)
	}
	rb, ok := t.Type.RowBytes(uint64(cols))
	if !ok || rb*uint64(rows) != uint64(t.Size) {
		return weight{}, fmt.Errorf("exec: tensor %s: %d bytes do not hold %d rows of %d %v values", name, t.Size, rows, cols, t.Type)
	}
	b, err := m.src.Bytes(t.Part, t.Offset, t.Size)
	if err != nil {
		return weight{}, fmt.Errorf("exec: tensor %s: %w", name, err)
	}
	return weight{name: name, typ: t.Type, rows: rows, cols: cols, rowBytes: int(rb), data: b, part: t.Part, off: t.Offset}, nil
}

// Tokenizer is the model's tokenizer.
func (m *Model) Tokenizer() *tokenizer.Tokenizer { return m.tok }

// Settings are the settings the model runs with (defaults filled in).
func (m *Model) Settings() planner.Settings { return m.settings }

// VocabSize is the number of logits per position.
func (m *Model) VocabSize() int { return m.hp.nVocab }

// Close stops the workers and releases the weights.
func (m *Model) Close() error {
	var err error
	m.closeOnce.Do(func() {
		if m.pool != nil {
			m.pool.close()
		}
		if m.stream != nil {
			m.stream.Close()
		}
		if m.src != nil {
			err = m.src.Close()
		}
	})
	return err
}
