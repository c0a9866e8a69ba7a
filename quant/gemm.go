package quant

import (
	"math"
	"sync"

	"github.com/modelfit/modelfit/gguf"
)

// A tileKernel is the matrix-matrix kernel of a type, over 16 weight rows
// repacked once per MatMul call (in a small buffer, not a copy of the
// matrix) and 8 tokens at a time.
type tileKernel struct {
	typ       gguf.Type
	actBlock  int  // bytes of an activation block
	packBlock int  // bytes of a repacked block of 16 rows
	sideRec   int  // bytes of 8 tokens' side record per block
	accum     bool // gemm adds to dst rather than setting it

	// side writes token t's (of 8) part of a side record from its
	// activation block; nil where gemm reads all it needs from the
	// activations.
	side func(rec []byte, t int, act []byte)
	// repack writes nb blocks of the 16 rows at w+idx[r] into dst, and
	// prefetches the 16 rows at next (the next tile) for its own call.
	repack func(w []byte, idx *[gemmRows]int32, nb int, dst, next []byte)
	// gemm computes the 16 repacked rows against 8 activation rows
	// astride bytes apart, with their side records, into dst + t*dstride
	// bytes for token t: each value bit for bit the scalar reference dot
	// product (dotRef). It prefetches the 16 rows at pf (the next tile),
	// so that the gathers of their repack hit the cache.
	gemm func(w, a *byte, astride int, side *byte, nb int, dst *float32, dstride int, pf *byte)
}

const (
	gemmRows   = 16
	gemmTokens = 8
)

// sideQ8 is the side record of the q8_0/q4_0 kernels: per token the int32
// correction (-corr times the block's quant sum) at 4t and the float32
// scale at 32+4t.
func sideQ8(corr int32) func(rec []byte, t int, act []byte) {
	return func(rec []byte, t int, act []byte) {
		var s int32
		for _, q := range act[2:34] {
			s += int32(int8(q))
		}
		putU32(rec[4*t:], uint32(-corr*s))
		putU32(rec[32+4*t:], math.Float32bits(f16(act)))
	}
}

// sideQ8K is the side record of the q4_K kernel: per token the q8_K scale at
// 4t and the eight bsum pair sums as int16 pairs at 32+16t.
func sideQ8K(rec []byte, t int, act []byte) {
	copy(rec[4*t:4*t+4], act[:4])
	for k := range 8 {
		putU16(rec[32+16*t+2*k:], uint16(int16(bsum(act[260:], 2*k)+bsum(act[260:], 2*k+1))))
	}
}

// tileFn holds the matrix-matrix kernels where a type has one.
var tileFn = func() (m [64]*tileKernel) {
	for t, k := range tileKernels() {
		m[t] = &k
	}
	return m
}()

// tileBufs recycles the repacked rows and side records of MatMul calls,
// which run on several workers at once.
var tileBufs = sync.Pool{New: func() any { return new([]byte) }}

// matMulTiles computes the first nTok/8*8 tokens of MatMul with k, 16-row
// tiles repacked once and run against every group of 8 tokens, and returns
// how many tokens it did. A last partial tile repeats row 0 in its missing
// rows and keeps only its own results.
func matMulTiles(k *tileKernel, dst []float32, weights, acts []byte, rows, rb, ab, nb, nTok int) int {
	groups := nTok / gemmTokens
	sideBytes, packBytes := groups*nb*k.sideRec, nb*k.packBlock
	bp := tileBufs.Get().(*[]byte)
	defer tileBufs.Put(bp)
	if need := sideBytes + packBytes; cap(*bp) < need {
		*bp = make([]byte, need)
	}
	side := (*bp)[:sideBytes]
	packed := (*bp)[sideBytes : sideBytes+packBytes]
	for t := range groups * gemmTokens {
		if k.side == nil {
			break
		}
		g := t / gemmTokens
		for b := range nb {
			k.side(side[(g*nb+b)*k.sideRec:][:k.sideRec], t%gemmTokens, acts[t*ab+b*k.actBlock:][:k.actBlock])
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
		next := weights[min(r+gemmRows, rows-1)*rb:]
		k.repack(weights[r*rb:], &idx, nb, packed, next)
		for g := range groups {
			a, s := &acts[g*gemmTokens*ab], (*byte)(nil)
			if k.side != nil {
				s = &side[g*nb*k.sideRec]
			}
			if n == gemmRows {
				out := dst[g*gemmTokens*rows+r:]
				if k.accum {
					for t := range gemmTokens {
						clear(out[t*rows : t*rows+gemmRows])
					}
				}
				k.gemm(&packed[0], a, ab, s, nb, &out[0], 4*rows, &next[0])
				continue
			}
			clear(part[:])
			k.gemm(&packed[0], a, ab, s, nb, &part[0], 4*gemmRows, &next[0])
			for t := range gemmTokens {
				copy(dst[(g*gemmTokens+t)*rows+r:][:n], part[t*gemmRows:])
			}
		}
	}
	return groups * gemmTokens
}
