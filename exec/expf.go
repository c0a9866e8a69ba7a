package exec

import (
	"encoding/binary"
	"math"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/quant"
	"golang.org/x/sys/cpu"
)

// The exponentials of softmax and SiLU follow ggml's CPU backend as built for
// the host (-march=native): whole vectors of lanes use a polynomial
// approximation (ggml_v_expf, after Arm's optimized-routines expf, within 1.5
// ulp) and only the leftover lanes use libm's expf. Being off by one ulp is
// enough to flip an 8-bit activation quantization downstream, so the engine
// reproduces the split: 16 lanes and the AVX-512 variant where the CPU has
// AVX-512F and DQ, else 8 lanes and the AVX2 variant.
var avx512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ

// vecLanes is the vector width of ggml's exp loops.
var vecLanes = map[bool]int{true: 16, false: 8}[avx512]

// vexp is one lane of the host's ggml_v_expf.
func vexp(x float32) float32 {
	if avx512 {
		return vexpf512(x)
	}
	return vexpf(x)
}

// vexpf512 is one lane of ggml's AVX-512 exp approximation: the same
// reduction as vexpf, the polynomial including the 1, scaled by 2^n exactly.
func vexpf512(x float32) float32 {
	const (
		shift  = 0x1.8p23
		invLn2 = 0x1.715476p+0
		ln2hi  = 0x1.62e4p-1
		ln2lo  = 0x1.7f7d1cp-20
	)
	z := fma32(x, invLn2, shift)
	n := z - shift
	b := fma32(-n, ln2lo, fma32(-n, ln2hi, x))
	if math.Abs(float64(n)) > 192 {
		if n <= 0 {
			return 0
		}
		return float32(math.Inf(1))
	}
	u := b * b
	j := fma32(fma32(fma32(0x1.0e4020p-7, b, 0x1.573e2ep-5), u, fma32(0x1.555e66p-3, b, 0x1.fffdb6p-2)), u, fma32(0x1.ffffecp-1, b, 1))
	return float32(math.Ldexp(float64(j), int(n)))
}

// hsum adds the lanes of v in the halving order of the x86 reduce-add
// intrinsics: lane i with lane i+len/2, down to one.
func hsum(v []float32) float32 {
	var t [16]float32
	n := copy(t[:], v)
	for n > 1 {
		n /= 2
		for i := range n {
			t[i] += t[i+n]
		}
	}
	return t[0]
}

// fma32 is a float32 fused multiply-add.
func fma32(a, b, c float32) float32 {
	return float32(math.FMA(float64(a), float64(b), float64(c)))
}

// vexpf is one lane of ggml's vector exp approximation.
func vexpf(x float32) float32 {
	const (
		shift  = 0x1.8p23
		invLn2 = 0x1.715476p+0
		ln2hi  = 0x1.62e4p-1
		ln2lo  = 0x1.7f7d1cp-20
	)
	z := fma32(x, invLn2, shift)
	n := z - shift
	b := fma32(-n, ln2lo, fma32(-n, ln2hi, x))
	e := math.Float32bits(z) << 23
	k := math.Float32frombits(e + math.Float32bits(1))
	u := b * b
	j := fma32(fma32(fma32(0x1.0e4020p-7, b, 0x1.573e2ep-5), u, fma32(0x1.555e66p-3, b, 0x1.fffdb6p-2)), u, 0x1.ffffecp-1*b)
	an := float32(math.Abs(float64(n)))
	if !(an > 126) {
		return fma32(j, k, k)
	}
	var g uint32
	if n <= 0 {
		g = 0x82000000
	}
	s1 := math.Float32frombits(g + 0x7f000000)
	if an > 192 {
		return s1 * s1
	}
	s2 := math.Float32frombits(e - g)
	return fma32(s2, j, s2) * s1
}

// expf is libm's single-precision exp (correctly rounded in practice).
func expf(x float32) float32 { return float32(math.Exp(float64(x))) }

// swigluRange is swiglu over elements [lo, hi) of one row g, u of len(g)
// values: like ggml's ggml_vec_swiglu_f32 over the whole row, whole vectors
// by the vector exp and the leftover tail by expf, whatever part of the row
// this call covers.
func swigluRange(g, u []float32, lo, hi int) {
	m := min(hi, len(g)-len(g)%vecLanes)
	for i := lo; i < m; i++ {
		g[i] = g[i] / (1 + vexp(0-g[i])) * u[i]
	}
	for i := max(lo, m); i < hi; i++ {
		g[i] = g[i] / (1 + expf(-g[i])) * u[i]
	}
}

// softmaxInPlace turns x into exp(x - max) / sum as ggml's soft_max does: the
// exponentials by whole vectors (each vector summed in float32 in the
// reduce-add order of the AVX2 or AVX-512 code) plus scalar leftovers, the
// total in float64.
func softmaxInPlace(x []float32) {
	mx := float32(math.Inf(-1))
	for _, v := range x {
		mx = max(mx, v)
	}
	w := vecLanes
	var sum float64
	i := 0
	for ; i+w <= len(x); i += w {
		for l := i; l < i+w; l++ {
			x[l] = vexp(x[l] - mx)
		}
		if avx512 {
			sum += float64(hsum(x[i : i+w]))
		} else {
			v := x[i : i+8]
			s0, s1, s2, s3 := v[0]+v[4], v[1]+v[5], v[2]+v[6], v[3]+v[7]
			sum += float64((s0 + s2) + (s1 + s3))
		}
	}
	for ; i < len(x); i++ {
		e := expf(x[i] - mx)
		x[i] = e
		sum += float64(e)
	}
	inv := float32(1 / sum)
	for i := range x {
		x[i] *= inv
	}
}

// gemmDot is one output of llamafile's tinyBLAS kernel, which ggml's CPU
// backend uses for the attention products (f16 or f32 operands, row length a
// multiple of the vector width): each lane accumulates every vecLanes-th
// product with FMA, then the lanes are summed by hsum. It reports false for
// shapes tinyBLAS refuses, where ggml falls back to its vec_dot.
func gemmDot(t gguf.Type, a, b []byte, n int) (float32, bool) {
	w := vecLanes
	if n%w != 0 || (t != gguf.TypeF16 && t != gguf.TypeF32) {
		return 0, false
	}
	var acc [16]float32
	if t == gguf.TypeF16 {
		for l := 0; l < n; l += w {
			for i := range w {
				j := 2 * (l + i)
				x := quant.F16ToF32(binary.LittleEndian.Uint16(a[j:]))
				y := quant.F16ToF32(binary.LittleEndian.Uint16(b[j:]))
				// Products of halves are exact in float32, so the FMA's
				// single rounding is that of the addition.
				acc[i] += x * y
			}
		}
	} else {
		for l := 0; l < n; l += w {
			for i := range w {
				j := 4 * (l + i)
				x := math.Float32frombits(binary.LittleEndian.Uint32(a[j:]))
				y := math.Float32frombits(binary.LittleEndian.Uint32(b[j:]))
				acc[i] = fma32(x, y, acc[i])
			}
		}
	}
	return hsum(acc[:w]), true
}
