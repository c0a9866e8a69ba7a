//go:build !purego

#include "textflag.h"

// The kernels follow ggml's AVX2 code for the same types (arch/x86/quants.c,
// vec.h): the same integer sums per 32-bit lane, one FMA accumulator of eight
// lanes per row, and ggml's horizontal-sum order, so that results can match
// llama.cpp bit for bit on x86.

// HSUM8 reduces Y0 to its low float in X1 the way ggml's hsum_float_8 does.
#define HSUM8 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X0, X1, X1 \
	VMOVHLPS     X1, X1, X2 \
	VADDPS       X2, X1, X1 \
	VMOVSHDUP    X1, X2     \
	VADDSS       X2, X1, X1

// SCALE2 loads the f16 scales at a and b, multiplies them and broadcasts the
// product to Y6. Clobbers AX, BX, X7.
#define SCALE2(a, b) \
	MOVWLZX      a, AX      \
	MOVWLZX      b, BX      \
	VMOVD        AX, X6     \
	VMOVD        BX, X7     \
	VCVTPH2PS    X6, X6     \
	VCVTPH2PS    X7, X7     \
	VMULSS       X7, X6, X6 \
	VBROADCASTSS X6, Y6

// MULSUM8 sets Y5 to the eight int32 sums of four products of the signed
// bytes in Y1 (weights) and Y2 (activations), as float. Needs Y15 = int16 ones.
#define MULSUM8 \
	VPSIGNB    Y1, Y1, Y3  \
	VPSIGNB    Y1, Y2, Y4  \
	VPMADDUBSW Y4, Y3, Y5  \
	VPMADDWD   Y15, Y5, Y5 \
	VCVTDQ2PS  Y5, Y5

#define ONES16(r, xr) \
	MOVL         $0x00010001, AX \
	VMOVD        AX, xr          \
	VPBROADCASTD xr, r

#define BYTES(r, xr, v) \
	MOVL         v, AX  \
	VMOVD        AX, xr \
	VPBROADCASTD xr, r

// func dotQ8_0AVX2(x, y *byte, nb int) float32
TEXT ·dotQ8_0AVX2(SB), NOSPLIT, $0-28
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DI
	MOVQ   nb+16(FP), CX
	VXORPS Y0, Y0, Y0
	ONES16(Y15, X15)
	TESTQ  CX, CX
	JLE    q80done

q80loop:
	VMOVDQU 2(SI), Y1
	VMOVDQU 2(DI), Y2
	MULSUM8
	SCALE2((SI), (DI))
	VFMADD231PS Y6, Y5, Y0
	ADDQ        $34, SI
	ADDQ        $34, DI
	DECQ        CX
	JNZ         q80loop

q80done:
	HSUM8
	VZEROUPPER
	MOVSS X1, ret+24(FP)
	RET

// func dotQ4_0AVX2(x, y *byte, nb int) float32
TEXT ·dotQ4_0AVX2(SB), NOSPLIT, $0-28
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DI
	MOVQ   nb+16(FP), CX
	VXORPS Y0, Y0, Y0
	ONES16(Y15, X15)
	BYTES(Y14, X14, $0x0f0f0f0f)
	BYTES(Y13, X13, $0x08080808)
	TESTQ  CX, CX
	JLE    q40done

q40loop:
	VMOVDQU     2(SI), X1
	VPSRLW      $4, X1, X2
	VINSERTI128 $1, X2, Y1, Y1
	VPAND       Y14, Y1, Y1
	VPSUBB      Y13, Y1, Y1
	VMOVDQU     2(DI), Y2
	MULSUM8
	SCALE2((SI), (DI))
	VFMADD231PS Y6, Y5, Y0
	ADDQ        $18, SI
	ADDQ        $34, DI
	DECQ        CX
	JNZ         q40loop

q40done:
	HSUM8
	VZEROUPPER
	MOVSS X1, ret+24(FP)
	RET

// REDUCE4 folds the four accumulators Y0..Y3 to a float in X0 the way ggml's
// GGML_F32x8_REDUCE does.
#define REDUCE4 \
	VADDPS       Y2, Y0, Y0 \
	VADDPS       Y3, Y1, Y1 \
	VADDPS       Y1, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X1, X0, X0 \
	VHADDPS      X0, X0, X0 \
	VHADDPS      X0, X0, X0

// func dotF32AVX2(x, y *byte, n int) float32
// n must be a multiple of 32.
TEXT ·dotF32AVX2(SB), NOSPLIT, $0-28
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DI
	MOVQ   n+16(FP), CX
	SHRQ   $5, CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	TESTQ  CX, CX
	JLE    f32done

f32loop:
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y5
	VMOVUPS     64(SI), Y6
	VMOVUPS     96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $128, DI
	DECQ        CX
	JNZ         f32loop

f32done:
	REDUCE4
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func dotF16AVX2(x, y *byte, n int) float32
// n must be a multiple of 32.
TEXT ·dotF16AVX2(SB), NOSPLIT, $0-28
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DI
	MOVQ   n+16(FP), CX
	SHRQ   $5, CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	TESTQ  CX, CX
	JLE    f16done

f16loop:
	VCVTPH2PS   (SI), Y4
	VCVTPH2PS   16(SI), Y5
	VCVTPH2PS   32(SI), Y6
	VCVTPH2PS   48(SI), Y7
	VCVTPH2PS   (DI), Y8
	VCVTPH2PS   16(DI), Y9
	VCVTPH2PS   32(DI), Y10
	VCVTPH2PS   48(DI), Y11
	VFMADD231PS Y8, Y4, Y0
	VFMADD231PS Y9, Y5, Y1
	VFMADD231PS Y10, Y6, Y2
	VFMADD231PS Y11, Y7, Y3
	ADDQ        $64, SI
	ADDQ        $64, DI
	DECQ        CX
	JNZ         f16loop

f16done:
	REDUCE4
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET
