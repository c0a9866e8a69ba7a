package quant

import (
	"math"

	"github.com/modelfit/modelfit/gguf"
)

// dotKernel computes the dot product of nb blocks of a weight row with nb
// blocks of an activation row; both slices hold at least nb blocks.
type dotKernel func(row, act []byte, nb int) float32

// dot4Kernel computes one weight row against four activation rows, stride
// bytes apart (the activations of row t start at act[t*stride:]), bit for
// bit as four calls of the type's dotKernel would.
type dot4Kernel func(row, act []byte, stride, nb int, dst *[4]float32)

// dot4Fn holds the four-token kernels where a type has one.
var dot4Fn = func() (m [64]dot4Kernel) {
	for t, f := range fast4Kernels() {
		m[t] = f
	}
	return m
}()

// rows4Kernel dots four weight rows, back to back in rows (each
// len(rows)/4 bytes), with one activation row into dst, bit for bit as four
// calls of the type's dotKernel would: the decode (one token) form of MatVec,
// which shares the activation work across the rows.
type rows4Kernel func(rows, act []byte, nb int, dst *[4]float32)

// rows4Fn holds the four-row kernels where a type has one.
var rows4Fn = func() (m [64]rows4Kernel) {
	for t, f := range fastRows4Kernels() {
		m[t] = f
	}
	return m
}()

// dotRef holds the scalar reference kernels. Integer sums are exact, so a
// fast path must give the same integer per block; float accumulation is per
// block in order, like ggml's generic C.
var dotRef = map[gguf.Type]dotKernel{
	gguf.TypeF32:    dotF32,
	gguf.TypeF16:    dotF16,
	gguf.TypeBF16:   dotBF16,
	gguf.TypeQ8_0:   dotQ8_0,
	gguf.TypeQ4_0:   dotQ4_0,
	gguf.TypeQ4_1:   dotQ4_1,
	gguf.TypeQ5_0:   dotQ5_0,
	gguf.TypeQ5_1:   dotQ5_1,
	gguf.TypeIQ4_NL: dotIQ4NL,
	gguf.TypeQ2_K:   dotQ2K,
	gguf.TypeQ3_K:   dotQ3K,
	gguf.TypeQ4_K:   dotQ4K,
	gguf.TypeQ5_K:   dotQ5K,
	gguf.TypeQ6_K:   dotQ6K,
}

// dotFn holds the kernels in use, indexed by type: the reference, overridden
// per type by a fast path where the CPU has one (fastKernels in the arch
// files). An array, not a map, because Dot is called per row.
var dotFn = func() (m [64]dotKernel) {
	for t, f := range dotRef {
		m[t] = f
	}
	for t, f := range fastKernels() {
		m[t] = f
	}
	return m
}()

// The plain float types accumulate in float64, as ggml's generic
// ggml_vec_dot_f16/bf16 do.

func dotF32(row, act []byte, n int) float32 {
	var s float64
	for i := 0; i < n; i++ {
		s += float64(math.Float32frombits(u32(row[4*i:])) * math.Float32frombits(u32(act[4*i:])))
	}
	return float32(s)
}

func dotF16(row, act []byte, n int) float32 {
	var s float64
	for i := 0; i < n; i++ {
		s += float64(f16(row[2*i:]) * f16(act[2*i:]))
	}
	return float32(s)
}

func dotBF16(row, act []byte, n int) float32 {
	var s float64
	for i := 0; i < n; i++ {
		s += float64(BF16ToF32(u16(row[2*i:])) * BF16ToF32(u16(act[2*i:])))
	}
	return float32(s)
}

func dotQ8_0(row, act []byte, nb int) float32 {
	var sum float32
	for i := 0; i < nb; i++ {
		x, y := (*[34]byte)(row[i*34:]), (*[34]byte)(act[i*34:])
		var s int32
		for j := 2; j < 34; j++ {
			s += int32(int8(x[j])) * int32(int8(y[j]))
		}
		sum += float32(s) * (f16(x[:]) * f16(y[:]))
	}
	return sum
}

func dotQ4_0(row, act []byte, nb int) float32 {
	var sum float32
	for i := 0; i < nb; i++ {
		x, y := (*[18]byte)(row[i*18:]), (*[34]byte)(act[i*34:])
		var s int32
		for j := 0; j < 16; j++ {
			q := x[2+j]
			s += (int32(q&0xf) - 8) * int32(int8(y[2+j]))
			s += (int32(q>>4) - 8) * int32(int8(y[18+j]))
		}
		sum += float32(s) * (f16(x[:]) * f16(y[:]))
	}
	return sum
}

