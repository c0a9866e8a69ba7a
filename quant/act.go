package quant

import "math"

// The activation quantizers follow ggml's x86 CPU build, which is what
// llama.cpp runs on this hardware: q8_0 and q8_1 use the AVX2 form (scale
// amax/127, multiplier 127/amax, round half to even), q8_K the reference
// form (scale -max/127, nearest_int).

// abs32 is |v| by clearing the sign bit, as _mm256_andnot_ps(signBit, v).
func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

// absMax returns the largest |x[i]|.
func absMax(x []float32) float32 {
	var m float32
	for _, v := range x {
		if a := abs32(v); a > m {
			m = a
		}
	}
	return m
}

// roundEven rounds v to the nearest integer, halves to even, as
// _mm256_round_ps(_MM_ROUND_NEAREST) and ggml's nearest_int do. It uses
// nearest_int's trick: adding 1.5*2^23 leaves the rounded integer in the low
// mantissa bits; valid for |v| < 2^22, and quants are at most 127.
func roundEven(v float32) int32 {
	f := v + 12582912
	return int32(math.Float32bits(f)&0x7fffff) - 0x400000
}

// quantizeQ8Block quantizes 32 values into qs and returns the scale and the
// sum of the quants.
func quantizeQ8Block(x []float32, qs []byte) (d float32, sum int32) {
	amax := absMax(x)
	d = amax / 127
	var id float32
	if amax != 0 {
		id = 127 / amax
	}
	for j, v := range x[:32] {
		q := roundEven(float32(v * id)) // the conversion forbids fusing into an FMA
		qs[j] = byte(int8(q))
		sum += q
	}
	return d, sum
}

// quantizeQ8_0Ref is the Go form of ggml's AVX2 quantize_row_q8_0.
func quantizeQ8_0Ref(x []float32, dst []byte) {
	for i := 0; i < len(x)/32; i++ {
		b := dst[i*34 : (i+1)*34]
		d, _ := quantizeQ8Block(x[i*32:(i+1)*32], b[2:])
		putU16(b, F32ToF16(d))
	}
}

// quantizeQ8_1Ref is the Go form of ggml's AVX2 quantize_row_q8_1.
func quantizeQ8_1Ref(x []float32, dst []byte) {
	for i := 0; i < len(x)/32; i++ {
		b := dst[i*36 : (i+1)*36]
		d, sum := quantizeQ8Block(x[i*32:(i+1)*32], b[4:])
		putU16(b, F32ToF16(d))
		putU16(b[2:], F32ToF16(d*float32(sum)))
	}
}

// q8_K block: f32 d, int8 qs[256], int16 bsums[16] (292 bytes).
const q8KBytes = 4 + 256 + 32

func quantizeQ8K(x []float32, dst []byte) {
	for i := 0; i < len(x)/256; i++ {
		quantizeQ8KBlock(x[i*256:(i+1)*256], dst[i*q8KBytes:(i+1)*q8KBytes])
	}
}

// quantizeQ8KBlockRef is ggml's quantize_row_q8_K_ref for one block.
func quantizeQ8KBlockRef(xs []float32, b []byte) {
	var amax, max float32
	for _, v := range xs {
		if a := abs32(v); a > amax {
			amax, max = a, v
		}
	}
	if amax == 0 {
		// ggml leaves bsums unwritten here; zero is what they sum to.
		clear(b)
		return
	}
	iscale := -127 / max
	qs := (*[256]byte)(b[4:])
	for j, v := range xs {
		q := roundEven(float32(iscale * v))
		if q > 127 {
			q = 127
		}
		qs[j] = byte(int8(q))
	}
	for j := 0; j < 16; j++ {
		var s int32
		for _, q := range qs[16*j : 16*j+16] {
			s += int32(int8(q))
		}
		putU16(b[260+2*j:], uint16(int16(s)))
	}
	putU32(b, math.Float32bits(1/iscale))
}
