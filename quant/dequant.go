package quant

import (
	"math"

	"github.com/modelfit/modelfit/gguf"
)

// The dequantizers follow ggml's to_float functions (ggml-quants.c) value for
// value. Explicit float32 conversions keep the compiler from fusing a
// multiply and an add that ggml rounds separately.

var dequant = map[gguf.Type]func(src []byte, dst []float32){
	gguf.TypeF32:    dequantF32,
	gguf.TypeF16:    dequantF16,
	gguf.TypeBF16:   dequantBF16,
	gguf.TypeQ8_0:   dequantQ8_0,
	gguf.TypeQ4_0:   dequantQ4_0,
	gguf.TypeQ4_1:   dequantQ4_1,
	gguf.TypeQ5_0:   dequantQ5_0,
	gguf.TypeQ5_1:   dequantQ5_1,
	gguf.TypeIQ4_NL: dequantIQ4NL,
	gguf.TypeQ2_K:   dequantQ2K,
	gguf.TypeQ3_K:   dequantQ3K,
	gguf.TypeQ4_K:   dequantQ4K,
	gguf.TypeQ5_K:   dequantQ5K,
	gguf.TypeQ6_K:   dequantQ6K,
}

// kvaluesIQ4NL is the non-linear 4-bit codebook of IQ4_NL.
var kvaluesIQ4NL = [16]int8{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}

func dequantF32(src []byte, dst []float32) {
	for i := range dst {
		dst[i] = math.Float32frombits(u32(src[4*i:]))
	}
}

func dequantF16(src []byte, dst []float32) {
	for i := range dst {
		dst[i] = f16(src[2*i:])
	}
}

func dequantBF16(src []byte, dst []float32) {
	for i := range dst {
		dst[i] = BF16ToF32(u16(src[2*i:]))
	}
}

func dequantQ8_0(src []byte, dst []float32) {
	for i := 0; i < len(dst)/32; i++ {
		b, y := src[i*34:], dst[i*32:(i+1)*32]
		d := f16(b)
		for j := range y {
			y[j] = float32(int8(b[2+j])) * d
		}
	}
}

func dequantQ4_0(src []byte, dst []float32) {
	for i := 0; i < len(dst)/32; i++ {
		b, y := src[i*18:], dst[i*32:(i+1)*32]
		d := f16(b)
		for j := 0; j < 16; j++ {
			q := b[2+j]
			y[j] = float32(int32(q&0xf)-8) * d
			y[j+16] = float32(int32(q>>4)-8) * d
		}
	}
}

func dequantQ4_1(src []byte, dst []float32) {
	for i := 0; i < len(dst)/32; i++ {
		b, y := src[i*20:], dst[i*32:(i+1)*32]
		d, m := f16(b), f16(b[2:])
		for j := 0; j < 16; j++ {
			q := b[4+j]
			y[j] = float32(float32(q&0xf)*d) + m
			y[j+16] = float32(float32(q>>4)*d) + m
		}
	}
}

func dequantQ5_0(src []byte, dst []float32) {
	for i := 0; i < len(dst)/32; i++ {
		b, y := src[i*22:], dst[i*32:(i+1)*32]
		d, qh := f16(b), u32(b[2:])
		for j := 0; j < 16; j++ {
			q := b[6+j]
			h0 := (qh >> uint(j) << 4) & 0x10
			h1 := (qh >> uint(j+12)) & 0x10
			y[j] = float32(int32(uint32(q&0xf)|h0)-16) * d
			y[j+16] = float32(int32(uint32(q>>4)|h1)-16) * d
		}
	}
}

func dequantQ5_1(src []byte, dst []float32) {
	for i := 0; i < len(dst)/32; i++ {
		b, y := src[i*24:], dst[i*32:(i+1)*32]
		d, m, qh := f16(b), f16(b[2:]), u32(b[4:])
		for j := 0; j < 16; j++ {
			q := b[8+j]
			h0 := (qh >> uint(j) << 4) & 0x10
			h1 := (qh >> uint(j+12)) & 0x10
			y[j] = float32(float32(uint32(q&0xf)|h0)*d) + m
			y[j+16] = float32(float32(uint32(q>>4)|h1)*d) + m
		}
	}
}

