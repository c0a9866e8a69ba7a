// Package quant holds the weight formats of the CPU engine: dequantization,
// activation quantization and dot products for the ggml types, computed the
// way ggml's CPU backend computes them.
//
// A matrix-vector product with weights of type w follows ggml: the activation
// row is first converted to ActType(w) (ggml's vec_dot_type: q8_0 for q4_0,
// q5_0, q8_0 and iq4_nl; q8_1 for q4_1 and q5_1; q8_K for the K-quants; the
// weight type itself for f32, f16 and bf16) by QuantizeAct, then each weight
// row is dotted with it by Dot, MatVec or MatMul. Weights are read in place
// (from the mmap); nothing is dequantized whole.
//
// Every type has a pure-Go scalar reference (DotRef), used off amd64 and as
// the ground truth in tests. On amd64 with AVX2, FMA and F16C every supported
// type has an assembly kernel that reproduces ggml's x86 code: the same
// integer sum in each of eight 32-bit lanes per block, the same FMA
// accumulators and horizontal-sum order (16-lane AVX-512 ones for f32 and
// f16 where the CPU has AVX-512F, as ggml built with -march=native uses), so
// Dot equals ggml's vec_dot bit for bit on the golden rows in
// testdata/dequant. The activation quantizers are byte-identical to ggml's.
// Against the scalar reference the fast kernels differ only by float
// summation order (tested within 2e-6 of the sum of |products|). MatMul has
// four-token kernels for every type but iq4_nl and bf16 (f32 and f16 only
// with AVX-512) that read each weight block once for four activation rows,
// bit-identical to Dot. Build with -tags purego to force the reference.
// Nothing in this package starts goroutines: callers split rows across
// threads (MatVec and MatMul over a sub-range of rows are valid).
package quant

import (
	"errors"
	"fmt"
	"math"

	"github.com/modelfit/modelfit/gguf"
)

// ErrUnsupported is returned for a tensor type the engine cannot compute with.
var ErrUnsupported = errors.New("quant: unsupported type")

// actTypes maps each supported weight type to its vec_dot_type.
var actTypes = map[gguf.Type]gguf.Type{
	gguf.TypeF32:    gguf.TypeF32,
	gguf.TypeF16:    gguf.TypeF16,
	gguf.TypeBF16:   gguf.TypeBF16,
	gguf.TypeQ8_0:   gguf.TypeQ8_0,
	gguf.TypeQ4_0:   gguf.TypeQ8_0,
	gguf.TypeQ5_0:   gguf.TypeQ8_0,
	gguf.TypeIQ4_NL: gguf.TypeQ8_0,
	gguf.TypeQ4_1:   gguf.TypeQ8_1,
	gguf.TypeQ5_1:   gguf.TypeQ8_1,
	gguf.TypeQ2_K:   gguf.TypeQ8_K,
	gguf.TypeQ3_K:   gguf.TypeQ8_K,
	gguf.TypeQ4_K:   gguf.TypeQ8_K,
	gguf.TypeQ5_K:   gguf.TypeQ8_K,
	gguf.TypeQ6_K:   gguf.TypeQ8_K,
}

// Supported reports whether the engine supports weight type t.
func Supported(t gguf.Type) bool { _, ok := actTypes[t]; return ok }

// layout is what the hot path needs to know about a supported weight type,
// in an array so that Dot costs no map lookups.
type layout struct {
	ok         bool
	blockSize  int // elements per block (same for the activation type)
	blockBytes int // weight bytes per block
	actBytes   int // activation bytes per block
}

var layouts = func() (l [64]layout) {
	for w, a := range actTypes {
		l[w] = layout{true, int(w.BlockSize()), int(w.BlockBytes()), int(a.BlockBytes())}
	}
	return l
}()

// SupportedTypes lists the supported weight types in id order.
func SupportedTypes() []gguf.Type {
	var ts []gguf.Type
	for _, t := range gguf.Types() {
		if Supported(t) {
			ts = append(ts, t)
		}
	}
	return ts
}

// ActType is the type activations are converted to before a dot with
// weights of type w (ggml's vec_dot_type).
func ActType(w gguf.Type) (gguf.Type, error) {
	a, ok := actTypes[w]
	if !ok {
		return 0, fmt.Errorf("%w: %v", ErrUnsupported, w)
	}
	return a, nil
}

