package exec

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/modelfit/modelfit/gguf"

	"github.com/modelfit/modelfit/mmapio"
	"github.com/modelfit/modelfit/quant"
)

// rowGrain is the fewest matrix rows worth handing to a worker.
const rowGrain = 16

// scratch is one worker's buffers.
type scratch struct {
	out    []float32 // MatMul tile output
	qAct   []byte    // one query head in the K cache type
	scores []float32
	pAct   []byte    // attention weights in the V cache type
	qF, pF []float32 // the same rounded to f16 and widened, for f16 caches
}

// buffers are the activations of one ubatch.
type buffers struct {
	x, xn, q, k, v, att, tmp []float32
	gate, up                 []float32
	logits                   []float32
	acts                     [3][]byte // one group's inputs, per activation type
	work                     []scratch
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// Reset empties the KV cache: the next Eval starts at position 0.
func (m *Model) Reset() { m.kv.n = 0 }

// Pos is the number of positions in the KV cache.
func (m *Model) Pos() int { return m.kv.n }

// Eval appends tokens to the sequence (after the positions already in the KV
// cache), processing them in ubatch-sized chunks, and returns the logits
// after every one of them: teacher forcing over a prompt.
func (m *Model) Eval(ctx context.Context, tokens []int32) ([][]float32, error) {
	out := make([][]float32, 0, len(tokens))
	err := m.eval(ctx, tokens, true, func(l []float32) { out = append(out, append([]float32(nil), l...)) })
	return out, err
}

// EvalLast appends tokens to the sequence like Eval but computes and returns
// only the logits after the last one, as a decode step or a prompt whose
// intermediate predictions are not wanted (llama.cpp's default batch).
func (m *Model) EvalLast(ctx context.Context, tokens []int32) ([]float32, error) {
	var out []float32
	err := m.eval(ctx, tokens, false, func(l []float32) { out = append(out[:0], l...) })
	return out, err
}

// eval runs tokens through the model chunk by chunk and passes the logits of
// each position (all, or only the last token's) to emit. The slice passed is
// reused.
func (m *Model) eval(ctx context.Context, tokens []int32, all bool, emit func([]float32)) error {
	if len(tokens) == 0 {
		return nil
	}
	if m.kv.n+len(tokens) > m.kv.nCtx {
		return fmt.Errorf("exec: %d tokens do not fit the context (%d of %d used)", len(tokens), m.kv.n, m.kv.nCtx)
	}
	for _, t := range tokens {
		if t < 0 || int(t) >= m.hp.nVocab {
			return fmt.Errorf("exec: token %d out of the vocabulary (%d)", t, m.hp.nVocab)
		}
	}
	ub := m.settings.NUbatch
	for i := 0; i < len(tokens); i += ub {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunk := tokens[i:min(i+ub, len(tokens))]
		last := i+ub >= len(tokens)
		err := mmapio.Guard(func() error { return m.forward(chunk, all || last, all) })
		if err != nil {
			return fmt.Errorf("exec: %w", err)
		}
		if all || last {
			nv := m.hp.nVocab
			for t := range len(chunk) {
				if !all && t != len(chunk)-1 {
					continue
				}
				r := t
				if !all {
					r = 0
				}
				emit(m.buf.logits[r*nv : (r+1)*nv])
			}
		}
	}
	return nil
}

// forward runs one ubatch at the next positions. With logits set it leaves
// the logits of all tokens (all) or of the last one in m.buf.logits.
func (m *Model) forward(tokens []int32, logits, all bool) error {
	hp := &m.hp
	T := len(tokens)
	pos0 := m.kv.n
	qDim, kvDim := hp.nHead*hp.headDim, hp.nHeadKV*hp.headDim
	b := &m.buf
	b.x = grow(b.x, T*hp.nEmbd)
	b.xn = grow(b.xn, T*hp.nEmbd)
	b.q = grow(b.q, T*qDim)
	b.k = grow(b.k, T*kvDim)
	b.v = grow(b.v, T*kvDim)
	b.att = grow(b.att, T*qDim)
	b.tmp = grow(b.tmp, T*hp.nEmbd)
	b.gate = grow(b.gate, T*hp.nFF)
	b.up = grow(b.up, T*hp.nFF)
	if len(b.work) != m.pool.n {
		b.work = make([]scratch, m.pool.n)
	}

	for t, id := range tokens {
		e := m.embd
		if err := quant.DequantizeRow(e.typ, e.data[int(id)*e.rowBytes:], b.x[t*hp.nEmbd:(t+1)*hp.nEmbd]); err != nil {
			return err
		}
	}
	for il := range m.layers {
		l := &m.layers[il]
		if err := m.acquireLayer(l); err != nil {
			return err
		}
		err := m.layer(il, l, pos0, T)
		m.releaseLayer(l)
		if err != nil {
			return err
		}
	}
	m.kv.n += T
	if !logits {
		return nil
	}
	x, n := b.x, T
	if !all {
		x, n = b.x[(T-1)*hp.nEmbd:], 1
	}
	rmsNorm(b.xn[:n*hp.nEmbd], x, m.outNorm, hp.nEmbd, hp.eps)
	b.logits = grow(b.logits, n*hp.nVocab)
	return m.matmul(m.output, b.logits, b.xn[:n*hp.nEmbd], n)
}

// layer runs layer il for the T tokens at pos0.. on m.buf.x.
func (m *Model) layer(il int, l *layer, pos0, T int) error {
	hp := &m.hp
	b := &m.buf
	qDim, kvDim := hp.nHead*hp.headDim, hp.nHeadKV*hp.headDim
	rmsNorm(b.xn, b.x, l.attnNorm, hp.nEmbd, hp.eps)
	if err := m.matmuls(b.xn, T, nil, mm{l.wq, b.q}, mm{l.wk, b.k}, mm{l.wv, b.v}); err != nil {
		return err
	}
	addBias(b.q, l.bq)
	addBias(b.k, l.bk)
	addBias(b.v, l.bv)
	for t := range T {
		pos := pos0 + t
		m.rope(b.q[t*qDim:(t+1)*qDim], hp.nHead, pos)
		m.rope(b.k[t*kvDim:(t+1)*kvDim], hp.nHeadKV, pos)
		m.kv.store(il, pos, b.k[t*kvDim:(t+1)*kvDim], b.v[t*kvDim:(t+1)*kvDim])
	}
	if err := m.attention(il, pos0, T); err != nil {
		return err
	}
	if err := m.matmul(l.wo, b.tmp, b.att, T); err != nil {
		return err
	}
	add(b.x, b.tmp)

	rmsNorm(b.xn, b.x, l.ffnNorm, hp.nEmbd, hp.eps)
	if l.gate.rows != l.up.rows {
		return fmt.Errorf("exec: %s and %s differ in rows", l.gate.name, l.up.name)
	}
	nFF := hp.nFF
	glu := func(r0, r1 int) {
		for t := range T {
			swigluRange(b.gate[t*nFF:(t+1)*nFF], b.up[t*nFF:(t+1)*nFF], r0, r1)
		}
	}
	if err := m.matmuls(b.xn, T, glu, mm{l.gate, b.gate}, mm{l.up, b.up}); err != nil {
		return err
	}
	if err := m.matmul(l.down, b.tmp, b.gate, T); err != nil {
		return err
	}
	add(b.x, b.tmp)
	return nil
}

// mm is one matrix product of a group that shares its input.
type mm struct {
	w   weight
	dst []float32
}

// matmul computes dst[t*rows+r] = w row r · x row t for nTok tokens.
func (m *Model) matmul(w weight, dst, x []float32, nTok int) error {
	return m.matmuls(x, nTok, nil, mm{w, dst})
}

// matmuls computes the products of a group of matrices with the same input
// x (Q, K and V; gate and up): x is quantized once per activation type, and
// one parallel loop covers all of them, split over the workers by weight
// bytes rather than rows so that a Q6_K matrix beside Q4_K ones does not
// leave a worker behind. With then set, the matrices must have the same
// rows: each worker computes the same rows [r0, r1) of every one and then
// calls then(r0, r1), so that an elementwise step over those outputs (SwiGLU)
// needs no loop of its own.
func (m *Model) matmuls(x []float32, nTok int, then func(r0, r1 int), ops ...mm) error {
	b := &m.buf
	cols := ops[0].w.cols
	var acts [len(b.acts)][]byte
	var total int
	for i, op := range ops {
		at, err := quant.ActType(op.w.typ)
		if err != nil {
			return fmt.Errorf("%s: %w", op.w.name, err)
		}
		total += op.w.rows * op.w.rowBytes
		for j := range i {
			if a, _ := quant.ActType(ops[j].w.typ); a == at {
				acts[i] = acts[j]
			}
		}
		if acts[i] != nil {
			continue
		}
		rb, _ := at.RowBytes(uint64(cols))
		ab := int(rb)
		b.acts[i] = grow(b.acts[i], ab*nTok)
		for t := range nTok {
			if err := quant.QuantizeAct(op.w.typ, x[t*cols:(t+1)*cols], b.acts[i][t*ab:(t+1)*ab]); err != nil {
				return fmt.Errorf("%s: %w", op.w.name, err)
			}
		}
		acts[i] = b.acts[i]
	}
	parts := min(m.pool.n, max(1, total/(rowGrain*ops[0].w.rowBytes)))
	if then != nil {
		rows := ops[0].w.rows
		return m.pool.split(parts, func(wk, r0, r1 int) {
			for i, op := range ops {
				m.matRows(wk, op.w, op.dst, acts[i], nTok, r0, r1)
			}
			then(r0, r1)
		}, func(w int) (int, int) { return w * rows / parts, (w + 1) * rows / parts })
	}
	// Workers take contiguous byte ranges of the group's weights; a row
	// belongs to the worker whose range holds its first byte.
	return m.pool.split(parts, func(wk, lo, hi int) {
		off := 0
		for i, op := range ops {
			w := op.w
			size := w.rows * w.rowBytes
			r0 := min(w.rows, max(0, (lo-off+w.rowBytes-1)/w.rowBytes))
			r1 := min(w.rows, max(0, (hi-off+w.rowBytes-1)/w.rowBytes))
			off += size
			if r0 >= r1 {
				continue
			}
			m.matRows(wk, w, op.dst, acts[i], nTok, r0, r1)
		}
	}, func(w int) (int, int) { return w * total / parts, (w + 1) * total / parts })
}

// matRows computes rows [lo, hi) of one product on worker wk.
func (m *Model) matRows(wk int, w weight, dst []float32, acts []byte, nTok, lo, hi int) {
	wts := w.data[lo*w.rowBytes : hi*w.rowBytes]
	if nTok == 1 {
		quant.MatVec(w.typ, dst[lo:hi], wts, acts, w.cols)
		return
	}
	s := &m.buf.work[wk]
	n := hi - lo
	s.out = grow(s.out, n*nTok)
	quant.MatMul(w.typ, s.out, wts, acts, w.cols, nTok)
	for t := range nTok {
		copy(dst[t*w.rows+lo:t*w.rows+hi], s.out[t*n:(t+1)*n])
	}
}

// attention computes b.att for the T tokens at pos0.. from the KV cache:
// causal softmax attention per head, KV heads shared by groups of query heads.
// Like ggml without flash attention, queries are rounded to the K cache type
// and the softmax weights to the V cache type before their dot products.
func (m *Model) attention(il, pos0, T int) error {
	hp := &m.hp
	kv := m.kv
	b := &m.buf
	qDim := hp.nHead * hp.headDim
	group := hp.nHead / hp.nHeadKV
	scale := float32(1 / math.Sqrt(float64(hp.headDim)))
	hd := hp.headDim
	fastK := kv.kt == gguf.TypeF16 && hd%vecLanes == 0
	fastV := kv.vt == gguf.TypeF16
	kStride, vStride := 2*kv.kvDim, 2*kv.nCtx
	return m.pool.run(T*hp.nHead, 1, func(wk, lo, hi int) {
		s := &b.work[wk]
		s.qAct = grow(s.qAct, hd*int(kv.kt.BlockBytes()))
		for task := lo; task < hi; task++ {
			t, h := task/hp.nHead, task%hp.nHead
			kvh := h / group
			n := pos0 + t + 1 // causal: positions 0..pos
			q := b.q[t*qDim+h*hd : t*qDim+(h+1)*hd]
			_ = quant.QuantizeAct(kv.kt, q, s.qAct)
			// Like llama.cpp, attend over the KV cells padded to 32, the
			// masked ones getting zero weight: the padding decides which
			// exponentials take ggml's vector path.
			nkv := min(kv.nCtx, (n+31)/32*32)
			s.scores = grow(s.scores, nkv)
			switch {
			case fastK:
				s.qF = widenF16(s.qF, s.qAct)
				laneDots(kv.k[il][2*kvh*hd:], kStride, s.qF, s.scores[:min(n, nkv)])
				for p := range s.scores {
					if p < n {
						s.scores[p] *= scale
					} else {
						s.scores[p] = float32(math.Inf(-1))
					}
				}
			default:
				for p := range nkv {
					if p >= n {
						s.scores[p] = float32(math.Inf(-1))
						continue
					}
					s.scores[p] = m.qk(kv.kRow(il, p, kvh, hd), s.qAct, hd) * scale
				}
			}
			softmaxInPlace(s.scores)
			s.pAct = grow(s.pAct, nkv*int(kv.vt.BlockBytes()))
			_ = quant.QuantizeAct(kv.vt, s.scores, s.pAct)
			out := b.att[t*qDim+h*hd : t*qDim+(h+1)*hd]
			// The masked cells add exact zeros to tinyBLAS's lanes: stop at
			// the first whole vector past the causal end.
			nv := min(nkv, (n+vecLanes-1)/vecLanes*vecLanes)
			if fastV && nv%vecLanes == 0 {
				s.pF = widenF16(s.pF, s.pAct[:2*nv])
				laneDots(kv.v[il][2*kvh*hd*kv.nCtx:], vStride, s.pF, out)
				continue
			}
			for d := range hd {
				vr := kv.vRow(il, kvh*hd+d, nv)
				r, ok := gemmDot(kv.vt, vr, s.pAct, nv)
				if !ok {
					r = quant.Dot(kv.vt, kv.vRow(il, kvh*hd+d, nkv), s.pAct, nkv)
				}
				out[d] = r
			}
		}
	})
}

// qk is one attention score before scaling. ggml takes tinyBLAS for it only
// when the query had to be converted to the K cache type (f16), as the
// permuted f32 query is not contiguous; otherwise its vec_dot.
func (m *Model) qk(k, q []byte, hd int) float32 {
	if m.kv.kt == gguf.TypeF16 {
		if r, ok := gemmDot(m.kv.kt, k, q, hd); ok {
			return r
		}
	}
	if m.kv.kt == gguf.TypeF32 && hd < 4*vecLanes {
		// ggml_vec_dot_f32 below one step of its SIMD loop: the compiler
		// fuses the leftover loop's multiply-adds in float32.
		var s float32
		for i := 0; i < hd; i++ {
			x := math.Float32frombits(binary.LittleEndian.Uint32(k[4*i:]))
			y := math.Float32frombits(binary.LittleEndian.Uint32(q[4*i:]))
			s = fma32(x, y, s)
		}
		return s
	}
	return quant.Dot(m.kv.kt, k, q, hd)
}

// rope rotates each of the nh heads in x (head-major) for position pos:
// adjacent pairs (llama) or pairs half the rotated dimensions apart (NeoX),
// angles computed in float32 as ggml's rope cache does.
func (m *Model) rope(x []float32, nh, pos int) {
	hp := &m.hp
	nd := hp.ropeDims
	thetaScale := float32(math.Pow(float64(hp.ropeBase), -2/float64(nd)))
	theta := float32(pos)
	for i0 := 0; i0 < nd; i0 += 2 {
		ff := float32(1)
		if m.ropeFreqs != nil {
			ff = m.ropeFreqs[i0/2]
		}
		th := hp.ropeScale * (theta / ff)
		c, s := float32(math.Cos(float64(th))), float32(math.Sin(float64(th)))
		theta *= thetaScale
		for h := range nh {
			v := x[h*hp.headDim : (h+1)*hp.headDim]
			a, bIdx := i0, i0+1
			if hp.neox {
				a, bIdx = i0/2, i0/2+nd/2
			}
			x0, x1 := v[a], v[bIdx]
			v[a] = x0*c - x1*s
			v[bIdx] = x0*s + x1*c
		}
	}
}

// rmsNorm writes x / rms(x) * w for each row of n values, summing squares in
// float64 as ggml does.
func rmsNorm(dst, x, w []float32, n int, eps float32) {
	for r := 0; r+n <= len(x) && r+n <= len(dst); r += n {
		var sum float64
		for _, v := range x[r : r+n] {
			sum += float64(v * v)
		}
		mean := float32(sum / float64(n))
		scale := 1 / float32(math.Sqrt(float64(mean+eps)))
		for i, v := range x[r : r+n] {
			dst[r+i] = v * scale * w[i]
		}
	}
}

func add(dst, src []float32) {
	for i, v := range src {
		dst[i] += v
	}
}

// addBias adds bias to every row of x.
func addBias(x, bias []float32) {
	if bias == nil {
		return
	}
	for r := 0; r+len(bias) <= len(x); r += len(bias) {
		add(x[r:r+len(bias)], bias)
	}
}

// widenF16 converts the f16 values in b to float32, reusing dst.
func widenF16(dst []float32, b []byte) []float32 {
	dst = grow(dst, len(b)/2)
	for i := range dst {
		dst[i] = quant.F16ToF32(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return dst
}
