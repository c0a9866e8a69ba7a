package quant

import (
	"math"
	"sync"

	"github.com/modelfit/modelfit/gguf"
)

// A tileKernel is the matrix-matrix kernel pair of a type: repack writes
// nb blocks of 16 rows (row r at w+idx[r]) in gemm's layout, 576 bytes a
// block; gemm computes 16 rows so repacked against 8 q8_0 activation rows
// astride bytes apart, with side records (64 bytes per block: int32
// corrections, float32 activation scales), into dst + t*dstride bytes for
// token t, each value bit for bit the scalar reference dot product (dotRef).
type tileKernel struct {
	typ    gguf.Type
	corr   int32 // the activation sum multiple that turns VPDPBUSD's unsigned weights signed
	repack func(w *byte, idx *int32, nb int, dst *byte)
	gemm   func(w, a *byte, astride int, side *byte, nb int, dst *float32, dstride int)
}

// Repacked tiles: 16 rows, 8 register images of 64 bytes and 16 scales per
// block; 8 tokens with a 64-byte side record per block.
const (
	gemmRows    = 16
	gemmTokens  = 8
	gemmBlock   = 9 * 64
	gemmSideRec = 64
)

// tileFn holds the matrix-matrix kernels where a type has one.
var tileFn = func() (m [64]*tileKernel) {
	for t, k := range tileKernels() {
		m[t] = &k
	}
	return m
}()

// tileBufs recycles the packed activations of MatMul calls, which run on
// several workers at once.
var tileBufs = sync.Pool{New: func() any { return new([]byte) }}

// matMulTiles computes the first nTok/8*8 tokens of MatMul with k, 16-row
// tiles repacked once and run against every group of 8 tokens, and returns
// how many tokens it did. A last partial tile repeats row 0 in its missing
// rows and keeps only its own results.
func matMulTiles(k *tileKernel, dst []float32, weights, acts []byte, rows, rb, ab, nb, nTok int) int {
	groups := nTok / gemmTokens
	sideBytes, packBytes := groups*nb*gemmSideRec, nb*gemmBlock
	bp := tileBufs.Get().(*[]byte)
	defer tileBufs.Put(bp)
	if need := sideBytes + packBytes; cap(*bp) < need {
		*bp = make([]byte, need)
	}
	side := (*bp)[:sideBytes]
	packed := (*bp)[sideBytes : sideBytes+packBytes]
	for t := range groups * gemmTokens {
		g, tg := t/gemmTokens, t%gemmTokens
		for b := range nb {
			blk := acts[t*ab+b*34:][:34]
			var s int32
			for _, q := range blk[2:] {
				s += int32(int8(q))
			}
			rec := side[(g*nb+b)*gemmSideRec:][:gemmSideRec]
			putU32(rec[4*tg:], uint32(-k.corr*s))
			putU32(rec[32+4*tg:], math.Float32bits(f16(blk)))
		}
	}
	var idx [gemmRows]int32
	var part [gemmTokens * gemmRows]float32
	for r := 0; r < rows; r += gemmRows {
		n := min(gemmRows, rows-r)
		for i := range idx {
			idx[i] = int32(i * rb)
			if i >= n {
				idx[i] = 0
			}
		}
		k.repack(&weights[r*rb], &idx[0], nb, &packed[0])
		for g := range groups {
			a, s := &acts[g*gemmTokens*ab], &side[g*nb*gemmSideRec]
			if n == gemmRows {
				k.gemm(&packed[0], a, ab, s, nb, &dst[g*gemmTokens*rows+r], 4*rows)
				continue
			}
			k.gemm(&packed[0], a, ab, s, nb, &part[0], 4*gemmRows)
			for t := range gemmTokens {
				copy(dst[(g*gemmTokens+t)*rows+r:][:n], part[t*gemmRows:])
			}
		}
	}
	return groups * gemmTokens
}