// rowBytes is RowBytes(n) for a type known to the table, or -1 when n is not a
// whole number of blocks.
func rowBytes(t gguf.Type, n int) int {
	if n < 0 {
		return -1
	}
	b, ok := t.RowBytes(uint64(n))
	if !ok || b > math.MaxInt32*16 {
		return -1
	}
	return int(b)
}

// QuantizeAct converts the n=len(x) activations to ActType(w) into dst, which
// must hold exactly ActType(w).RowBytes(n) bytes.
func QuantizeAct(w gguf.Type, x []float32, dst []byte) error {
	a, err := ActType(w)
	if err != nil {
		return err
	}
	want := rowBytes(a, len(x))
	if want < 0 {
		return fmt.Errorf("quant: %d activations are not a whole number of %v blocks", len(x), a)
	}
	if len(dst) != want {
		return fmt.Errorf("quant: %v activation buffer is %d bytes, want %d", a, len(dst), want)
	}
	quantizeAct(a, x, dst)
	return nil
}

func quantizeAct(a gguf.Type, x []float32, dst []byte) {
	switch a {
	case gguf.TypeF32:
		for i, v := range x {
			putU32(dst[4*i:], math.Float32bits(v))
		}
	case gguf.TypeF16:
		f32ToF16Row(x, dst)
	case gguf.TypeBF16:
		for i, v := range x {
			putU16(dst[2*i:], F32ToBF16(v))
		}
	case gguf.TypeQ8_0:
		quantizeQ8_0(x, dst)
	case gguf.TypeQ8_1:
		quantizeQ8_1(x, dst)
	case gguf.TypeQ8_K:
		quantizeQ8K(x, dst)
	}
}

// checkDot validates the operands of a dot product and returns the number of
// blocks, or -1.
func checkDot(w gguf.Type, row, act []byte, n int) int {
	if w >= gguf.Type(len(layouts)) || n < 0 {
		return -1
	}
	l := &layouts[w]
	if !l.ok || n%l.blockSize != 0 {
		return -1
	}
	nb := n / l.blockSize
	// Compare in uint64 so that a huge n cannot overflow.
	if uint64(len(row)) < uint64(nb)*uint64(l.blockBytes) || uint64(len(act)) < uint64(nb)*uint64(l.actBytes) {
		return -1
	}
	return nb
}

// Dot returns the dot product of one weight row (type w, n elements) with an
// activation row produced by QuantizeAct(w, ...). It returns NaN when the type
// is unsupported or a buffer is shorter than n elements need: the hot path
// carries no error, so the caller validates shapes once (QuantizeAct does).
func Dot(w gguf.Type, row, act []byte, n int) float32 {
	nb := checkDot(w, row, act, n)
	if nb < 0 {
		return float32(math.NaN())
	}
	return dotFn[w](row, act, nb)
}

// DotRef is Dot computed by the pure-Go scalar reference, whatever the CPU.
func DotRef(w gguf.Type, row, act []byte, n int) float32 {
	nb := checkDot(w, row, act, n)
	if nb < 0 {
		return float32(math.NaN())
	}
	return dotRef[w](row, act, nb)
}

// MatVec computes dst[r] = Dot(w, weights[r*RowBytes(n):], act, n) for r in
// [0, len(dst)): the rows are contiguous. A caller splitting a matrix across
// threads passes each thread its sub-slices of weights and dst. On bad shapes
// dst is filled with NaN.
func MatVec(w gguf.Type, dst []float32, weights, act []byte, n int) {
	nb := checkDot(w, weights, act, n)
	rb := rowBytes(w, n)
	if nb < 0 || len(weights) < rb*len(dst) {
		fillNaN(dst)
		return
	}
	r := 0
	if k := rows4Fn[w]; k != nil {
		for ; r+4 <= len(dst); r += 4 {
			k(weights[r*rb:(r+4)*rb], act, nb, (*[4]float32)(dst[r:r+4]))
		}
	}
	f := dotFn[w]
	for ; r < len(dst); r++ {
		dst[r] = f(weights[r*rb:(r+1)*rb], act, nb)
	}
}

