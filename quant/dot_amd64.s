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

// SCALE2 loads the f16 scales at a and b and sets all lanes of Y6 to their
// product. Clobbers Y7.
#define SCALE2(a, b) \
	VPBROADCASTW a, X6  \
	VPBROADCASTW b, X7  \
	VCVTPH2PS    X6, Y6 \
	VCVTPH2PS    X7, Y7 \
	VMULPS       Y7, Y6, Y6

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

// Q4KGROUP handles 64 quants of a Q4_K block: the low nibbles of 32 bytes
// with scale k and the high nibbles with scale k+1 (int16 scales on the
// stack), adding the eight lane sums to Y7. Needs Y15 = 0x0f bytes.
#define Q4KGROUP(qoff, yoff, s0, s1) \
	VMOVDQU      qoff(R8), Y1      \
	VPSRLW       $4, Y1, Y2        \
	VPAND        Y15, Y1, Y1       \
	VPAND        Y15, Y2, Y2       \
	VPMADDUBSW   yoff(R9), Y1, Y1  \
	VPMADDUBSW   yoff+32(R9), Y2, Y2 \
	VPBROADCASTW s0, Y3            \
	VPBROADCASTW s1, Y4            \
	VPMADDWD     Y3, Y1, Y1        \
	VPMADDWD     Y4, Y2, Y2        \
	VPADDD       Y1, Y7, Y7        \
	VPADDD       Y2, Y7, Y7

// func dotQ4KAVX2(x, y *byte, nb int) float32
TEXT ·dotQ4KAVX2(SB), NOSPLIT, $16-28
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DI
	MOVQ   nb+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS X8, X8, X8
	BYTES(Y15, X15, $0x0f0f0f0f)
	TESTQ  CX, CX
	JLE    q4kdone

q4kloop:
	// Unpack the eight 6-bit scales and mins (ggml's utmp shuffle).
	MOVL 4(SI), R8
	MOVL 8(SI), R9
	MOVL 12(SI), R10
	MOVL R10, R11
	SHRL $4, R11
	ANDL $0x0f0f0f0f, R11
	MOVL R9, DX
	SHRL $6, DX
	ANDL $0x03030303, DX
	SHLL $4, DX
	ORL  DX, R11                  // mins 4..7
	MOVL R9, R12
	ANDL $0x3f3f3f3f, R12         // mins 0..3
	MOVL R10, R13
	ANDL $0x0f0f0f0f, R13
	MOVL R8, DX
	SHRL $6, DX
	ANDL $0x03030303, DX
	SHLL $4, DX
	ORL  DX, R13                  // scales 4..7
	ANDL $0x3f3f3f3f, R8          // scales 0..3
	// Scales as int16 on the stack (one 16-byte store, so the word loads
	// below are forwarded from it), mins in X9.
	VMOVD     R8, X3
	VPINSRD   $1, R13, X3, X3
	VPMOVZXBW X3, X3
	VMOVDQU   X3, w-16(SP)
	VMOVD     R12, X9
	VPINSRD   $1, R11, X9, X9
	VPMOVZXBW X9, X9

	// Mins: acc_m -= y.d*dmin * (mins · pairwise bsums), four lanes.
	VMOVDQU      260(DI), Y10
	VEXTRACTI128 $1, Y10, X11
	VPHADDW      X11, X10, X10
	VPMADDWD     X10, X9, X9
	VCVTDQ2PS    X9, X9
	MOVWLZX      2(SI), AX
	VMOVD        AX, X12
	VCVTPH2PS    X12, X12
	VMOVSS       (DI), X13
	VMULSS       X12, X13, X12
	VBROADCASTSS X12, X12
	VFNMADD231PS X9, X12, X8

	// d = y.d * x.d
	MOVWLZX      (SI), AX
	VMOVD        AX, X6
	VCVTPH2PS    X6, X6
	VMULSS       X6, X13, X6
	VBROADCASTSS X6, Y6

	LEAQ  16(SI), R8
	LEAQ  4(DI), R9
	VPXOR Y7, Y7, Y7
	Q4KGROUP(0, 0, w-16(SP), w-14(SP))
	Q4KGROUP(32, 64, w-12(SP), w-10(SP))
	Q4KGROUP(64, 128, w-8(SP), w-6(SP))
	Q4KGROUP(96, 192, w-4(SP), w-2(SP))
	VCVTDQ2PS   Y7, Y7
	VFMADD231PS Y7, Y6, Y0

	ADDQ $144, SI
	ADDQ $292, DI
	DECQ CX
	JNZ  q4kloop

q4kdone:
	HSUM8
	VMOVHLPS  X8, X8, X2
	VADDPS    X2, X8, X8
	VMOVSHDUP X8, X2
	VADDSS    X2, X8, X8
	VADDSS    X8, X1, X1
	VZEROUPPER
	MOVSS X1, ret+24(FP)
	RET

// q6kShuf<>+16c picks Q6_K scales 2c (eight times) and 2c+1 (eight times).
DATA q6kShuf<>+0(SB)/8, $0x0000000000000000
DATA q6kShuf<>+8(SB)/8, $0x0101010101010101
DATA q6kShuf<>+16(SB)/8, $0x0202020202020202
DATA q6kShuf<>+24(SB)/8, $0x0303030303030303
DATA q6kShuf<>+32(SB)/8, $0x0404040404040404
DATA q6kShuf<>+40(SB)/8, $0x0505050505050505
DATA q6kShuf<>+48(SB)/8, $0x0606060606060606
DATA q6kShuf<>+56(SB)/8, $0x0707070707070707
DATA q6kShuf<>+64(SB)/8, $0x0808080808080808
DATA q6kShuf<>+72(SB)/8, $0x0909090909090909
DATA q6kShuf<>+80(SB)/8, $0x0a0a0a0a0a0a0a0a
DATA q6kShuf<>+88(SB)/8, $0x0b0b0b0b0b0b0b0b
DATA q6kShuf<>+96(SB)/8, $0x0c0c0c0c0c0c0c0c
DATA q6kShuf<>+104(SB)/8, $0x0d0d0d0d0d0d0d0d
DATA q6kShuf<>+112(SB)/8, $0x0e0e0e0e0e0e0e0e
DATA q6kShuf<>+120(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL q6kShuf<>(SB), RODATA|NOPTR, $128

// Q6KCHUNK adds to Y7 the scaled lane sums of the 32 unsigned 6-bit quants
// in Y5 against the activations at yoff: sum(q*y) - 32*sum(y) per pair.
// Needs Y13 = 32 bytes, X10 = the block's int8 scales.
#define Q6KCHUNK(yoff, k) \
	VMOVDQU    yoff(DI), Y8                 \
	VPMADDUBSW Y8, Y13, Y9                  \
	VPMADDUBSW Y8, Y5, Y11                  \
	VPSUBW     Y9, Y11, Y11                 \
	VPSHUFB    q6kShuf<>+(16*(k))(SB), X10, X12 \
	VPMOVSXBW  X12, Y12                     \
	VPMADDWD   Y12, Y11, Y11                \
	VPADDD     Y11, Y7, Y7

// Q6KHALF handles one 128-quant half of a Q6_K block.
#define Q6KHALF(h) \
	VMOVDQU  (64*h)(SI), Y1     \
	VMOVDQU  (64*h+32)(SI), Y2  \
	VMOVDQU  (128+32*h)(SI), Y3 \
	VPAND    Y14, Y3, Y4        \
	VPSLLW   $4, Y4, Y4         \
	VPAND    Y15, Y1, Y5        \
	VPOR     Y4, Y5, Y5         \
	Q6KCHUNK(4+128*h, 4*h)      \
	VPSRLW   $2, Y3, Y4         \
	VPAND    Y14, Y4, Y4        \
	VPSLLW   $4, Y4, Y4         \
	VPAND    Y15, Y2, Y5        \
	VPOR     Y4, Y5, Y5         \
	Q6KCHUNK(4+128*h+32, 4*h+1) \
	VPSRLW   $4, Y3, Y4         \
	VPAND    Y14, Y4, Y4        \
	VPSLLW   $4, Y4, Y4         \
	VPSRLW   $4, Y1, Y5         \
	VPAND    Y15, Y5, Y5        \
	VPOR     Y4, Y5, Y5         \
	Q6KCHUNK(4+128*h+64, 4*h+2) \
	VPSRLW   $6, Y3, Y4         \
	VPAND    Y14, Y4, Y4        \
	VPSLLW   $4, Y4, Y4         \
	VPSRLW   $4, Y2, Y5         \
	VPAND    Y15, Y5, Y5        \
	VPOR     Y4, Y5, Y5         \
	Q6KCHUNK(4+128*h+96, 4*h+3)

// func dotQ6KAVX2(x, y *byte, nb int) float32
TEXT ·dotQ6KAVX2(SB), NOSPLIT, $0-28
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DI
	MOVQ   nb+16(FP), CX
	VXORPS Y0, Y0, Y0
	BYTES(Y15, X15, $0x0f0f0f0f)
	BYTES(Y14, X14, $0x03030303)
	BYTES(Y13, X13, $0x20202020)
	TESTQ  CX, CX
	JLE    q6kdone

q6kloop:
	MOVWLZX      208(SI), AX
	VMOVD        AX, X6
	VCVTPH2PS    X6, X6
	VMULSS       (DI), X6, X6
	VBROADCASTSS X6, Y6
	VMOVDQU      192(SI), X10
	VPXOR        Y7, Y7, Y7
	Q6KHALF(0)
	Q6KHALF(1)
	VCVTDQ2PS    Y7, Y7
	VFMADD231PS  Y7, Y6, Y0
	ADDQ         $210, SI
	ADDQ         $292, DI
	DECQ         CX
	JNZ          q6kloop

q6kdone:
	HSUM8
	VZEROUPPER
	MOVSS X1, ret+24(FP)
	RET

// Q5KGROUP is Q4KGROUP with the fifth bits b0 and b0+1 of qh (in Y10) added.
// Needs Y15 = 0x0f bytes, Y14 = 0x01 bytes.
#define Q5KGROUP(qoff, yoff, b0, s0, s1) \
	VMOVDQU      qoff(R8), Y1        \
	VPSRLW       $4, Y1, Y2          \
	VPAND        Y15, Y1, Y1         \
	VPAND        Y15, Y2, Y2         \
	VPSRLW       $(b0), Y10, Y3      \
	VPAND        Y14, Y3, Y3         \
	VPSLLW       $4, Y3, Y3          \
	VPOR         Y3, Y1, Y1          \
	VPSRLW       $(b0+1), Y10, Y4    \
	VPAND        Y14, Y4, Y4         \
	VPSLLW       $4, Y4, Y4          \
	VPOR         Y4, Y2, Y2          \
	VPMADDUBSW   yoff(R9), Y1, Y1    \
	VPMADDUBSW   yoff+32(R9), Y2, Y2 \
	VPBROADCASTW s0, Y3              \
	VPBROADCASTW s1, Y4              \
	VPMADDWD     Y3, Y1, Y1          \
	VPMADDWD     Y4, Y2, Y2          \
	VPADDD       Y1, Y7, Y7          \
	VPADDD       Y2, Y7, Y7

// UNPACKK4 unpacks the 6-bit scales and mins at 4(SI) (ggml's utmp shuffle):
// int16 scales to w-16(SP), int16 mins to X9. Clobbers DX, R8-R13.
#define UNPACKK4 \
	MOVL      4(SI), R8        \
	MOVL      8(SI), R9        \
	MOVL      12(SI), R10      \
	MOVL      R10, R11         \
	SHRL      $4, R11          \
	ANDL      $0x0f0f0f0f, R11 \
	MOVL      R9, DX           \
	SHRL      $6, DX           \
	ANDL      $0x03030303, DX  \
	SHLL      $4, DX           \
	ORL       DX, R11          \
	MOVL      R9, R12          \
	ANDL      $0x3f3f3f3f, R12 \
	MOVL      R10, R13         \
	ANDL      $0x0f0f0f0f, R13 \
	MOVL      R8, DX           \
	SHRL      $6, DX           \
	ANDL      $0x03030303, DX  \
	SHLL      $4, DX           \
	ORL       DX, R13          \
	ANDL      $0x3f3f3f3f, R8  \
	VMOVD     R8, X3           \
	VPINSRD   $1, R13, X3, X3  \
	VPMOVZXBW X3, X3           \
	VMOVDQU   X3, w-16(SP)     \
	VMOVD     R12, X9          \
	VPINSRD   $1, R11, X9, X9  \
	VPMOVZXBW X9, X9

// func dotQ5KAVX2(x, y *byte, nb int) float32
TEXT ·dotQ5KAVX2(SB), NOSPLIT, $16-28
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DI
	MOVQ   nb+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS X8, X8, X8
	BYTES(Y15, X15, $0x0f0f0f0f)
	BYTES(Y14, X14, $0x01010101)
	TESTQ  CX, CX
	JLE    q5kdone

q5kloop:
	UNPACKK4

	// Mins: summs -= y.d*dmin * (mins · bsums), one float (ggml's Q5_K form).
	VMOVDQU      260(DI), Y10
	VEXTRACTI128 $1, Y10, X11
	VPHADDW      X11, X10, X10
	VPMADDWD     X10, X9, X9
	VPHADDD      X9, X9, X9
	VPHADDD      X9, X9, X9
	VCVTDQ2PS    X9, X9
	MOVWLZX      2(SI), AX
	VMOVD        AX, X12
	VCVTPH2PS    X12, X12
	VMOVSS       (DI), X13
	VMULSS       X12, X13, X12
	VFNMADD231SS X9, X12, X8

	MOVWLZX      (SI), AX
	VMOVD        AX, X6
	VCVTPH2PS    X6, X6
	VMULSS       X6, X13, X6
	VBROADCASTSS X6, Y6

	VMOVDQU 16(SI), Y10
	LEAQ    48(SI), R8
	LEAQ    4(DI), R9
	VPXOR   Y7, Y7, Y7
	Q5KGROUP(0, 0, 0, w-16(SP), w-14(SP))
	Q5KGROUP(32, 64, 2, w-12(SP), w-10(SP))
	Q5KGROUP(64, 128, 4, w-8(SP), w-6(SP))
	Q5KGROUP(96, 192, 6, w-4(SP), w-2(SP))
	VCVTDQ2PS   Y7, Y7
	VFMADD231PS Y7, Y6, Y0

	ADDQ $176, SI
	ADDQ $292, DI
	DECQ CX
	JNZ  q5kloop

q5kdone:
	HSUM8
	VADDSS X8, X1, X1
	VZEROUPPER
	MOVSS X1, ret+24(FP)
	RET

// K3CHUNK adds to Y7 the scaled lane sums of (Y5 - Y4) against the
// activations at yoff, Y5 and Y4 unsigned bytes; X10 holds the block's 16
// int8 scales (without offset).
#define K3CHUNK(yoff, k) \
	VMOVDQU    yoff(DI), Y8                   \
	VPMADDUBSW Y8, Y4, Y9                     \
	VPMADDUBSW Y8, Y5, Y11                    \
	VPSUBW     Y9, Y11, Y11                   \
	VPSHUFB    q6kShuf<>+(16*(k))(SB), X10, X12 \
	VPMOVSXBW  X12, Y12                       \
	VPMADDWD   Y12, Y11, Y11                  \
	VPADDD     Y11, Y7, Y7

// Q3KPART makes the 32 quants of bit pair (2*p) of qs half Y1 in Y5 and the
// offset (4 where the hmask bit hb of Y3 is clear) in Y4.
// Needs Y14 = 0x03 bytes, Y13 = 0x01 bytes.
#define Q3KPART(p, hb) \
	VPSRLW $(2*(p)), Y1, Y5 \
	VPAND  Y14, Y5, Y5      \
	VPSRLW $(hb), Y3, Y4    \
	VPANDN Y13, Y4, Y4      \
	VPSLLW $2, Y4, Y4

// func dotQ3KAVX2(x, y *byte, nb int) float32
TEXT ·dotQ3KAVX2(SB), NOSPLIT, $0-28
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DI
	MOVQ   nb+16(FP), CX
	VXORPS Y0, Y0, Y0
	BYTES(Y14, X14, $0x03030303)
	BYTES(Y13, X13, $0x01010101)
	BYTES(Y15, X15, $0x20202020)
	TESTQ  CX, CX
	JLE    q3kdone

q3kloop:
	MOVWLZX      108(SI), AX
	VMOVD        AX, X6
	VCVTPH2PS    X6, X6
	VMULSS       (DI), X6, X6
	VBROADCASTSS X6, Y6

	// The sixteen 6-bit scales, minus 32, as int8 in X10.
	MOVL    96(SI), R8         // a0
	MOVL    100(SI), R9        // a1
	MOVL    104(SI), R10       // a2
	MOVL    R8, R11
	ANDL    $0x0f0f0f0f, R11
	MOVL    R10, DX
	ANDL    $0x03030303, DX
	SHLL    $4, DX
	ORL     DX, R11
	VMOVD   R11, X10
	MOVL    R9, R11
	ANDL    $0x0f0f0f0f, R11
	MOVL    R10, DX
	SHRL    $2, DX
	ANDL    $0x03030303, DX
	SHLL    $4, DX
	ORL     DX, R11
	VPINSRD $1, R11, X10, X10
	MOVL    R8, R11
	SHRL    $4, R11
	ANDL    $0x0f0f0f0f, R11
	MOVL    R10, DX
	SHRL    $4, DX
	ANDL    $0x03030303, DX
	SHLL    $4, DX
	ORL     DX, R11
	VPINSRD $2, R11, X10, X10
	MOVL    R9, R11
	SHRL    $4, R11
	ANDL    $0x0f0f0f0f, R11
	MOVL    R10, DX
	SHRL    $6, DX
	ANDL    $0x03030303, DX
	SHLL    $4, DX
	ORL     DX, R11
	VPINSRD $3, R11, X10, X10
	VPSUBB  X15, X10, X10

	VMOVDQU (SI), Y3           // hmask
	VPXOR   Y7, Y7, Y7
	VMOVDQU 32(SI), Y1         // qs, first half
	Q3KPART(0, 0)
	K3CHUNK(4, 0)
	Q3KPART(1, 1)
	K3CHUNK(36, 1)
	Q3KPART(2, 2)
	K3CHUNK(68, 2)
	Q3KPART(3, 3)
	K3CHUNK(100, 3)
	VMOVDQU 64(SI), Y1         // qs, second half
	Q3KPART(0, 4)
	K3CHUNK(132, 4)
	Q3KPART(1, 5)
	K3CHUNK(164, 5)
	Q3KPART(2, 6)
	K3CHUNK(196, 6)
	Q3KPART(3, 7)
	K3CHUNK(228, 7)
	VCVTDQ2PS   Y7, Y7
	VFMADD231PS Y7, Y6, Y0

	ADDQ $110, SI
	ADDQ $292, DI
	DECQ CX
	JNZ  q3kloop

q3kdone:
	HSUM8
	VZEROUPPER
	MOVSS X1, ret+24(FP)
	RET

// Q2KCHUNK adds the scaled lane sums of the 2-bit quants (2*p) of Y1.
#define Q2KCHUNK(p, yoff, k) \
	VPSRLW $(2*(p)), Y1, Y5 \
	VPAND  Y14, Y5, Y5      \
	VPXOR  Y4, Y4, Y4       \
	K3CHUNK(yoff, k)

// func dotQ2KAVX2(x, y *byte, nb int) float32
TEXT ·dotQ2KAVX2(SB), NOSPLIT, $0-28
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DI
	MOVQ   nb+16(FP), CX
	VXORPS Y0, Y0, Y0
	BYTES(Y14, X14, $0x03030303)
	BYTES(Y15, X15, $0x0f0f0f0f)
	TESTQ  CX, CX
	JLE    q2kdone

q2kloop:
	VMOVSS       (DI), X13
	// Mins first: acc -= y.d*dmin * (mins · bsums), as ggml does.
	VMOVDQU      (SI), X10
	VPSRLW       $4, X10, X9
	VPAND        X15, X9, X9
	VPMOVSXBW    X9, Y9
	VPMADDWD     260(DI), Y9, Y9
	VCVTDQ2PS    Y9, Y9
	MOVWLZX      82(SI), AX
	VMOVD        AX, X12
	VCVTPH2PS    X12, X12
	VMULSS       X12, X13, X12
	VBROADCASTSS X12, Y12
	VFNMADD231PS Y9, Y12, Y0
	VPAND        X15, X10, X10  // scales

	MOVWLZX      80(SI), AX
	VMOVD        AX, X6
	VCVTPH2PS    X6, X6
	VMULSS       X6, X13, X6
	VBROADCASTSS X6, Y6

	VPXOR   Y7, Y7, Y7
	VMOVDQU 16(SI), Y1
	Q2KCHUNK(0, 4, 0)
	Q2KCHUNK(1, 36, 1)
	Q2KCHUNK(2, 68, 2)
	Q2KCHUNK(3, 100, 3)
	VMOVDQU 48(SI), Y1
	Q2KCHUNK(0, 132, 4)
	Q2KCHUNK(1, 164, 5)
	Q2KCHUNK(2, 196, 6)
	Q2KCHUNK(3, 228, 7)
	VCVTDQ2PS   Y7, Y7
	VFMADD231PS Y7, Y6, Y0

	ADDQ $84, SI
	ADDQ $292, DI
	DECQ CX
	JNZ  q2kloop

q2kdone:
	HSUM8
	VZEROUPPER
	MOVSS X1, ret+24(FP)
	RET

// NIBBLES32 expands the 16 bytes at m into 32 bytes in Y1: low nibbles then
// high nibbles (ggml's bytes_from_nibbles_32). Needs Y14 = 0x0f bytes.
#define NIBBLES32(m) \
	VMOVDQU     m, X1          \
	VPSRLW      $4, X1, X2     \
	VINSERTI128 $1, X2, Y1, Y1 \
	VPAND       Y14, Y1, Y1

// BITS32 sets Y2 to 0xff in byte i where bit i of the 32-bit word at m is
// set (ggml's bytes_from_bits_32). Needs Y12 = bitsShuf, Y11 = bitsMask.
#define BITS32(m) \
	VPBROADCASTD m, Y2       \
	VPSHUFB      Y12, Y2, Y2 \
	VPOR         Y11, Y2, Y2 \
	VPCMPEQB     Y10, Y2, Y2

DATA bitsShuf<>+0(SB)/8, $0x0000000000000000
DATA bitsShuf<>+8(SB)/8, $0x0101010101010101
DATA bitsShuf<>+16(SB)/8, $0x0202020202020202
DATA bitsShuf<>+24(SB)/8, $0x0303030303030303
GLOBL bitsShuf<>(SB), RODATA|NOPTR, $32

// func dotQ4_1AVX2(x, y *byte, nb int) float32
TEXT ·dotQ4_1AVX2(SB), NOSPLIT, $0-28
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DI
	MOVQ   nb+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS X8, X8, X8
	ONES16(Y15, X15)
	BYTES(Y14, X14, $0x0f0f0f0f)
	TESTQ  CX, CX
	JLE    q41done

q41loop:
	// summs += x.m * y.s
	MOVWLZX      2(SI), AX
	MOVWLZX      2(DI), BX
	VMOVD        AX, X6
	VMOVD        BX, X7
	VCVTPH2PS    X6, X6
	VCVTPH2PS    X7, X7
	VFMADD231SS  X7, X6, X8
	NIBBLES32(4(SI))
	VPMADDUBSW   4(DI), Y1, Y5
	VPMADDWD     Y15, Y5, Y5
	VCVTDQ2PS    Y5, Y5
	SCALE2((SI), (DI))
	VFMADD231PS  Y6, Y5, Y0
	ADDQ         $20, SI
	ADDQ         $36, DI
	DECQ         CX
	JNZ          q41loop

q41done:
	HSUM8
	VADDSS X8, X1, X1
	VZEROUPPER
	MOVSS X1, ret+24(FP)
	RET

// func dotQ5_1AVX2(x, y *byte, nb int) float32
TEXT ·dotQ5_1AVX2(SB), NOSPLIT, $0-28
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DI
	MOVQ   nb+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS X8, X8, X8
	ONES16(Y15, X15)
	BYTES(Y14, X14, $0x0f0f0f0f)
	BYTES(Y13, X13, $0x10101010)
	VMOVDQU bitsShuf<>(SB), Y12
	MOVQ    $0x7fbfdfeff7fbfdfe, AX
	VMOVQ   AX, X11
	VPBROADCASTQ X11, Y11
	VPCMPEQB Y10, Y10, Y10
	TESTQ  CX, CX
	JLE    q51done

q51loop:
	MOVWLZX      2(SI), AX
	MOVWLZX      2(DI), BX
	VMOVD        AX, X6
	VMOVD        BX, X7
	VCVTPH2PS    X6, X6
	VCVTPH2PS    X7, X7
	VFMADD231SS  X7, X6, X8
	NIBBLES32(8(SI))
	BITS32(4(SI))
	VPAND        Y13, Y2, Y2
	VPOR         Y2, Y1, Y1
	VPMADDUBSW   4(DI), Y1, Y5
	VPMADDWD     Y15, Y5, Y5
	VCVTDQ2PS    Y5, Y5
	SCALE2((SI), (DI))
	VFMADD231PS  Y6, Y5, Y0
	ADDQ         $24, SI
	ADDQ         $36, DI
	DECQ         CX
	JNZ          q51loop

q51done:
	HSUM8
	VADDSS X8, X1, X1
	VZEROUPPER
	MOVSS X1, ret+24(FP)
	RET

// func dotQ5_0AVX2(x, y *byte, nb int) float32
TEXT ·dotQ5_0AVX2(SB), NOSPLIT, $0-28
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DI
	MOVQ   nb+16(FP), CX
	VXORPS Y0, Y0, Y0
	ONES16(Y15, X15)
	BYTES(Y14, X14, $0x0f0f0f0f)
	BYTES(Y13, X13, $0xf0f0f0f0)
	VMOVDQU bitsShuf<>(SB), Y12
	MOVQ    $0x7fbfdfeff7fbfdfe, AX
	VMOVQ   AX, X11
	VPBROADCASTQ X11, Y11
	VPCMPEQB Y10, Y10, Y10
	TESTQ  CX, CX
	JLE    q50done

q50loop:
	NIBBLES32(6(SI))
	BITS32(2(SI))
	VPANDN       Y13, Y2, Y2    // 0xf0 where the fifth bit is clear: q-16
	VPOR         Y2, Y1, Y1
	VMOVDQU      2(DI), Y2
	MULSUM8
	SCALE2((SI), (DI))
	VFMADD231PS  Y6, Y5, Y0
	ADDQ         $22, SI
	ADDQ         $34, DI
	DECQ         CX
	JNZ          q50loop

q50done:
	HSUM8
	VZEROUPPER
	MOVSS X1, ret+24(FP)
	RET

// IQ4NLHALF sets Y1 to the 32 codebook values of the IQ4_NL block at m.
// Needs X9 = the codebook, Y14 = 0x0f bytes.
#define IQ4NLBLOCK(m) \
	VMOVDQU     m, X1          \
	VPSRLW      $4, X1, X2     \
	VPAND       X14, X1, X1    \
	VPAND       X14, X2, X2    \
	VPSHUFB     X1, X9, X1     \
	VPSHUFB     X2, X9, X2     \
	VINSERTI128 $1, X2, Y1, Y1

DATA iq4nlValues<>+0(SB)/8, $0xf6eaddcfbfad9881
DATA iq4nlValues<>+8(SB)/8, $0x7159453526190d01
GLOBL iq4nlValues<>(SB), RODATA|NOPTR, $16

// func dotIQ4NLAVX2(x, y *byte, nb int) float32
// Two blocks per step into two accumulators, then a scalar tail, as ggml.
TEXT ·dotIQ4NLAVX2(SB), NOSPLIT, $0-28
	MOVQ    x+0(FP), SI
	MOVQ    y+8(FP), DI
	MOVQ    nb+16(FP), CX
	VXORPS  Y0, Y0, Y0
	VXORPS  Y8, Y8, Y8
	ONES16(Y15, X15)
	BYTES(Y14, X14, $0x0f0f0f0f)
	VMOVDQU iq4nlValues<>(SB), X9
	MOVQ    CX, DX
	SHRQ    $1, DX
	JZ      iq4pairsdone

iq4loop:
	IQ4NLBLOCK(2(SI))
	VMOVDQU     2(DI), Y2
	MULSUM8
	SCALE2((SI), (DI))
	VFMADD231PS Y6, Y5, Y0
	IQ4NLBLOCK(20(SI))
	VMOVDQU     36(DI), Y2
	MULSUM8
	SCALE2(18(SI), 34(DI))
	VFMADD231PS Y6, Y5, Y8
	ADDQ        $36, SI
	ADDQ        $68, DI
	DECQ        DX
	JNZ         iq4loop

iq4pairsdone:
	VADDPS  Y8, Y0, Y0
	HSUM8
	VMOVAPS X1, X8
	ANDQ    $1, CX
	JZ     iq4done
	// Odd last block: sumf += d * isum in scalar order.
	IQ4NLBLOCK(2(SI))
	VMOVDQU      2(DI), Y2
	VPSIGNB      Y1, Y1, Y3
	VPSIGNB      Y1, Y2, Y4
	VPMADDUBSW   Y4, Y3, Y5
	VPMADDWD     Y15, Y5, Y5
	VEXTRACTI128 $1, Y5, X4
	VPADDD       X4, X5, X5
	VPHADDD      X5, X5, X5
	VPHADDD      X5, X5, X5
	VCVTDQ2PS    X5, X5
	MOVWLZX      (SI), AX
	MOVWLZX      (DI), BX
	VMOVD        AX, X6
	VMOVD        BX, X7
	VCVTPH2PS    X6, X6
	VCVTPH2PS    X7, X7
	VMULSS       X6, X7, X6
	VFMADD231SS  X5, X6, X8

iq4done:
	VZEROUPPER
	MOVSS X8, ret+24(FP)
	RET

// func dotBF16AVX2(x, y *byte, n int) float32
// n must be a multiple of 32.
TEXT ·dotBF16AVX2(SB), NOSPLIT, $0-28
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DI
	MOVQ   n+16(FP), CX
	SHRQ   $5, CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	TESTQ  CX, CX
	JLE    bf16done

bf16loop:
	VPMOVZXWD   (SI), Y4
	VPMOVZXWD   16(SI), Y5
	VPMOVZXWD   32(SI), Y6
	VPMOVZXWD   48(SI), Y7
	VPMOVZXWD   (DI), Y8
	VPMOVZXWD   16(DI), Y9
	VPMOVZXWD   32(DI), Y10
	VPMOVZXWD   48(DI), Y11
	VPSLLD      $16, Y4, Y4
	VPSLLD      $16, Y5, Y5
	VPSLLD      $16, Y6, Y6
	VPSLLD      $16, Y7, Y7
	VPSLLD      $16, Y8, Y8
	VPSLLD      $16, Y9, Y9
	VPSLLD      $16, Y10, Y10
	VPSLLD      $16, Y11, Y11
	VFMADD231PS Y8, Y4, Y0
	VFMADD231PS Y9, Y5, Y1
	VFMADD231PS Y10, Y6, Y2
	VFMADD231PS Y11, Y7, Y3
	ADDQ        $64, SI
	ADDQ        $64, DI
	DECQ        CX
	JNZ         bf16loop

bf16done:
	// ((c1+c2)+(c3+c4)), then ggml's _mm256_reduce_add_ps.
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	HSUM8
	VZEROUPPER
	MOVSS X1, ret+24(FP)
	RET

// REDUCE4Z folds the four AVX-512 accumulators Z0..Z3 to a float in X0 the
// way ggml's GGML_F32x16_REDUCE and GCC's _mm512_reduce_add_ps do.
#define REDUCE4Z \
	VADDPS        Z2, Z0, Z0 \
	VADDPS        Z3, Z1, Z1 \
	VADDPS        Z1, Z0, Z0 \
	VEXTRACTF64X4 $1, Z0, Y1 \
	VADDPS        Y1, Y0, Y0 \
	VEXTRACTF128  $1, Y0, X1 \
	VADDPS        X0, X1, X0 \
	VMOVHLPS      X0, X0, X1 \
	VADDPS        X1, X0, X0 \
	VMOVSHDUP     X0, X1     \
	VADDSS        X1, X0, X0

// func dotF32AVX512(x, y *byte, n int) float32
// n must be a multiple of 64.
TEXT ·dotF32AVX512(SB), NOSPLIT, $0-28
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DI
	MOVQ   n+16(FP), CX
	SHRQ   $6, CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	TESTQ  CX, CX
	JLE    f32zdone

f32zloop:
	VMOVUPS     (SI), Z4
	VMOVUPS     64(SI), Z5
	VMOVUPS     128(SI), Z6
	VMOVUPS     192(SI), Z7
	VFMADD231PS (DI), Z4, Z0
	VFMADD231PS 64(DI), Z5, Z1
	VFMADD231PS 128(DI), Z6, Z2
	VFMADD231PS 192(DI), Z7, Z3
	ADDQ        $256, SI
	ADDQ        $256, DI
	DECQ        CX
	JNZ         f32zloop

f32zdone:
	REDUCE4Z
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func dotF16AVX512(x, y *byte, n int) float32
// n must be a multiple of 64.
TEXT ·dotF16AVX512(SB), NOSPLIT, $0-28
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DI
	MOVQ   n+16(FP), CX
	SHRQ   $6, CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	TESTQ  CX, CX
	JLE    f16zdone

f16zloop:
	VCVTPH2PS   (SI), Z4
	VCVTPH2PS   32(SI), Z5
	VCVTPH2PS   64(SI), Z6
	VCVTPH2PS   96(SI), Z7
	VCVTPH2PS   (DI), Z8
	VCVTPH2PS   32(DI), Z9
	VCVTPH2PS   64(DI), Z10
	VCVTPH2PS   96(DI), Z11
	VFMADD231PS Z8, Z4, Z0
	VFMADD231PS Z9, Z5, Z1
	VFMADD231PS Z10, Z6, Z2
	VFMADD231PS Z11, Z7, Z3
	ADDQ        $128, SI
	ADDQ        $128, DI
	DECQ        CX
	JNZ         f16zloop

f16zdone:
	REDUCE4Z
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func f32ToF16F16C(dst *byte, src *float32, n int)
// Converts n floats (a multiple of 8) with VCVTPS2PH, rounding to nearest
// even as ggml's GGML_CPU_FP32_TO_FP16 does.
TEXT ·f32ToF16F16C(SB), NOSPLIT, $0-24
	MOVQ  dst+0(FP), DI
	MOVQ  src+8(FP), SI
	MOVQ  n+16(FP), CX
	SHRQ  $3, CX
	TESTQ CX, CX
	JLE   cvtdone

cvtloop:
	VMOVUPS   (SI), Y0
	VCVTPS2PH $0, Y0, X1
	VMOVDQU   X1, (DI)
	ADDQ      $32, SI
	ADDQ      $16, DI
	DECQ      CX
	JNZ       cvtloop

cvtdone:
	VZEROUPPER
	RET

// HSUMY reduces the eight floats of acc to its low lane as HSUM8 does, in
// place, using X5 and X6.
#define HSUMY(acc, xacc) \
	VEXTRACTF128 $1, acc, X5     \
	VADDPS       xacc, X5, xacc  \
	VMOVHLPS     xacc, xacc, X5  \
	VADDPS       X5, xacc, xacc  \
	VMOVSHDUP    xacc, X5        \
	VADDSS       X5, xacc, xacc

// Q4KMINS updates the four-lane min accumulator of one token (at am on the
// stack) for the block at SI and the token's q8_K block at y (bsums at
// ysums).
#define Q4KMINS(ysums, y, am) \
	VMOVDQU      ysums, Y5      \
	VEXTRACTI128 $1, Y5, X6     \
	VPHADDW      X6, X5, X5     \
	VPMADDWD     mn-32(SP), X5, X5 \
	VCVTDQ2PS    X5, X5         \
	VMOVSS       y, X6          \
	VMULSS       xm-84(SP), X6, X6 \
	VBROADCASTSS X6, X6         \
	VMOVUPS      am, X0         \
	VFNMADD231PS X5, X6, X0     \
	VMOVUPS      X0, am

// Q4KTOK adds one token's products for the group in Y1..Y4.
#define Q4KTOK(ylo, yhi, sumi) \
	VPMADDUBSW ylo, Y1, Y5  \
	VPMADDWD   Y3, Y5, Y5   \
	VPADDD     Y5, sumi, sumi \
	VPMADDUBSW yhi, Y2, Y6  \
	VPMADDWD   Y4, Y6, Y6   \
	VPADDD     Y6, sumi, sumi

// Q4KG4 handles quant group g (64 quants) of the block for four tokens.
#define Q4KG4(g, s0, s1) \
	VMOVDQU      (16+32*(g))(SI), Y1 \
	VPSRLW       $4, Y1, Y2          \
	VPAND        Y15, Y1, Y1         \
	VPAND        Y15, Y2, Y2         \
	VPBROADCASTW s0, Y3              \
	VPBROADCASTW s1, Y4              \
	Q4KTOK((4+64*(g))(DI), (36+64*(g))(DI), Y7)               \
	Q4KTOK((4+64*(g))(DI)(AX*1), (36+64*(g))(DI)(AX*1), Y8)   \
	Q4KTOK((4+64*(g))(DI)(AX*2), (36+64*(g))(DI)(AX*2), Y9)   \
	Q4KTOK((4+64*(g))(BX), (36+64*(g))(BX), Y10)

// Q4KFMA adds d*sumi of one token to its accumulator.
#define Q4KFMA(y, sumi, acc) \
	VMOVSS       y, X0          \
	VMULSS       xd-88(SP), X0, X0 \
	VBROADCASTSS X0, Y0         \
	VCVTDQ2PS    sumi, sumi     \
	VFMADD231PS  sumi, Y0, acc

// Q4KOUT writes one token's result: HSUM8(acc) + the reduced min lanes.
#define Q4KOUT(acc, xacc, am, off) \
	HSUMY(acc, xacc)            \
	VMOVUPS   am, X0            \
	VMOVHLPS  X0, X0, X5        \
	VADDPS    X5, X0, X0        \
	VMOVSHDUP X0, X5            \
	VADDSS    X5, X0, X0        \
	VADDSS    X0, xacc, xacc    \
	MOVSS     xacc, off(R10)

// func dotQ4KAVX2x4(x, y *byte, ystride, nb int, dst *float32)
// Four tokens at once: dst[t] = dotQ4KAVX2(x, y+t*ystride, nb), bit for bit,
// with each weight block unpacked once.
TEXT ·dotQ4KAVX2x4(SB), NOSPLIT, $112-40
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DI
	MOVQ   ystride+16(FP), AX
	MOVQ   nb+24(FP), CX
	LEAQ   (DI)(AX*2), BX
	ADDQ   AX, BX
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS X0, X0, X0
	VMOVUPS X0, am0-80(SP)
	VMOVUPS X0, am1-64(SP)
	VMOVUPS X0, am2-48(SP)
	VMOVUPS X0, am3-112(SP)
	MOVL   $0x0f0f0f0f, DX
	VMOVD  DX, X15
	VPBROADCASTD X15, Y15
	TESTQ  CX, CX
	JLE    q4k4done

q4k4loop:
	UNPACKK4
	VMOVDQU   X9, mn-32(SP)
	MOVWLZX   (SI), DX
	VMOVD     DX, X0
	VCVTPH2PS X0, X0
	VMOVSS    X0, xd-88(SP)
	MOVWLZX   2(SI), DX
	VMOVD     DX, X0
	VCVTPH2PS X0, X0
	VMOVSS    X0, xm-84(SP)

	Q4KMINS(260(DI), (DI), am0-80(SP))
	Q4KMINS(260(DI)(AX*1), (DI)(AX*1), am1-64(SP))
	Q4KMINS(260(DI)(AX*2), (DI)(AX*2), am2-48(SP))
	Q4KMINS(260(BX), (BX), am3-112(SP))

	VPXOR Y7, Y7, Y7
	VPXOR Y8, Y8, Y8
	VPXOR Y9, Y9, Y9
	VPXOR Y10, Y10, Y10
	Q4KG4(0, w-16(SP), w-14(SP))
	Q4KG4(1, w-12(SP), w-10(SP))
	Q4KG4(2, w-8(SP), w-6(SP))
	Q4KG4(3, w-4(SP), w-2(SP))

	Q4KFMA((DI), Y7, Y11)
	Q4KFMA((DI)(AX*1), Y8, Y12)
	Q4KFMA((DI)(AX*2), Y9, Y13)
	Q4KFMA((BX), Y10, Y14)

	ADDQ $144, SI
	ADDQ $292, DI
	ADDQ $292, BX
	DECQ CX
	JNZ  q4k4loop

q4k4done:
	MOVQ dst+32(FP), R10
	Q4KOUT(Y11, X11, am0-80(SP), 0)
	Q4KOUT(Y12, X12, am1-64(SP), 4)
	Q4KOUT(Y13, X13, am2-48(SP), 8)
	Q4KOUT(Y14, X14, am3-112(SP), 12)
	VZEROUPPER
	RET

DATA bytes0f<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA bytes0f<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA bytes0f<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA bytes0f<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL bytes0f<>(SB), RODATA|NOPTR, $32

DATA bytes03<>+0(SB)/8, $0x0303030303030303
DATA bytes03<>+8(SB)/8, $0x0303030303030303
DATA bytes03<>+16(SB)/8, $0x0303030303030303
DATA bytes03<>+24(SB)/8, $0x0303030303030303
GLOBL bytes03<>(SB), RODATA|NOPTR, $32

// Q6KTOK adds one token's scaled lane sums for the chunk in Y4 (quants) and
// Y5 (int16 scales). Needs Y15 = 32 bytes.
#define Q6KTOK(y, sumi) \
	VMOVDQU    y, Y0          \
	VPMADDUBSW Y0, Y15, Y6    \
	VPMADDUBSW Y0, Y4, Y0     \
	VPSUBW     Y6, Y0, Y0     \
	VPMADDWD   Y5, Y0, Y0     \
	VPADDD     Y0, sumi, sumi

// Q6KCHUNK4 adds chunk k of the current half for the four tokens, with the
// chunk's quants already in Y4.
#define Q6KCHUNK4(yoff, k) \
	VMOVDQU   sc-16(SP), X5                      \
	VPSHUFB   q6kShuf<>+(16*(k))(SB), X5, X5     \
	VPMOVSXBW X5, Y5                             \
	Q6KTOK(yoff(DI), Y7)                         \
	Q6KTOK(yoff(DI)(AX*1), Y8)                   \
	Q6KTOK(yoff(DI)(AX*2), Y9)                   \
	Q6KTOK(yoff(BX), Y10)

// Q6KHALF4 handles one 128-quant half of a Q6_K block for four tokens.
#define Q6KHALF4(h) \
	VMOVDQU (64*(h))(SI), Y1       \
	VMOVDQU (64*(h)+32)(SI), Y2    \
	VMOVDQU (128+32*(h))(SI), Y3   \
	VPAND   bytes03<>(SB), Y3, Y5  \
	VPSLLW  $4, Y5, Y5             \
	VPAND   bytes0f<>(SB), Y1, Y4  \
	VPOR    Y5, Y4, Y4             \
	Q6KCHUNK4(4+128*(h), 4*(h))    \
	VPSRLW  $2, Y3, Y5             \
	VPAND   bytes03<>(SB), Y5, Y5  \
	VPSLLW  $4, Y5, Y5             \
	VPAND   bytes0f<>(SB), Y2, Y4  \
	VPOR    Y5, Y4, Y4             \
	Q6KCHUNK4(4+128*(h)+32, 4*(h)+1) \
	VPSRLW  $4, Y3, Y5             \
	VPAND   bytes03<>(SB), Y5, Y5  \
	VPSLLW  $4, Y5, Y5             \
	VPSRLW  $4, Y1, Y4             \
	VPAND   bytes0f<>(SB), Y4, Y4  \
	VPOR    Y5, Y4, Y4             \
	Q6KCHUNK4(4+128*(h)+64, 4*(h)+2) \
	VPSRLW  $6, Y3, Y5             \
	VPAND   bytes03<>(SB), Y5, Y5  \
	VPSLLW  $4, Y5, Y5             \
	VPSRLW  $4, Y2, Y4             \
	VPAND   bytes0f<>(SB), Y4, Y4  \
	VPOR    Y5, Y4, Y4             \
	Q6KCHUNK4(4+128*(h)+96, 4*(h)+3)

// Q6KFMA adds d*sumi of one token to its accumulator.
#define Q6KFMA(y, sumi, acc) \
	VMOVSS       y, X0             \
	VMULSS       xd-20(SP), X0, X0 \
	VBROADCASTSS X0, Y0            \
	VCVTDQ2PS    sumi, sumi        \
	VFMADD231PS  sumi, Y0, acc

// func dotQ6KAVX2x4(x, y *byte, ystride, nb int, dst *float32)
// Four tokens at once, bit for bit as dotQ6KAVX2 on each.
TEXT ·dotQ6KAVX2x4(SB), NOSPLIT, $24-40
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DI
	MOVQ   ystride+16(FP), AX
	MOVQ   nb+24(FP), CX
	LEAQ   (DI)(AX*2), BX
	ADDQ   AX, BX
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	MOVL   $0x20202020, DX
	VMOVD  DX, X15
	VPBROADCASTD X15, Y15
	TESTQ  CX, CX
	JLE    q6k4done

q6k4loop:
	MOVWLZX   208(SI), DX
	VMOVD     DX, X0
	VCVTPH2PS X0, X0
	VMOVSS    X0, xd-20(SP)
	VMOVDQU   192(SI), X0
	VMOVDQU   X0, sc-16(SP)
	VPXOR     Y7, Y7, Y7
	VPXOR     Y8, Y8, Y8
	VPXOR     Y9, Y9, Y9
	VPXOR     Y10, Y10, Y10
	Q6KHALF4(0)
	Q6KHALF4(1)
	Q6KFMA((DI), Y7, Y11)
	Q6KFMA((DI)(AX*1), Y8, Y12)
	Q6KFMA((DI)(AX*2), Y9, Y13)
	Q6KFMA((BX), Y10, Y14)
	ADDQ $210, SI
	ADDQ $292, DI
	ADDQ $292, BX
	DECQ CX
	JNZ  q6k4loop

q6k4done:
	MOVQ  dst+32(FP), R10
	HSUMY(Y11, X11)
	MOVSS X11, 0(R10)
	HSUMY(Y12, X12)
	MOVSS X12, 4(R10)
	HSUMY(Y13, X13)
	MOVSS X13, 8(R10)
	HSUMY(Y14, X14)
	MOVSS X14, 12(R10)
	VZEROUPPER
	RET

// Q8TOK adds one token's block product to acc: the weights are in Y1 (signed)
// and Y3 (their absolute values), the weight scale in all lanes of Y12.
// Needs Y15 = int16 ones.
#define Q8TOK(yq, yd, acc) \
	VMOVDQU      yq, Y4     \
	VPSIGNB      Y1, Y4, Y4 \
	VPMADDUBSW   Y4, Y3, Y5 \
	VPMADDWD     Y15, Y5, Y5 \
	VCVTDQ2PS    Y5, Y5     \
	VPBROADCASTW yd, X6     \
	VCVTPH2PS    X6, Y6     \
	VMULPS       Y6, Y12, Y6 \
	VFMADD231PS  Y6, Y5, acc

// Q8TOK4 runs Q8TOK for the four tokens; the q8_0 block of token 0 is at
// off(DI).
#define Q8TOK4(off) \
	Q8TOK(off+2(DI), off(DI), Y8)                     \
	Q8TOK(off+2(DI)(AX*1), off(DI)(AX*1), Y9)         \
	Q8TOK(off+2(DI)(AX*2), off(DI)(AX*2), Y10)        \
	Q8TOK(off+2(BX), off(BX), Y11)

// X4PROLOGUE loads the arguments of a four-token kernel and clears Y8-Y11.
#define X4PROLOGUE \
	MOVQ   x+0(FP), SI          \
	MOVQ   y+8(FP), DI          \
	MOVQ   ystride+16(FP), AX   \
	MOVQ   nb+24(FP), CX        \
	LEAQ   (DI)(AX*2), BX       \
	ADDQ   AX, BX               \
	VXORPS Y8, Y8, Y8           \
	VXORPS Y9, Y9, Y9           \
	VXORPS Y10, Y10, Y10        \
	VXORPS Y11, Y11, Y11        \
	MOVL   $0x00010001, DX      \
	VMOVD  DX, X15              \
	VPBROADCASTD X15, Y15

// X4EPILOGUE stores HSUM8 of Y8-Y11 to dst[0..3].
#define X4EPILOGUE \
	MOVQ  dst+32(FP), R10 \
	HSUMY(Y8, X8)         \
	MOVSS X8, 0(R10)      \
	HSUMY(Y9, X9)         \
	MOVSS X9, 4(R10)      \
	HSUMY(Y10, X10)       \
	MOVSS X10, 8(R10)     \
	HSUMY(Y11, X11)       \
	MOVSS X11, 12(R10)    \
	VZEROUPPER

// func dotQ8_0AVX2x4(x, y *byte, ystride, nb int, dst *float32)
TEXT ·dotQ8_0AVX2x4(SB), NOSPLIT, $0-40
	X4PROLOGUE
	TESTQ CX, CX
	JLE   q804done

q804loop:
	VMOVDQU      2(SI), Y1
	VPSIGNB      Y1, Y1, Y3
	VPBROADCASTW (SI), X12
	VCVTPH2PS    X12, Y12
	Q8TOK4(0)
	ADDQ         $34, SI
	ADDQ         $34, DI
	ADDQ         $34, BX
	DECQ         CX
	JNZ          q804loop

q804done:
	X4EPILOGUE
	RET

// func dotQ4_0AVX2x4(x, y *byte, ystride, nb int, dst *float32)
TEXT ·dotQ4_0AVX2x4(SB), NOSPLIT, $0-40
	BYTES(Y14, X14, $0x0f0f0f0f)
	BYTES(Y13, X13, $0x08080808)
	X4PROLOGUE
	TESTQ CX, CX
	JLE   q404done

q404loop:
	VMOVDQU      2(SI), X1
	VPSRLW       $4, X1, X2
	VINSERTI128  $1, X2, Y1, Y1
	VPAND        Y14, Y1, Y1
	VPSUBB       Y13, Y1, Y1
	VPSIGNB      Y1, Y1, Y3
	VPBROADCASTW (SI), X12
	VCVTPH2PS    X12, Y12
	Q8TOK4(0)
	ADDQ         $18, SI
	ADDQ         $34, DI
	ADDQ         $34, BX
	DECQ         CX
	JNZ          q404loop

q404done:
	X4EPILOGUE
	RET

DATA bytes01<>+0(SB)/8, $0x0101010101010101
DATA bytes01<>+8(SB)/8, $0x0101010101010101
DATA bytes01<>+16(SB)/8, $0x0101010101010101
DATA bytes01<>+24(SB)/8, $0x0101010101010101
GLOBL bytes01<>(SB), RODATA|NOPTR, $32

// Q5KMINS updates one token's scalar min sum (at am on the stack) the way
// dotQ5KAVX2 does.
#define Q5KMINS(ysums, y, am) \
	VMOVDQU      ysums, Y5         \
	VEXTRACTI128 $1, Y5, X6        \
	VPHADDW      X6, X5, X5        \
	VPMADDWD     mn-32(SP), X5, X5 \
	VPHADDD      X5, X5, X5        \
	VPHADDD      X5, X5, X5        \
	VCVTDQ2PS    X5, X5            \
	VMOVSS       y, X6             \
	VMULSS       xm-84(SP), X6, X6 \
	VMOVSS       am, X0            \
	VFNMADD231SS X5, X6, X0        \
	VMOVSS       X0, am

// Q5KG4 handles quant group g of a Q5_K block for four tokens; Y0 holds qh.
#define Q5KG4(g, s0, s1) \
	VMOVDQU      (48+32*(g))(SI), Y1 \
	VPSRLW       $4, Y1, Y2          \
	VPAND        Y15, Y1, Y1         \
	VPAND        Y15, Y2, Y2         \
	VPSRLW       $(2*(g)), Y0, Y3    \
	VPAND        bytes01<>(SB), Y3, Y3 \
	VPSLLW       $4, Y3, Y3          \
	VPOR         Y3, Y1, Y1          \
	VPSRLW       $(2*(g)+1), Y0, Y4  \
	VPAND        bytes01<>(SB), Y4, Y4 \
	VPSLLW       $4, Y4, Y4          \
	VPOR         Y4, Y2, Y2          \
	VPBROADCASTW s0, Y3              \
	VPBROADCASTW s1, Y4              \
	Q4KTOK((4+64*(g))(DI), (36+64*(g))(DI), Y7)               \
	Q4KTOK((4+64*(g))(DI)(AX*1), (36+64*(g))(DI)(AX*1), Y8)   \
	Q4KTOK((4+64*(g))(DI)(AX*2), (36+64*(g))(DI)(AX*2), Y9)   \
	Q4KTOK((4+64*(g))(BX), (36+64*(g))(BX), Y10)

// Q5KOUT writes one token's result: HSUM8(acc) + its min sum.
#define Q5KOUT(acc, xacc, am, off) \
	HSUMY(acc, xacc)     \
	VMOVSS am, X0        \
	VADDSS X0, xacc, xacc \
	MOVSS  xacc, off(R10)

// func dotQ5KAVX2x4(x, y *byte, ystride, nb int, dst *float32)
// Four tokens at once, bit for bit as dotQ5KAVX2 on each.
TEXT ·dotQ5KAVX2x4(SB), NOSPLIT, $112-40
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DI
	MOVQ   ystride+16(FP), AX
	MOVQ   nb+24(FP), CX
	LEAQ   (DI)(AX*2), BX
	ADDQ   AX, BX
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS X0, X0, X0
	VMOVSS X0, am0-80(SP)
	VMOVSS X0, am1-64(SP)
	VMOVSS X0, am2-48(SP)
	VMOVSS X0, am3-112(SP)
	MOVL   $0x0f0f0f0f, DX
	VMOVD  DX, X15
	VPBROADCASTD X15, Y15
	TESTQ  CX, CX
	JLE    q5k4done

q5k4loop:
	UNPACKK4
	VMOVDQU   X9, mn-32(SP)
	MOVWLZX   (SI), DX
	VMOVD     DX, X0
	VCVTPH2PS X0, X0
	VMOVSS    X0, xd-88(SP)
	MOVWLZX   2(SI), DX
	VMOVD     DX, X0
	VCVTPH2PS X0, X0
	VMOVSS    X0, xm-84(SP)

	Q5KMINS(260(DI), (DI), am0-80(SP))
	Q5KMINS(260(DI)(AX*1), (DI)(AX*1), am1-64(SP))
	Q5KMINS(260(DI)(AX*2), (DI)(AX*2), am2-48(SP))
	Q5KMINS(260(BX), (BX), am3-112(SP))

	VPXOR   Y7, Y7, Y7
	VPXOR   Y8, Y8, Y8
	VPXOR   Y9, Y9, Y9
	VPXOR   Y10, Y10, Y10
	VMOVDQU 16(SI), Y0
	Q5KG4(0, w-16(SP), w-14(SP))
	Q5KG4(1, w-12(SP), w-10(SP))
	Q5KG4(2, w-8(SP), w-6(SP))
	Q5KG4(3, w-4(SP), w-2(SP))

	Q4KFMA((DI), Y7, Y11)
	Q4KFMA((DI)(AX*1), Y8, Y12)
	Q4KFMA((DI)(AX*2), Y9, Y13)
	Q4KFMA((BX), Y10, Y14)

	ADDQ $176, SI
	ADDQ $292, DI
	ADDQ $292, BX
	DECQ CX
	JNZ  q5k4loop

q5k4done:
	MOVQ dst+32(FP), R10
	Q5KOUT(Y11, X11, am0-80(SP), 0)
	Q5KOUT(Y12, X12, am1-64(SP), 4)
	Q5KOUT(Y13, X13, am2-48(SP), 8)
	Q5KOUT(Y14, X14, am3-112(SP), 12)
	VZEROUPPER
	RET

DATA permPack<>+0(SB)/4, $0
DATA permPack<>+4(SB)/4, $4
DATA permPack<>+8(SB)/4, $1
DATA permPack<>+12(SB)/4, $5
DATA permPack<>+16(SB)/4, $2
DATA permPack<>+20(SB)/4, $6
DATA permPack<>+24(SB)/4, $3
DATA permPack<>+28(SB)/4, $7
GLOBL permPack<>(SB), RODATA|NOPTR, $32

// func absMaxAVX2(x *float32, n int) float32
// n must be a multiple of 32.
TEXT ·absMaxAVX2(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	SHRQ         $5, CX
	MOVL         $0x7fffffff, DX
	VMOVD        DX, X15
	VPBROADCASTD X15, Y15
	VXORPS       Y0, Y0, Y0
	VXORPS       Y1, Y1, Y1
	TESTQ        CX, CX
	JLE          amdone

amloop:
	VANDPS  (SI), Y15, Y2
	VANDPS  32(SI), Y15, Y3
	VANDPS  64(SI), Y15, Y4
	VANDPS  96(SI), Y15, Y5
	VMAXPS  Y2, Y0, Y0
	VMAXPS  Y3, Y1, Y1
	VMAXPS  Y4, Y0, Y0
	VMAXPS  Y5, Y1, Y1
	ADDQ    $128, SI
	DECQ    CX
	JNZ     amloop

amdone:
	VMAXPS       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VMOVHLPS     X0, X0, X1
	VMAXPS       X1, X0, X0
	VMOVSHDUP    X0, X1
	VMAXSS       X1, X0, X0
	VZEROUPPER
	MOVSS        X0, ret+16(FP)
	RET

// func q8KBlockAVX2(x *float32, iscale float32, dst *byte)
// Quantizes 256 floats to the qs and bsums of a q8_K block at dst (whose
// first 4 bytes, d, are left alone): min(127, nearest_int(iscale*x)).
TEXT ·q8KBlockAVX2(SB), NOSPLIT, $0-24
	MOVQ         x+0(FP), SI
	VBROADCASTSS iscale+8(FP), Y15
	MOVQ         dst+16(FP), DI
	MOVL         $127, DX
	VMOVD        DX, X14
	VPBROADCASTD X14, Y14
	VMOVDQU      permPack<>(SB), Y13
	MOVL         $0x01010101, DX
	VMOVD        DX, X12
	VPBROADCASTD X12, Y12
	MOVL         $0x00010001, DX
	VMOVD        DX, X11
	VPBROADCASTD X11, Y11
	LEAQ         260(DI), R8
	MOVQ         $8, CX

q8kloop:
	VMULPS     (SI), Y15, Y0
	VMULPS     32(SI), Y15, Y1
	VMULPS     64(SI), Y15, Y2
	VMULPS     96(SI), Y15, Y3
	VROUNDPS   $0, Y0, Y0
	VROUNDPS   $0, Y1, Y1
	VROUNDPS   $0, Y2, Y2
	VROUNDPS   $0, Y3, Y3
	VCVTPS2DQ  Y0, Y0
	VCVTPS2DQ  Y1, Y1
	VCVTPS2DQ  Y2, Y2
	VCVTPS2DQ  Y3, Y3
	VPMINSD    Y14, Y0, Y0
	VPMINSD    Y14, Y1, Y1
	VPMINSD    Y14, Y2, Y2
	VPMINSD    Y14, Y3, Y3
	VPACKSSDW  Y1, Y0, Y0
	VPACKSSDW  Y3, Y2, Y2
	VPACKSSWB  Y2, Y0, Y0
	VPERMD     Y0, Y13, Y0
	VMOVDQU    Y0, 4(DI)

	// Two bsums: the 16-byte halves of the 32 quants.
	VPMADDUBSW   Y0, Y12, Y1
	VPMADDWD     Y11, Y1, Y1
	VPHADDD      Y1, Y1, Y1
	VPHADDD      Y1, Y1, Y1
	VMOVD        X1, DX
	MOVW         DX, (R8)
	VEXTRACTI128 $1, Y1, X1
	VMOVD        X1, DX
	MOVW         DX, 2(R8)

	ADDQ $128, SI
	ADDQ $32, DI
	ADDQ $4, R8
	DECQ CX
	JNZ  q8kloop
	VZEROUPPER
	RET

// K3TOK adds one token's scaled lane sums of (Y5 - Y4) · y, scales in Y2.
#define K3TOK(y, sumi) \
	VMOVDQU    y, Y0       \
	VPMADDUBSW Y0, Y4, Y6  \
	VPMADDUBSW Y0, Y5, Y0  \
	VPSUBW     Y6, Y0, Y0  \
	VPMADDWD   Y2, Y0, Y0  \
	VPADDD     Y0, sumi, sumi

// K3CHUNK4 runs chunk k (quants in Y5, offsets in Y4) for four tokens.
#define K3CHUNK4(yoff, k) \
	VMOVDQU   sc-16(SP), X2                  \
	VPSHUFB   q6kShuf<>+(16*(k))(SB), X2, X2 \
	VPMOVSXBW X2, Y2                         \
	K3TOK(yoff(DI), Y7)                      \
	K3TOK(yoff(DI)(AX*1), Y8)                \
	K3TOK(yoff(DI)(AX*2), Y9)                \
	K3TOK(yoff(BX), Y10)

// Q3KPART4 is Q3KPART with its masks in memory.
#define Q3KPART4(p, hb) \
	VPSRLW $(2*(p)), Y1, Y5           \
	VPAND  bytes03<>(SB), Y5, Y5      \
	VPSRLW $(hb), Y3, Y4              \
	VPANDN bytes01<>(SB), Y4, Y4      \
	VPSLLW $2, Y4, Y4

// func dotQ3KAVX2x4(x, y *byte, ystride, nb int, dst *float32)
// Four tokens at once, bit for bit as dotQ3KAVX2 on each.
TEXT ·dotQ3KAVX2x4(SB), NOSPLIT, $24-40
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DI
	MOVQ   ystride+16(FP), AX
	MOVQ   nb+24(FP), CX
	LEAQ   (DI)(AX*2), BX
	ADDQ   AX, BX
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	MOVL         $0x20202020, DX
	VMOVD        DX, X15
	VPBROADCASTD X15, X15
	TESTQ        CX, CX
	JLE          q3k4done

q3k4loop:
	MOVWLZX   108(SI), DX
	VMOVD     DX, X0
	VCVTPH2PS X0, X0
	VMOVSS    X0, xd-20(SP)

	MOVL    96(SI), R8
	MOVL    100(SI), R9
	MOVL    104(SI), R10
	MOVL    R8, R11
	ANDL    $0x0f0f0f0f, R11
	MOVL    R10, DX
	ANDL    $0x03030303, DX
	SHLL    $4, DX
	ORL     DX, R11
	VMOVD   R11, X2
	MOVL    R9, R11
	ANDL    $0x0f0f0f0f, R11
	MOVL    R10, DX
	SHRL    $2, DX
	ANDL    $0x03030303, DX
	SHLL    $4, DX
	ORL     DX, R11
	VPINSRD $1, R11, X2, X2
	MOVL    R8, R11
	SHRL    $4, R11
	ANDL    $0x0f0f0f0f, R11
	MOVL    R10, DX
	SHRL    $4, DX
	ANDL    $0x03030303, DX
	SHLL    $4, DX
	ORL     DX, R11
	VPINSRD $2, R11, X2, X2
	MOVL    R9, R11
	SHRL    $4, R11
	ANDL    $0x0f0f0f0f, R11
	MOVL    R10, DX
	SHRL    $6, DX
	ANDL    $0x03030303, DX
	SHLL    $4, DX
	ORL     DX, R11
	VPINSRD $3, R11, X2, X2
	VPSUBB  X15, X2, X2
	VMOVDQU X2, sc-16(SP)

	VMOVDQU (SI), Y3
	VPXOR   Y7, Y7, Y7
	VPXOR   Y8, Y8, Y8
	VPXOR   Y9, Y9, Y9
	VPXOR   Y10, Y10, Y10
	VMOVDQU 32(SI), Y1
	Q3KPART4(0, 0)
	K3CHUNK4(4, 0)
	Q3KPART4(1, 1)
	K3CHUNK4(36, 1)
	Q3KPART4(2, 2)
	K3CHUNK4(68, 2)
	Q3KPART4(3, 3)
	K3CHUNK4(100, 3)
	VMOVDQU 64(SI), Y1
	Q3KPART4(0, 4)
	K3CHUNK4(132, 4)
	Q3KPART4(1, 5)
	K3CHUNK4(164, 5)
	Q3KPART4(2, 6)
	K3CHUNK4(196, 6)
	Q3KPART4(3, 7)
	K3CHUNK4(228, 7)

	Q6KFMA((DI), Y7, Y11)
	Q6KFMA((DI)(AX*1), Y8, Y12)
	Q6KFMA((DI)(AX*2), Y9, Y13)
	Q6KFMA((BX), Y10, Y14)
	ADDQ $110, SI
	ADDQ $292, DI
	ADDQ $292, BX
	DECQ CX
	JNZ  q3k4loop

q3k4done:
	MOVQ  dst+32(FP), R10
	HSUMY(Y11, X11)
	MOVSS X11, 0(R10)
	HSUMY(Y12, X12)
	MOVSS X12, 4(R10)
	HSUMY(Y13, X13)
	MOVSS X13, 8(R10)
	HSUMY(Y14, X14)
	MOVSS X14, 12(R10)
	VZEROUPPER
	RET

// Q2KMINS4 subtracts one token's min term from its accumulator, before the
// block's scaled sums as dotQ2KAVX2 does. The int16 mins are on the stack.
#define Q2KMINS4(ysums, y, acc) \
	VMOVDQU      ysums, Y0          \
	VPMADDWD     mn-52(SP), Y0, Y0  \
	VCVTDQ2PS    Y0, Y0             \
	VMOVSS       y, X6              \
	VMULSS       xm-56(SP), X6, X6  \
	VBROADCASTSS X6, Y6             \
	VFNMADD231PS Y0, Y6, acc

// Q2KPART4 puts the 2-bit quants (2*p) of Y1 in Y5 (no offset: Y4 = 0).
#define Q2KPART4(p) \
	VPSRLW $(2*(p)), Y1, Y5      \
	VPAND  bytes03<>(SB), Y5, Y5

// func dotQ2KAVX2x4(x, y *byte, ystride, nb int, dst *float32)
// Four tokens at once, bit for bit as dotQ2KAVX2 on each.
TEXT ·dotQ2KAVX2x4(SB), NOSPLIT, $64-40
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DI
	MOVQ   ystride+16(FP), AX
	MOVQ   nb+24(FP), CX
	LEAQ   (DI)(AX*2), BX
	ADDQ   AX, BX
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	TESTQ CX, CX
	JLE   q2k4done

q2k4loop:
	MOVWLZX   80(SI), DX
	VMOVD     DX, X0
	VCVTPH2PS X0, X0
	VMOVSS    X0, xd-20(SP)
	MOVWLZX   82(SI), DX
	VMOVD     DX, X0
	VCVTPH2PS X0, X0
	VMOVSS    X0, xm-56(SP)
	VMOVDQU   (SI), X2
	VPSRLW    $4, X2, X0
	VPAND     bytes0f<>(SB), X0, X0
	VPMOVSXBW X0, Y0
	VMOVDQU   Y0, mn-52(SP)
	VPAND     bytes0f<>(SB), X2, X2
	VMOVDQU   X2, sc-16(SP)

	Q2KMINS4(260(DI), (DI), Y11)
	Q2KMINS4(260(DI)(AX*1), (DI)(AX*1), Y12)
	Q2KMINS4(260(DI)(AX*2), (DI)(AX*2), Y13)
	Q2KMINS4(260(BX), (BX), Y14)

	VPXOR   Y4, Y4, Y4
	VPXOR   Y7, Y7, Y7
	VPXOR   Y8, Y8, Y8
	VPXOR   Y9, Y9, Y9
	VPXOR   Y10, Y10, Y10
	VMOVDQU 16(SI), Y1
	Q2KPART4(0)
	K3CHUNK4(4, 0)
	Q2KPART4(1)
	K3CHUNK4(36, 1)
	Q2KPART4(2)
	K3CHUNK4(68, 2)
	Q2KPART4(3)
	K3CHUNK4(100, 3)
	VMOVDQU 48(SI), Y1
	Q2KPART4(0)
	K3CHUNK4(132, 4)
	Q2KPART4(1)
	K3CHUNK4(164, 5)
	Q2KPART4(2)
	K3CHUNK4(196, 6)
	Q2KPART4(3)
	K3CHUNK4(228, 7)

	Q6KFMA((DI), Y7, Y11)
	Q6KFMA((DI)(AX*1), Y8, Y12)
	Q6KFMA((DI)(AX*2), Y9, Y13)
	Q6KFMA((BX), Y10, Y14)
	ADDQ $84, SI
	ADDQ $292, DI
	ADDQ $292, BX
	DECQ CX
	JNZ  q2k4loop

q2k4done:
	MOVQ  dst+32(FP), R10
	HSUMY(Y11, X11)
	MOVSS X11, 0(R10)
	HSUMY(Y12, X12)
	MOVSS X12, 4(R10)
	HSUMY(Y13, X13)
	MOVSS X13, 8(R10)
	HSUMY(Y14, X14)
	MOVSS X14, 12(R10)
	VZEROUPPER
	RET

DATA bitsMask<>+0(SB)/8, $0x7fbfdfeff7fbfdfe
DATA bitsMask<>+8(SB)/8, $0x7fbfdfeff7fbfdfe
DATA bitsMask<>+16(SB)/8, $0x7fbfdfeff7fbfdfe
DATA bitsMask<>+24(SB)/8, $0x7fbfdfeff7fbfdfe
GLOBL bitsMask<>(SB), RODATA|NOPTR, $32

DATA bytesff<>+0(SB)/8, $-1
DATA bytesff<>+8(SB)/8, $-1
DATA bytesff<>+16(SB)/8, $-1
DATA bytesff<>+24(SB)/8, $-1
GLOBL bytesff<>(SB), RODATA|NOPTR, $32

DATA bytesf0<>+0(SB)/8, $0xf0f0f0f0f0f0f0f0
DATA bytesf0<>+8(SB)/8, $0xf0f0f0f0f0f0f0f0
DATA bytesf0<>+16(SB)/8, $0xf0f0f0f0f0f0f0f0
DATA bytesf0<>+24(SB)/8, $0xf0f0f0f0f0f0f0f0
GLOBL bytesf0<>(SB), RODATA|NOPTR, $32

DATA bytes10<>+0(SB)/8, $0x1010101010101010
DATA bytes10<>+8(SB)/8, $0x1010101010101010
DATA bytes10<>+16(SB)/8, $0x1010101010101010
DATA bytes10<>+24(SB)/8, $0x1010101010101010
GLOBL bytes10<>(SB), RODATA|NOPTR, $32

// BITS32M is BITS32 with its constants in memory: Y2 gets 0xff in byte i
// where bit i of the word at m is set.
#define BITS32M(m) \
	VPBROADCASTD m, Y2                \
	VPSHUFB      bitsShuf<>(SB), Y2, Y2 \
	VPOR         bitsMask<>(SB), Y2, Y2 \
	VPCMPEQB     bytesff<>(SB), Y2, Y2

// func dotQ5_0AVX2x4(x, y *byte, ystride, nb int, dst *float32)
// Four tokens at once, bit for bit as dotQ5_0AVX2 on each.
TEXT ·dotQ5_0AVX2x4(SB), NOSPLIT, $0-40
	BYTES(Y14, X14, $0x0f0f0f0f)
	X4PROLOGUE
	TESTQ CX, CX
	JLE   q504done

q504loop:
	NIBBLES32(6(SI))
	BITS32M(2(SI))
	VPANDN       bytesf0<>(SB), Y2, Y2
	VPOR         Y2, Y1, Y1
	VPSIGNB      Y1, Y1, Y3
	VPBROADCASTW (SI), X12
	VCVTPH2PS    X12, Y12
	Q8TOK4(0)
	ADDQ         $22, SI
	ADDQ         $34, DI
	ADDQ         $34, BX
	DECQ         CX
	JNZ          q504loop

q504done:
	X4EPILOGUE
	RET

// Q41TOK adds one token's q8_1 block to acc and x.m*y.s to its sum at summ:
// unsigned weights in Y1, x.d in all lanes of Y12, x.m in X13.
#define Q41TOK(yq, yd, ys, acc, summ) \
	MOVWLZX      ys, DX          \
	VMOVD        DX, X7          \
	VCVTPH2PS    X7, X7          \
	VMOVSS       summ, X0        \
	VFMADD231SS  X7, X13, X0     \
	VMOVSS       X0, summ        \
	VPMADDUBSW   yq, Y1, Y5      \
	VPMADDWD     Y15, Y5, Y5     \
	VCVTDQ2PS    Y5, Y5          \
	VPBROADCASTW yd, X6          \
	VCVTPH2PS    X6, Y6          \
	VMULPS       Y6, Y12, Y6     \
	VFMADD231PS  Y6, Y5, acc

#define Q41TOK4 \
	Q41TOK(4(DI), (DI), 2(DI), Y8, s0-16(SP))                         \
	Q41TOK(4(DI)(AX*1), (DI)(AX*1), 2(DI)(AX*1), Y9, s1-12(SP))       \
	Q41TOK(4(DI)(AX*2), (DI)(AX*2), 2(DI)(AX*2), Y10, s2-8(SP))       \
	Q41TOK(4(BX), (BX), 2(BX), Y11, s3-4(SP))

// Q41STORE stores HSUM8(acc) + summ.
#define Q41STORE(acc, xacc, summ, off) \
	HSUMY(acc, xacc)      \
	VADDSS summ, xacc, xacc \
	MOVSS  xacc, off(R10)

// func dotQ4_1AVX2x4(x, y *byte, ystride, nb int, dst *float32)
// Four tokens at once, bit for bit as dotQ4_1AVX2 on each.
TEXT ·dotQ4_1AVX2x4(SB), NOSPLIT, $16-40
	BYTES(Y14, X14, $0x0f0f0f0f)
	X4PROLOGUE
	VXORPS X0, X0, X0
	VMOVUPS X0, s0-16(SP)
	TESTQ CX, CX
	JLE   q414done

q414loop:
	MOVWLZX      2(SI), DX
	VMOVD        DX, X13
	VCVTPH2PS    X13, X13
	NIBBLES32(4(SI))
	VPBROADCASTW (SI), X12
	VCVTPH2PS    X12, Y12
	Q41TOK4
	ADDQ         $20, SI
	ADDQ         $36, DI
	ADDQ         $36, BX
	DECQ         CX
	JNZ          q414loop

q414done:
	MOVQ dst+32(FP), R10
	Q41STORE(Y8, X8, s0-16(SP), 0)
	Q41STORE(Y9, X9, s1-12(SP), 4)
	Q41STORE(Y10, X10, s2-8(SP), 8)
	Q41STORE(Y11, X11, s3-4(SP), 12)
	VZEROUPPER
	RET

// func dotQ5_1AVX2x4(x, y *byte, ystride, nb int, dst *float32)
// Four tokens at once, bit for bit as dotQ5_1AVX2 on each.
TEXT ·dotQ5_1AVX2x4(SB), NOSPLIT, $16-40
	BYTES(Y14, X14, $0x0f0f0f0f)
	X4PROLOGUE
	VXORPS X0, X0, X0
	VMOVUPS X0, s0-16(SP)
	TESTQ CX, CX
	JLE   q514done

q514loop:
	MOVWLZX      2(SI), DX
	VMOVD        DX, X13
	VCVTPH2PS    X13, X13
	NIBBLES32(8(SI))
	BITS32M(4(SI))
	VPAND        bytes10<>(SB), Y2, Y2
	VPOR         Y2, Y1, Y1
	VPBROADCASTW (SI), X12
	VCVTPH2PS    X12, Y12
	Q41TOK4
	ADDQ         $24, SI
	ADDQ         $36, DI
	ADDQ         $36, BX
	DECQ         CX
	JNZ          q514loop

q514done:
	MOVQ dst+32(FP), R10
	Q41STORE(Y8, X8, s0-16(SP), 0)
	Q41STORE(Y9, X9, s1-12(SP), 4)
	Q41STORE(Y10, X10, s2-8(SP), 8)
	Q41STORE(Y11, X11, s3-4(SP), 12)
	VZEROUPPER
	RET

// Q8QUANT quantizes the 32 floats at SI the way ggml's AVX2
// quantize_row_q8_0 does: Y0 gets the 32 int8 quants (in order), X5 the
// scale max/127 as float, Y8 the int32 quants summed in eight lanes.
// Needs Y15 = 0x7fffffff, X14 = 127.0, Y13 = permPack.
#define Q8QUANT \
	VMOVUPS      (SI), Y0        \
	VMOVUPS      32(SI), Y1      \
	VMOVUPS      64(SI), Y2      \
	VMOVUPS      96(SI), Y3      \
	VANDPS       Y15, Y0, Y4     \
	VANDPS       Y15, Y1, Y5     \
	VMAXPS       Y5, Y4, Y4      \
	VANDPS       Y15, Y2, Y5     \
	VMAXPS       Y5, Y4, Y4      \
	VANDPS       Y15, Y3, Y5     \
	VMAXPS       Y5, Y4, Y4      \
	VEXTRACTF128 $1, Y4, X5      \
	VMAXPS       X4, X5, X4      \
	VMOVHLPS     X4, X4, X5      \
	VMAXPS       X5, X4, X4      \
	VMOVSHDUP    X4, X5          \
	VMAXSS       X5, X4, X4      \
	VDIVSS       X14, X4, X5     \
	VDIVSS       X4, X14, X6     \
	VXORPS       X7, X7, X7      \
	VCMPSS       $4, X7, X4, X7  \
	VANDPS       X7, X6, X6      \
	VBROADCASTSS X6, Y6          \
	VMULPS       Y6, Y0, Y0      \
	VMULPS       Y6, Y1, Y1      \
	VMULPS       Y6, Y2, Y2      \
	VMULPS       Y6, Y3, Y3      \
	VROUNDPS     $0, Y0, Y0      \
	VROUNDPS     $0, Y1, Y1      \
	VROUNDPS     $0, Y2, Y2      \
	VROUNDPS     $0, Y3, Y3      \
	VCVTPS2DQ    Y0, Y0          \
	VCVTPS2DQ    Y1, Y1          \
	VCVTPS2DQ    Y2, Y2          \
	VCVTPS2DQ    Y3, Y3          \
	VPADDD       Y1, Y0, Y8      \
	VPADDD       Y3, Y2, Y9      \
	VPADDD       Y9, Y8, Y8      \
	VPACKSSDW    Y1, Y0, Y0      \
	VPACKSSDW    Y3, Y2, Y2      \
	VPACKSSWB    Y2, Y0, Y0      \
	VPERMD       Y0, Y13, Y0

#define Q8CONSTS \
	MOVL         $0x7fffffff, DX \
	VMOVD        DX, X15         \
	VPBROADCASTD X15, Y15        \
	MOVL         $0x42fe0000, DX \
	VMOVD        DX, X14         \
	VMOVDQU      permPack<>(SB), Y13

// func quantQ8_0AVX2(x *float32, dst *byte, nb int)
TEXT ·quantQ8_0AVX2(SB), NOSPLIT, $0-24
	MOVQ  x+0(FP), SI
	MOVQ  dst+8(FP), DI
	MOVQ  nb+16(FP), CX
	Q8CONSTS
	TESTQ CX, CX
	JLE   qq80done

qq80loop:
	Q8QUANT
	VCVTPS2PH $0, X5, X6
	VPEXTRW   $0, X6, DX
	MOVW      DX, (DI)
	VMOVDQU   Y0, 2(DI)
	ADDQ      $128, SI
	ADDQ      $34, DI
	DECQ      CX
	JNZ       qq80loop

qq80done:
	VZEROUPPER
	RET

// func quantQ8_1AVX2(x *float32, dst *byte, nb int)
TEXT ·quantQ8_1AVX2(SB), NOSPLIT, $0-24
	MOVQ  x+0(FP), SI
	MOVQ  dst+8(FP), DI
	MOVQ  nb+16(FP), CX
	Q8CONSTS
	TESTQ CX, CX
	JLE   qq81done

qq81loop:
	Q8QUANT
	VCVTPS2PH $0, X5, X6
	VPEXTRW   $0, X6, DX
	MOVW      DX, (DI)
	VMOVDQU   Y0, 4(DI)
	// s = d * (sum of the quants), as ggml's hsum_i32_8.
	VEXTRACTI128 $1, Y8, X9
	VPADDD       X9, X8, X8
	VPSHUFD      $0x4e, X8, X9
	VPADDD       X9, X8, X8
	VPSHUFD      $0xb1, X8, X9
	VPADDD       X9, X8, X8
	VMOVD        X8, DX
	VCVTSI2SSL   DX, X9, X9
	VMULSS       X9, X5, X9
	VCVTPS2PH    $0, X9, X6
	VPEXTRW      $0, X6, DX
	MOVW         DX, 2(DI)
	ADDQ         $128, SI
	ADDQ         $36, DI
	DECQ         CX
	JNZ          qq81loop

qq81done:
	VZEROUPPER
	RET

// REDUCEZ folds one token's four AVX-512 accumulators like REDUCE4Z, into xa;
// zb's lower registers serve as temporaries once zb is folded in.
#define REDUCEZ(za, zb, zc, zd, ya, yb, xa, xb) \
	VADDPS        zc, za, za \
	VADDPS        zd, zb, zb \
	VADDPS        zb, za, za \
	VEXTRACTF64X4 $1, za, yb \
	VADDPS        yb, ya, ya \
	VEXTRACTF128  $1, ya, xb \
	VADDPS        xa, xb, xa \
	VMOVHLPS      xa, xa, xb \
	VADDPS        xb, xa, xa \
	VMOVSHDUP     xa, xb     \
	VADDSS        xb, xa, xa

// F16TOK adds one token's 64 products to its accumulators z0..z3.
#define F16TOK(b, z0, z1, z2, z3) \
	VCVTPH2PS   (b), Z20     \
	VCVTPH2PS   32(b), Z21   \
	VCVTPH2PS   64(b), Z22   \
	VCVTPH2PS   96(b), Z23   \
	VFMADD231PS Z20, Z16, z0 \
	VFMADD231PS Z21, Z17, z1 \
	VFMADD231PS Z22, Z18, z2 \
	VFMADD231PS Z23, Z19, z3

// func dotF16AVX512x4(x, y *byte, ystride, n int, dst *float32)
// Four tokens at once, bit for bit as dotF16AVX512 on each; n must be a
// multiple of 64.
TEXT ·dotF16AVX512x4(SB), NOSPLIT, $0-40
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DI
	MOVQ   ystride+16(FP), AX
	MOVQ   n+24(FP), CX
	SHRQ   $6, CX
	LEAQ   (DI)(AX*2), BX
	ADDQ   AX, BX
	LEAQ   (DI)(AX*1), R8
	LEAQ   (DI)(AX*2), R9
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7
	VXORPS Z8, Z8, Z8
	VXORPS Z9, Z9, Z9
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13
	VXORPS Z14, Z14, Z14
	VXORPS Z15, Z15, Z15
	TESTQ  CX, CX
	JLE    f16z4done

f16z4loop:
	VCVTPH2PS (SI), Z16
	VCVTPH2PS 32(SI), Z17
	VCVTPH2PS 64(SI), Z18
	VCVTPH2PS 96(SI), Z19
	F16TOK(DI, Z0, Z1, Z2, Z3)
	F16TOK(R8, Z4, Z5, Z6, Z7)
	F16TOK(R9, Z8, Z9, Z10, Z11)
	F16TOK(BX, Z12, Z13, Z14, Z15)
	ADDQ $128, SI
	ADDQ $128, DI
	ADDQ $128, R8
	ADDQ $128, R9
	ADDQ $128, BX
	DECQ CX
	JNZ  f16z4loop

f16z4done:
	MOVQ  dst+32(FP), R10
	REDUCEZ(Z0, Z1, Z2, Z3, Y0, Y1, X0, X1)
	MOVSS X0, 0(R10)
	REDUCEZ(Z4, Z5, Z6, Z7, Y4, Y5, X4, X5)
	MOVSS X4, 4(R10)
	REDUCEZ(Z8, Z9, Z10, Z11, Y8, Y9, X8, X9)
	MOVSS X8, 8(R10)
	REDUCEZ(Z12, Z13, Z14, Z15, Y12, Y13, X12, X13)
	MOVSS X12, 12(R10)
	VZEROUPPER
	RET

// F32TOK adds one token's 64 products to its accumulators z0..z3.
#define F32TOK(b, z0, z1, z2, z3) \
	VFMADD231PS (b), Z16, z0    \
	VFMADD231PS 64(b), Z17, z1  \
	VFMADD231PS 128(b), Z18, z2 \
	VFMADD231PS 192(b), Z19, z3

// func dotF32AVX512x4(x, y *byte, ystride, n int, dst *float32)
// Four tokens at once, bit for bit as dotF32AVX512 on each; n must be a
// multiple of 64.
TEXT ·dotF32AVX512x4(SB), NOSPLIT, $0-40
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DI
	MOVQ   ystride+16(FP), AX
	MOVQ   n+24(FP), CX
	SHRQ   $6, CX
	LEAQ   (DI)(AX*2), BX
	ADDQ   AX, BX
	LEAQ   (DI)(AX*1), R8
	LEAQ   (DI)(AX*2), R9
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7
	VXORPS Z8, Z8, Z8
	VXORPS Z9, Z9, Z9
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13
	VXORPS Z14, Z14, Z14
	VXORPS Z15, Z15, Z15
	TESTQ  CX, CX
	JLE    f32z4done

f32z4loop:
	VMOVUPS (SI), Z16
	VMOVUPS 64(SI), Z17
	VMOVUPS 128(SI), Z18
	VMOVUPS 192(SI), Z19
	F32TOK(DI, Z0, Z1, Z2, Z3)
	F32TOK(R8, Z4, Z5, Z6, Z7)
	F32TOK(R9, Z8, Z9, Z10, Z11)
	F32TOK(BX, Z12, Z13, Z14, Z15)
	ADDQ $256, SI
	ADDQ $256, DI
	ADDQ $256, R8
	ADDQ $256, R9
	ADDQ $256, BX
	DECQ CX
	JNZ  f32z4loop

f32z4done:
	MOVQ  dst+32(FP), R10
	REDUCEZ(Z0, Z1, Z2, Z3, Y0, Y1, X0, X1)
	MOVSS X0, 0(R10)
	REDUCEZ(Z4, Z5, Z6, Z7, Y4, Y5, X4, X5)
	MOVSS X4, 4(R10)
	REDUCEZ(Z8, Z9, Z10, Z11, Y8, Y9, X8, X9)
	MOVSS X8, 8(R10)
	REDUCEZ(Z12, Z13, Z14, Z15, Y12, Y13, X12, X13)
	MOVSS X12, 12(R10)
	VZEROUPPER
	RET