func dequantIQ4NL(src []byte, dst []float32) {
	for i := 0; i < len(dst)/32; i++ {
		b, y := src[i*18:], dst[i*32:(i+1)*32]
		d := f16(b)
		for j := 0; j < 16; j++ {
			q := b[2+j]
			y[j] = d * float32(kvaluesIQ4NL[q&0xf])
			y[j+16] = d * float32(kvaluesIQ4NL[q>>4])
		}
	}
}

// Q2_K block: scales[16] (low nibble scale, high nibble min), qs[64] (2-bit),
// d, dmin (84 bytes).
func dequantQ2K(src []byte, dst []float32) {
	for i := 0; i < len(dst)/256; i++ {
		b, y := src[i*84:(i+1)*84], dst[i*256:(i+1)*256]
		sc, qs := b[:16], b[16:80]
		d, dmin := f16(b[80:]), f16(b[82:])
		is, o := 0, 0
		for half := 0; half < 2; half++ {
			q := qs[32*half : 32*half+32]
			for shift := uint(0); shift < 8; shift += 2 {
				for k := 0; k < 2; k++ {
					s := sc[is]
					is++
					dl, ml := d*float32(s&0xf), dmin*float32(s>>4)
					for l := 0; l < 16; l++ {
						y[o] = float32(dl*float32((q[16*k+l]>>shift)&3)) - ml
						o++
					}
				}
			}
		}
	}
}

// q3KScales unpacks the sixteen 6-bit Q3_K scales (still offset by 32).
func q3KScales(s []byte) [16]int8 {
	const m1, m2 = 0x03030303, 0x0f0f0f0f
	a0, a1, tmp := u32(s), u32(s[4:]), u32(s[8:])
	aux := [4]uint32{
		(a0 & m2) | ((tmp >> 0 & m1) << 4),
		(a1 & m2) | ((tmp >> 2 & m1) << 4),
		(a0 >> 4 & m2) | ((tmp >> 4 & m1) << 4),
		(a1 >> 4 & m2) | ((tmp >> 6 & m1) << 4),
	}
	var out [16]int8
	for k, v := range aux {
		for j := 0; j < 4; j++ {
			out[4*k+j] = int8(v >> (8 * j))
		}
	}
	return out
}

// q3KValues expands a Q3_K block's 256 signed 3-bit quants (-4..3).
func q3KValues(hm, qs []byte, out *[256]int8) {
	o := 0
	m := byte(1)
	for half := 0; half < 2; half++ {
		q := qs[32*half : 32*half+32]
		for shift := uint(0); shift < 8; shift += 2 {
			for l := 0; l < 32; l++ {
				v := int8((q[l] >> shift) & 3)
				if hm[l]&m == 0 {
					v -= 4
				}
				out[o] = v
				o++
			}
			m <<= 1
		}
	}
}

// Q3_K block: hmask[32], qs[64], scales[12], d (110 bytes).
func dequantQ3K(src []byte, dst []float32) {
	var v [256]int8
	for i := 0; i < len(dst)/256; i++ {
		b, y := src[i*110:(i+1)*110], dst[i*256:(i+1)*256]
		sc := q3KScales(b[96:108])
		d := f16(b[108:])
		q3KValues(b[:32], b[32:96], &v)
		for s := 0; s < 16; s++ {
			dl := d * float32(int32(sc[s])-32)
			for l := 0; l < 16; l++ {
				y[16*s+l] = dl * float32(v[16*s+l])
			}
		}
	}
}