func dotQ4_1(row, act []byte, nb int) float32 {
	var sum float32
	for i := 0; i < nb; i++ {
		x, y := row[i*20:i*20+20], act[i*36:i*36+36]
		var s int32
		for j := 0; j < 16; j++ {
			q := x[4+j]
			s += int32(q&0xf) * int32(int8(y[4+j]))
			s += int32(q>>4) * int32(int8(y[20+j]))
		}
		sum += float32(f16(x)*f16(y))*float32(s) + f16(x[2:])*f16(y[2:])
	}
	return sum
}

func dotQ5_0(row, act []byte, nb int) float32 {
	var sum float32
	for i := 0; i < nb; i++ {
		x, y := row[i*22:i*22+22], act[i*34:i*34+34]
		qh := u32(x[2:])
		var s int32
		for j := 0; j < 16; j++ {
			q := x[6+j]
			h0 := (qh >> uint(j) << 4) & 0x10
			h1 := (qh >> uint(j+12)) & 0x10
			s += (int32(uint32(q&0xf)|h0) - 16) * int32(int8(y[2+j]))
			s += (int32(uint32(q>>4)|h1) - 16) * int32(int8(y[18+j]))
		}
		sum += float32(s) * (f16(x) * f16(y))
	}
	return sum
}

func dotQ5_1(row, act []byte, nb int) float32 {
	var sum float32
	for i := 0; i < nb; i++ {
		x, y := row[i*24:i*24+24], act[i*36:i*36+36]
		qh := u32(x[4:])
		var s int32
		for j := 0; j < 16; j++ {
			q := x[8+j]
			h0 := (qh >> uint(j) << 4) & 0x10
			h1 := (qh >> uint(j+12)) & 0x10
			s += int32(uint32(q&0xf)|h0) * int32(int8(y[4+j]))
			s += int32(uint32(q>>4)|h1) * int32(int8(y[20+j]))
		}
		sum += float32(f16(x)*f16(y))*float32(s) + f16(x[2:])*f16(y[2:])
	}
	return sum
}

func dotIQ4NL(row, act []byte, nb int) float32 {
	var sum float32
	for i := 0; i < nb; i++ {
		x, y := row[i*18:i*18+18], act[i*34:i*34+34]
		var s int32
		for j := 0; j < 16; j++ {
			q := x[2+j]
			s += int32(kvaluesIQ4NL[q&0xf]) * int32(int8(y[2+j]))
			s += int32(kvaluesIQ4NL[q>>4]) * int32(int8(y[18+j]))
		}
		sum += float32(s) * (f16(x) * f16(y))
	}
	return sum
}

// q8K returns a q8_K block's scale, quants and per-16 sums.
func q8K(act []byte, i int) (d float32, qs []byte, bsums []byte) {
	b := act[i*q8KBytes : (i+1)*q8KBytes]
	return math.Float32frombits(u32(b)), b[4:260], b[260:292]
}

func bsum(bs []byte, j int) int32 { return int32(int16(u16(bs[2*j:]))) }

func dotQ2K(row, act []byte, nb int) float32 {
	var sum float32
	for i := 0; i < nb; i++ {
		x := row[i*84 : (i+1)*84]
		yd, q8, bs := q8K(act, i)
		sc, qs := x[:16], x[16:80]
		var summs, isum int32
		for j := 0; j < 16; j++ {
			summs += bsum(bs, j) * int32(sc[j]>>4)
		}
		is, o := 0, 0
		for half := 0; half < 2; half++ {
			q := qs[32*half : 32*half+32]
			for shift := uint(0); shift < 8; shift += 2 {
				for k := 0; k < 2; k++ {
					var s int32
					for l := 0; l < 16; l++ {
						s += int32(int8(q8[o+l])) * int32((q[16*k+l]>>shift)&3)
					}
					isum += int32(sc[is]&0xf) * s
					is++
					o += 16
				}
			}
		}
		dall, dmin := yd*f16(x[80:]), yd*f16(x[82:])
		sum += dall*float32(isum) - dmin*float32(summs)
	}
	return sum
}

func dotQ3K(row, act []byte, nb int) float32 {
	var sum float32
	var v [256]int8
	for i := 0; i < nb; i++ {
		x := row[i*110 : (i+1)*110]
		yd, q8, _ := q8K(act, i)
		sc := q3KScales(x[96:108])
		q3KValues(x[:32], x[32:96], &v)
		var isum int32
		for s := 0; s < 16; s++ {
			var p int32
			for l := 0; l < 16; l++ {
				p += int32(v[16*s+l]) * int32(int8(q8[16*s+l]))
			}
			isum += (int32(sc[s]) - 32) * p
		}
		sum += f16(x[108:]) * yd * float32(isum)
	}
	return sum
}