// MatMulRows is the row tile of MatMul's matrix-matrix kernels: a call
// whose row count is a multiple of it runs no partial tile.
const MatMulRows = gemmRows

// MatMul is the batched form of MatVec used for prompt processing: acts holds
// nTok activation rows from QuantizeAct, back to back (stride
// ActType(w).RowBytes(n)), and dst holds nTok output rows of len(dst)/nTok
// values, back to back: dst[t*rows+r] = Dot(w, row r, token t). It walks the
// weights in tiles so each weight row is read from memory once per tile of
// tokens rather than once per token, and for the types with a four-token
// kernel (the quantized types but iq4_nl, on AVX2) unpacks each weight block
// once for four tokens (f32 and f16 too with AVX-512). The results are bit
// for bit those of Dot, except that q8_0, q4_0, q4_K and q6_K on AVX-512 VNNI take
// tokens in groups of 8 through matrix-matrix kernels over weights repacked
// MatMulRows rows at a time (in a small per-call buffer, not a copy of the
// matrix): those tokens get the scalar reference's float order (one sum per
// block, as ggml's generic code), which differs from Dot's eight-lane AVX2
// order in the last bits, as llama.cpp's repacked GEMM differs from its
// GEMV. On bad shapes dst is filled with NaN.
func MatMul(w gguf.Type, dst []float32, weights, acts []byte, n, nTok int) {
	a, ok := actTypes[w]
	if !ok || nTok <= 0 || len(dst)%nTok != 0 {
		fillNaN(dst)
		return
	}
	rows := len(dst) / nTok
	rb, ab := rowBytes(w, n), rowBytes(a, n)
	if rb < 0 || ab < 0 || len(weights) < rb*rows || len(acts) < ab*nTok {
		fillNaN(dst)
		return
	}
	nb := n / int(w.BlockSize())
	f := dotFn[w]
	// Tile rows so a tile of weights (~64 KiB) stays in L2 while every token
	// passes over it.
	tile := 1
	if rb > 0 && rb < 64<<10 {
		tile = (64 << 10) / rb
	}
	t0 := 0
	if k := tileFn[w]; k != nil && nTok >= gemmTokens {
		t0 = matMulTiles(k, dst, weights, acts, rows, rb, ab, nb, nTok)
	}
	f4 := dot4Fn[w]
	var out [4]float32
	for r0 := 0; r0 < rows; r0 += tile {
		r1 := min(r0+tile, rows)
		t := t0
		if f4 != nil {
			// Four tokens per weight row: each block is unpacked once.
			for ; t+4 <= nTok; t += 4 {
				act := acts[t*ab : (t+4)*ab]
				for r := r0; r < r1; r++ {
					f4(weights[r*rb:(r+1)*rb], act, ab, nb, &out)
					for k, v := range out {
						dst[(t+k)*rows+r] = v
					}
				}
			}
		}
		for ; t < nTok; t++ {
			act := acts[t*ab : (t+1)*ab]
			out := dst[t*rows:]
			for r := r0; r < r1; r++ {
				out[r] = f(weights[r*rb:(r+1)*rb], act, nb)
			}
		}
	}
}

func fillNaN(dst []float32) {
	nan := float32(math.NaN())
	for i := range dst {
		dst[i] = nan
	}
}

// DequantizeRow converts one row of len(dst) elements of type t, stored in
// src, to float32.
func DequantizeRow(t gguf.Type, src []byte, dst []float32) error {
	if !Supported(t) {
		return fmt.Errorf("%w: %v", ErrUnsupported, t)
	}
	rb := rowBytes(t, len(dst))
	if rb < 0 {
		return fmt.Errorf("quant: %d elements are not a whole number of %v blocks", len(dst), t)
	}
	if len(src) < rb {
		return fmt.Errorf("quant: %v row of %d elements needs %d bytes, have %d", t, len(dst), rb, len(src))
	}
	dequant[t](src[:rb], dst)
	return nil
}

func u16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }
func u32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
func f16(b []byte) float32      { return f16Table[u16(b)] }
func putU16(b []byte, v uint16) { b[0], b[1] = byte(v), byte(v>>8) }
func putU32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}