// scaleMinK4 unpacks sub-block j's 6-bit scale and min of Q4_K/Q5_K.
func scaleMinK4(j int, q []byte) (sc, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return (q[j+4] & 0xf) | ((q[j-4] >> 6) << 4), (q[j+4] >> 4) | ((q[j] >> 6) << 4)
}

// Q4_K block: d, dmin, scales[12], qs[128] (144 bytes).
func dequantQ4K(src []byte, dst []float32) {
	for i := 0; i < len(dst)/256; i++ {
		b, y := src[i*144:(i+1)*144], dst[i*256:(i+1)*256]
		d, dmin := f16(b), f16(b[2:])
		scales, qs := b[4:16], b[16:144]
		for g := 0; g < 4; g++ {
			s1, m1 := scaleMinK4(2*g, scales)
			s2, m2 := scaleMinK4(2*g+1, scales)
			d1, dm1 := d*float32(s1), dmin*float32(m1)
			d2, dm2 := d*float32(s2), dmin*float32(m2)
			q, o := qs[32*g:32*g+32], y[64*g:]
			for l := 0; l < 32; l++ {
				o[l] = float32(d1*float32(q[l]&0xf)) - dm1
				o[32+l] = float32(d2*float32(q[l]>>4)) - dm2
			}
		}
	}
}

// Q5_K block: d, dmin, scales[12], qh[32], qs[128] (176 bytes).
func dequantQ5K(src []byte, dst []float32) {
	for i := 0; i < len(dst)/256; i++ {
		b, y := src[i*176:(i+1)*176], dst[i*256:(i+1)*256]
		d, dmin := f16(b), f16(b[2:])
		scales, qh, qs := b[4:16], b[16:48], b[48:176]
		for g := 0; g < 4; g++ {
			s1, m1 := scaleMinK4(2*g, scales)
			s2, m2 := scaleMinK4(2*g+1, scales)
			d1, dm1 := d*float32(s1), dmin*float32(m1)
			d2, dm2 := d*float32(s2), dmin*float32(m2)
			u1, u2 := byte(1)<<(2*g), byte(2)<<(2*g)
			q, o := qs[32*g:32*g+32], y[64*g:]
			for l := 0; l < 32; l++ {
				lo, hi := q[l]&0xf, q[l]>>4
				if qh[l]&u1 != 0 {
					lo += 16
				}
				if qh[l]&u2 != 0 {
					hi += 16
				}
				o[l] = float32(d1*float32(lo)) - dm1
				o[32+l] = float32(d2*float32(hi)) - dm2
			}
		}
	}
}

// q6KValues expands a Q6_K block's 256 signed 6-bit quants (-32..31).
func q6KValues(ql, qh []byte, out *[256]int8) {
	for half := 0; half < 2; half++ {
		l4, h, o := (*[64]byte)(ql[64*half:]), (*[32]byte)(qh[32*half:]), (*[128]int8)(out[128*half:])
		for l := 0; l < 32; l++ {
			a, b, hb := l4[l], l4[l+32], h[l]
			o[l] = int8((a&0xf)|(hb&3)<<4) - 32
			o[l+32] = int8((b&0xf)|((hb>>2)&3)<<4) - 32
			o[l+64] = int8((a>>4)|((hb>>4)&3)<<4) - 32
			o[l+96] = int8((b>>4)|((hb>>6)&3)<<4) - 32
		}
	}
}

// Q6_K block: ql[128], qh[64], scales[16] (int8), d (210 bytes).
func dequantQ6K(src []byte, dst []float32) {
	var v [256]int8
	for i := 0; i < len(dst)/256; i++ {
		b, y := src[i*210:(i+1)*210], dst[i*256:(i+1)*256]
		q6KValues(b[:128], b[128:192], &v)
		d := f16(b[208:])
		for s := 0; s < 16; s++ {
			ds := d * float32(int8(b[192+s]))
			for l := 0; l < 16; l++ {
				y[16*s+l] = ds * float32(v[16*s+l])
			}
		}
	}
}
