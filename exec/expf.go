package exec

import "math"

// The exponentials of softmax and SiLU follow ggml's CPU backend as built for
// AVX2+FMA: whole groups of 8 lanes use a polynomial approximation (ggml_v_expf,
// after Arm's optimized-routines expf, within 1.5 ulp) and only the leftover
// lanes use libm's expf. Being off by one ulp is enough to flip an 8-bit
// activation quantization downstream, so the engine reproduces the split.

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

// swiglu sets gate[i] = silu(gate[i]) * up[i] for rows of n values.
func swiglu(gate, up []float32, n int) {
	for r := 0; r+n <= len(gate); r += n {
		g, u := gate[r:r+n], up[r:r+n]
		i := 0
		for ; i+8 <= n; i++ {
			for end := i + 8; i < end; i++ {
				g[i] = g[i] / (1 + vexpf(0-g[i])) * u[i]
			}
			i--
		}
		for ; i < n; i++ {
			g[i] = g[i] / (1 + expf(-g[i])) * u[i]
		}
	}
}

// softmaxInPlace turns x into exp(x - max) / sum as ggml's soft_max does: the
// exponentials in groups of 8 (each group summed in the AVX2 reduction order,
// in float32) plus scalar leftovers, the total in float64.
func softmaxInPlace(x []float32) {
	mx := float32(math.Inf(-1))
	for _, v := range x {
		mx = max(mx, v)
	}
	var sum float64
	i := 0
	for ; i+8 <= len(x); i += 8 {
		var v [8]float32
		for l := range v {
			v[l] = vexpf(x[i+l] - mx)
			x[i+l] = v[l]
		}
		s0, s1, s2, s3 := v[0]+v[4], v[1]+v[5], v[2]+v[6], v[3]+v[7]
		sum += float64((s0 + s2) + (s1 + s3))
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