// dotK45 is the shared body of Q4_K and Q5_K: q holds the 256 unsigned quants.
func dotK45(hdr []byte, q *[256]uint8, act []byte, i int) float32 {
	yd, q8s, bs := q8K(act, i)
	q8 := (*[256]byte)(q8s)
	scales := hdr[4:16]
	var isum, summs int32
	for g := 0; g < 8; g++ {
		sc, m := scaleMinK4(g, scales)
		summs += int32(m) * (bsum(bs, 2*g) + bsum(bs, 2*g+1))
		var p int32
		qg, yg := (*[32]uint8)(q[32*g:]), (*[32]byte)(q8[32*g:])
		for l := range qg {
			p += int32(qg[l]) * int32(int8(yg[l]))
		}
		isum += int32(sc) * p
	}
	d, dmin := f16(hdr)*yd, f16(hdr[2:])*yd
	return d*float32(isum) - dmin*float32(summs)
}

func dotQ4K(row, act []byte, nb int) float32 {
	var sum float32
	var q [256]uint8
	for i := 0; i < nb; i++ {
		x := row[i*144 : (i+1)*144]
		qs := (*[128]byte)(x[16:])
		for g := 0; g < 4; g++ {
			src, lo, hi := (*[32]byte)(qs[32*g:]), (*[32]uint8)(q[64*g:]), (*[32]uint8)(q[64*g+32:])
			for l, b := range src {
				lo[l], hi[l] = b&0xf, b>>4
			}
		}
		sum += dotK45(x, &q, act, i)
	}
	return sum
}

func dotQ5K(row, act []byte, nb int) float32 {
	var sum float32
	var q [256]uint8
	for i := 0; i < nb; i++ {
		x := row[i*176 : (i+1)*176]
		qh, qs := x[16:48], x[48:176]
		for g := 0; g < 4; g++ {
			u1, u2 := byte(1)<<(2*g), byte(2)<<(2*g)
			for l := 0; l < 32; l++ {
				lo, hi := qs[32*g+l]&0xf, qs[32*g+l]>>4
				if qh[l]&u1 != 0 {
					lo += 16
				}
				if qh[l]&u2 != 0 {
					hi += 16
				}
				q[64*g+l], q[64*g+32+l] = lo, hi
			}
		}
		sum += dotK45(x, &q, act, i)
	}
	return sum
}

func dotQ6K(row, act []byte, nb int) float32 {
	var sum float32
	var v [256]int8
	for i := 0; i < nb; i++ {
		x := row[i*210 : (i+1)*210]
		yd, q8s, _ := q8K(act, i)
		q8 := (*[256]byte)(q8s)
		q6KValues(x[:128], x[128:192], &v)
		var isum int32
		for s := 0; s < 16; s++ {
			var p int32
			vs, ys := (*[16]int8)(v[16*s:]), (*[16]byte)(q8[16*s:])
			for l := range vs {
				p += int32(vs[l]) * int32(int8(ys[l]))
			}
			isum += int32(int8(x[192+s])) * p
		}
		sum += f16(x[208:]) * yd * float32(isum)
	}
	return sum
}

// dotBF16Lanes is dotBF16AVX2 (quant/dot_amd64.s) lane by lane: four
// accumulators of eight lanes with fused multiply-adds over each 32
// elements, folded ((c0+c1)+(c2+c3)) and reduced as ggml's hsum_float_8;
// the tail past a multiple of 32 in float64, as the amd64 wrapper does.
func dotBF16Lanes(row, act []byte, n int) float32 {
	var c [4][8]float32
	m := n &^ 31
	for i := 0; i < m; i += 32 {
		for k := range 4 {
			for j := range 8 {
				e := 2 * (i + 8*k + j)
				x, y := BF16ToF32(u16(row[e:])), BF16ToF32(u16(act[e:]))
				c[k][j] = float32(math.FMA(float64(x), float64(y), float64(c[k][j])))
			}
		}
	}
	var v [8]float32
	for j := range 8 {
		v[j] = (c[0][j] + c[1][j]) + (c[2][j] + c[3][j])
	}
	// hsum_float_8: high half onto low, then pairs, then the last two.
	var h [4]float32
	for j := range 4 {
		h[j] = v[j+4] + v[j]
	}
	s := float64((h[0] + h[2]) + (h[1] + h[3]))
	for i := m; i < n; i++ {
		s += float64(BF16ToF32(u16(row[2*i:])) * BF16ToF32(u16(act[2*i:])))
	}
	return float32(s)
}
