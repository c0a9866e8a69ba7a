//go:build !purego

#include "textflag.h"

// AVX-512 forms of the hottest kernels (quants in 64-byte registers; VNNI
// VPDPBUSD for q4_0). Each produces, per block, exactly the eight int32 lane
// sums of ggml's AVX2 kernel in dot_amd64.s (integer sums are exact in any
// order: the two 256-bit halves are folded before conversion) and then the
// same float operations in the same order, so the results equal the AVX2
// kernels, and ggml's vec_dot, bit for bit.

// HSUM8Z reduces Y0 to its low float in X1 the way ggml's hsum_float_8 does.
#define HSUM8Z \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X0, X1, X1 \
	VMOVHLPS     X1, X1, X2 \
	VADDPS       X2, X1, X1 \
	VMOVSHDUP    X1, X2     \
	VADDSS       X2, X1, X1

// Q4K512GROUP adds to Z7 the scaled lane sums of the 64 quants of group g
// (the low nibbles of 32 bytes against y[64g:64g+32] in the low half, the
// high nibbles against y[64g+32:64g+64] in the high half). idx picks the
// group's two int16 scales from X3. Needs Z15 = 0x0f bytes, Z14 = qword
// shift counts 0 (low half) and 4 (high half).
#define Q4K512GROUP(g, idx) \
	VBROADCASTI64X4 (16+32*(g))(SI), Z1 \
	VPSRLVQ         Z14, Z1, Z1         \
	VPANDQ          Z15, Z1, Z1         \
	VPMADDUBSW      (4+64*(g))(DI), Z1, Z1 \
	VPERMW          Z3, idx, Z2         \
	VPMADDWD        Z2, Z1, Z1          \
	VPADDD          Z1, Z7, Z7

// func dotQ4KAVX512(x, y *byte, nb int) float32
TEXT ·dotQ4KAVX512(SB), NOSPLIT, $0-28
	MOVQ      x+0(FP), SI
	MOVQ      y+8(FP), DI
	MOVQ      nb+16(FP), CX
	VXORPS    Y0, Y0, Y0
	VXORPS    X8, X8, X8
	VMOVDQU64 b0f64<>(SB), Z15
	VMOVDQU64 shr0044<>(SB), Z14
	VMOVDQU64 q4kIdx<>+0(SB), Z16
	VMOVDQU64 q4kIdx<>+64(SB), Z17
	VMOVDQU64 q4kIdx<>+128(SB), Z18
	VMOVDQU64 q4kIdx<>+192(SB), Z19
	TESTQ     CX, CX
	JLE       q4k5done

q4k5loop:
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
	// Scales as eight int16 in X3 (the rest of Z3 zero), mins in X9.
	VMOVD     R8, X3
	VPINSRD   $1, R13, X3, X3
	VPMOVZXBW X3, X3
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

	VPXOR Y7, Y7, Y7
	Q4K512GROUP(0, Z16)
	Q4K512GROUP(1, Z17)
	Q4K512GROUP(2, Z18)
	Q4K512GROUP(3, Z19)
	VEXTRACTI64X4 $1, Z7, Y10
	VPADDD        Y10, Y7, Y7
	VCVTDQ2PS     Y7, Y7
	VFMADD231PS   Y7, Y6, Y0

	ADDQ $144, SI
	ADDQ $292, DI
	DECQ CX
	JNZ  q4k5loop

q4k5done:
	HSUM8Z
	VMOVHLPS  X8, X8, X2
	VADDPS    X2, X8, X8
	VMOVSHDUP X8, X2
	VADDSS    X2, X8, X8
	VADDSS    X8, X1, X1
	VZEROUPPER
	MOVSS X1, ret+24(FP)
	RET

// Q6K512GROUP adds to Z7 the scaled lane sums of the 64 unsigned 6-bit
// quants in Z5 against the activations at yoff: sum(q*y) - 32*sum(y) per
// pair, as ggml. idx picks the group's four int16 scales from Y10.
// Needs Z13 = 0x20 bytes.
#define Q6K512GROUP(yoff, idx) \
	VMOVDQU64  yoff(DI), Z8 \
	VPMADDUBSW Z8, Z13, Z9  \
	VPMADDUBSW Z8, Z5, Z5   \
	VPSUBW     Z9, Z5, Z5   \
	VPERMW     Z10, idx, Z2 \
	VPMADDWD   Z2, Z5, Z5   \
	VPADDD     Z5, Z7, Z7

// Q6K512HALF handles one 128-quant half of a Q6_K block: ql bytes
// [64h, 64h+64) and qh bytes [32h, 32h+32) make two groups of 64 quants.
#define Q6K512HALF(h, idxA, idxB) \
	VMOVDQU64       (64*(h))(SI), Z1      \
	VBROADCASTI64X4 (128+32*(h))(SI), Z3  \
	VPSRLVQ         Z12, Z3, Z4           \
	VPANDQ          Z14, Z4, Z4           \
	VPSLLQ          $4, Z4, Z4            \
	VPANDQ          Z15, Z1, Z5           \
	VPORQ           Z4, Z5, Z5            \
	Q6K512GROUP(4+128*(h), idxA)          \
	VPSRLVQ         Z11, Z3, Z4           \
	VPANDQ          Z14, Z4, Z4           \
	VPSLLQ          $4, Z4, Z4            \
	VPSRLQ          $4, Z1, Z5            \
	VPANDQ          Z15, Z5, Z5           \
	VPORQ           Z4, Z5, Z5            \
	Q6K512GROUP(4+128*(h)+64, idxB)

// func dotQ6KAVX512(x, y *byte, nb int) float32
TEXT ·dotQ6KAVX512(SB), NOSPLIT, $0-28
	MOVQ      x+0(FP), SI
	MOVQ      y+8(FP), DI
	MOVQ      nb+16(FP), CX
	VXORPS    Y0, Y0, Y0
	VMOVDQU64 b0f64<>(SB), Z15
	VMOVDQU64 b0364<>(SB), Z14
	VMOVDQU64 b2064<>(SB), Z13
	VMOVDQU64 shr0022<>(SB), Z12
	VMOVDQU64 shr4466<>(SB), Z11
	VMOVDQU64 q6kIdx<>+0(SB), Z16
	VMOVDQU64 q6kIdx<>+64(SB), Z17
	VMOVDQU64 q6kIdx<>+128(SB), Z18
	VMOVDQU64 q6kIdx<>+192(SB), Z19
	TESTQ     CX, CX
	JLE       q6k5done

q6k5loop:
	MOVWLZX      208(SI), AX
	VMOVD        AX, X6
	VCVTPH2PS    X6, X6
	VMULSS       (DI), X6, X6
	VBROADCASTSS X6, Y6
	VPMOVSXBW    192(SI), Y10
	VPXOR        Y7, Y7, Y7
	Q6K512HALF(0, Z16, Z17)
	Q6K512HALF(1, Z18, Z19)
	VEXTRACTI64X4 $1, Z7, Y8
	VPADDD        Y8, Y7, Y7
	VCVTDQ2PS     Y7, Y7
	VFMADD231PS   Y7, Y6, Y0
	ADDQ          $210, SI
	ADDQ          $292, DI
	DECQ          CX
	JNZ           q6k5loop

q6k5done:
	HSUM8Z
	VZEROUPPER
	MOVSS X1, ret+24(FP)
	RET

// func dotQ4_0VNNI(x, y *byte, nb int) float32
// Two blocks per step: the integer sums of both in one 64-byte register
// (sum(q*y) - 8*sum(y) per four quants, ggml's (q-8)*y sums), then the two
// FMAs into the accumulator in block order, as ggml's loop does them.
TEXT ·dotQ4_0VNNI(SB), NOSPLIT, $0-28
	MOVQ      x+0(FP), SI
	MOVQ      y+8(FP), DI
	MOVQ      nb+16(FP), CX
	VXORPS    Y0, Y0, Y0
	VMOVDQU64 b0f64<>(SB), Z15
	VMOVDQU64 b0864<>(SB), Z14
	CMPQ      CX, $2
	JLT       q405tail

q405pair:
	VPBROADCASTW   (SI), X6
	VPBROADCASTW   18(SI), X7
	VINSERTI128    $1, X7, Y6, Y6
	VCVTPH2PS      Y6, Z6
	VPBROADCASTW   (DI), X7
	VPBROADCASTW   34(DI), X8
	VINSERTI128    $1, X8, Y7, Y7
	VCVTPH2PS      Y7, Z7
	VMULPS         Z7, Z6, Z6
	VMOVDQU        2(SI), X1
	VINSERTI128    $1, 20(SI), Y1, Y1
	VPSRLW         $4, Y1, Y2
	VINSERTI64X4   $1, Y2, Z1, Z1
	VSHUFI64X2     $0xd8, Z1, Z1, Z1
	VPANDQ         Z15, Z1, Z1
	VMOVDQU        2(DI), Y3
	VINSERTI64X4   $1, 36(DI), Z3, Z3
	VPXORQ         Z4, Z4, Z4
	VPDPBUSD       Z3, Z1, Z4
	VPXORQ         Z5, Z5, Z5
	VPDPBUSD       Z3, Z14, Z5
	VPSUBD         Z5, Z4, Z4
	VCVTDQ2PS      Z4, Z4
	VFMADD231PS    Y4, Y6, Y0
	VEXTRACTF64X4  $1, Z4, Y4
	VEXTRACTF64X4  $1, Z6, Y6
	VFMADD231PS    Y4, Y6, Y0
	ADDQ           $36, SI
	ADDQ           $68, DI
	SUBQ           $2, CX
	CMPQ           CX, $2
	JGE            q405pair

q405tail:
	TESTQ        CX, CX
	JLE          q405done
	VPBROADCASTW (SI), X6
	VPBROADCASTW (DI), X7
	VCVTPH2PS    X6, Y6
	VCVTPH2PS    X7, Y7
	VMULPS       Y7, Y6, Y6
	VMOVDQU      2(SI), X1
	VPSRLW       $4, X1, X2
	VINSERTI128  $1, X2, Y1, Y1
	VPAND        Y15, Y1, Y1
	VMOVDQU      2(DI), Y3
	VPXOR        Y4, Y4, Y4
	VPDPBUSD     Y3, Y1, Y4
	VPXOR        Y5, Y5, Y5
	VPDPBUSD     Y3, Y14, Y5
	VPSUBD       Y5, Y4, Y4
	VCVTDQ2PS    Y4, Y4
	VFMADD231PS  Y4, Y6, Y0

q405done:
	HSUM8Z
	VZEROUPPER
	MOVSS X1, ret+24(FP)
	RET

DATA b0f64<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA b0f64<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA b0f64<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA b0f64<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA b0f64<>+32(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA b0f64<>+40(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA b0f64<>+48(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA b0f64<>+56(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL b0f64<>(SB), RODATA|NOPTR, $64

DATA b0364<>+0(SB)/8, $0x0303030303030303
DATA b0364<>+8(SB)/8, $0x0303030303030303
DATA b0364<>+16(SB)/8, $0x0303030303030303
DATA b0364<>+24(SB)/8, $0x0303030303030303
DATA b0364<>+32(SB)/8, $0x0303030303030303
DATA b0364<>+40(SB)/8, $0x0303030303030303
DATA b0364<>+48(SB)/8, $0x0303030303030303
DATA b0364<>+56(SB)/8, $0x0303030303030303
GLOBL b0364<>(SB), RODATA|NOPTR, $64

DATA b2064<>+0(SB)/8, $0x2020202020202020
DATA b2064<>+8(SB)/8, $0x2020202020202020
DATA b2064<>+16(SB)/8, $0x2020202020202020
DATA b2064<>+24(SB)/8, $0x2020202020202020
DATA b2064<>+32(SB)/8, $0x2020202020202020
DATA b2064<>+40(SB)/8, $0x2020202020202020
DATA b2064<>+48(SB)/8, $0x2020202020202020
DATA b2064<>+56(SB)/8, $0x2020202020202020
GLOBL b2064<>(SB), RODATA|NOPTR, $64

DATA b0864<>+0(SB)/8, $0x0808080808080808
DATA b0864<>+8(SB)/8, $0x0808080808080808
DATA b0864<>+16(SB)/8, $0x0808080808080808
DATA b0864<>+24(SB)/8, $0x0808080808080808
DATA b0864<>+32(SB)/8, $0x0808080808080808
DATA b0864<>+40(SB)/8, $0x0808080808080808
DATA b0864<>+48(SB)/8, $0x0808080808080808
DATA b0864<>+56(SB)/8, $0x0808080808080808
GLOBL b0864<>(SB), RODATA|NOPTR, $64

DATA shr0044<>+0(SB)/8, $0x0000000000000000
DATA shr0044<>+8(SB)/8, $0x0000000000000000
DATA shr0044<>+16(SB)/8, $0x0000000000000000
DATA shr0044<>+24(SB)/8, $0x0000000000000000
DATA shr0044<>+32(SB)/8, $0x0000000000000004
DATA shr0044<>+40(SB)/8, $0x0000000000000004
DATA shr0044<>+48(SB)/8, $0x0000000000000004
DATA shr0044<>+56(SB)/8, $0x0000000000000004
GLOBL shr0044<>(SB), RODATA|NOPTR, $64

DATA shr0022<>+0(SB)/8, $0x0000000000000000
DATA shr0022<>+8(SB)/8, $0x0000000000000000
DATA shr0022<>+16(SB)/8, $0x0000000000000000
DATA shr0022<>+24(SB)/8, $0x0000000000000000
DATA shr0022<>+32(SB)/8, $0x0000000000000002
DATA shr0022<>+40(SB)/8, $0x0000000000000002
DATA shr0022<>+48(SB)/8, $0x0000000000000002
DATA shr0022<>+56(SB)/8, $0x0000000000000002
GLOBL shr0022<>(SB), RODATA|NOPTR, $64

DATA shr4466<>+0(SB)/8, $0x0000000000000004
DATA shr4466<>+8(SB)/8, $0x0000000000000004
DATA shr4466<>+16(SB)/8, $0x0000000000000004
DATA shr4466<>+24(SB)/8, $0x0000000000000004
DATA shr4466<>+32(SB)/8, $0x0000000000000006
DATA shr4466<>+40(SB)/8, $0x0000000000000006
DATA shr4466<>+48(SB)/8, $0x0000000000000006
DATA shr4466<>+56(SB)/8, $0x0000000000000006
GLOBL shr4466<>(SB), RODATA|NOPTR, $64

DATA q4kIdx<>+0(SB)/8, $0x0000000000000000
DATA q4kIdx<>+8(SB)/8, $0x0000000000000000
DATA q4kIdx<>+16(SB)/8, $0x0000000000000000
DATA q4kIdx<>+24(SB)/8, $0x0000000000000000
DATA q4kIdx<>+32(SB)/8, $0x0001000100010001
DATA q4kIdx<>+40(SB)/8, $0x0001000100010001
DATA q4kIdx<>+48(SB)/8, $0x0001000100010001
DATA q4kIdx<>+56(SB)/8, $0x0001000100010001
DATA q4kIdx<>+64(SB)/8, $0x0002000200020002
DATA q4kIdx<>+72(SB)/8, $0x0002000200020002
DATA q4kIdx<>+80(SB)/8, $0x0002000200020002
DATA q4kIdx<>+88(SB)/8, $0x0002000200020002
DATA q4kIdx<>+96(SB)/8, $0x0003000300030003
DATA q4kIdx<>+104(SB)/8, $0x0003000300030003
DATA q4kIdx<>+112(SB)/8, $0x0003000300030003
DATA q4kIdx<>+120(SB)/8, $0x0003000300030003
DATA q4kIdx<>+128(SB)/8, $0x0004000400040004
DATA q4kIdx<>+136(SB)/8, $0x0004000400040004
DATA q4kIdx<>+144(SB)/8, $0x0004000400040004
DATA q4kIdx<>+152(SB)/8, $0x0004000400040004
DATA q4kIdx<>+160(SB)/8, $0x0005000500050005
DATA q4kIdx<>+168(SB)/8, $0x0005000500050005
DATA q4kIdx<>+176(SB)/8, $0x0005000500050005
DATA q4kIdx<>+184(SB)/8, $0x0005000500050005
DATA q4kIdx<>+192(SB)/8, $0x0006000600060006
DATA q4kIdx<>+200(SB)/8, $0x0006000600060006
DATA q4kIdx<>+208(SB)/8, $0x0006000600060006
DATA q4kIdx<>+216(SB)/8, $0x0006000600060006
DATA q4kIdx<>+224(SB)/8, $0x0007000700070007
DATA q4kIdx<>+232(SB)/8, $0x0007000700070007
DATA q4kIdx<>+240(SB)/8, $0x0007000700070007
DATA q4kIdx<>+248(SB)/8, $0x0007000700070007
GLOBL q4kIdx<>(SB), RODATA|NOPTR, $256

DATA q6kIdx<>+0(SB)/8, $0x0000000000000000
DATA q6kIdx<>+8(SB)/8, $0x0000000000000000
DATA q6kIdx<>+16(SB)/8, $0x0001000100010001
DATA q6kIdx<>+24(SB)/8, $0x0001000100010001
DATA q6kIdx<>+32(SB)/8, $0x0002000200020002
DATA q6kIdx<>+40(SB)/8, $0x0002000200020002
DATA q6kIdx<>+48(SB)/8, $0x0003000300030003
DATA q6kIdx<>+56(SB)/8, $0x0003000300030003
DATA q6kIdx<>+64(SB)/8, $0x0004000400040004
DATA q6kIdx<>+72(SB)/8, $0x0004000400040004
DATA q6kIdx<>+80(SB)/8, $0x0005000500050005
DATA q6kIdx<>+88(SB)/8, $0x0005000500050005
DATA q6kIdx<>+96(SB)/8, $0x0006000600060006
DATA q6kIdx<>+104(SB)/8, $0x0006000600060006
DATA q6kIdx<>+112(SB)/8, $0x0007000700070007
DATA q6kIdx<>+120(SB)/8, $0x0007000700070007
DATA q6kIdx<>+128(SB)/8, $0x0008000800080008
DATA q6kIdx<>+136(SB)/8, $0x0008000800080008
DATA q6kIdx<>+144(SB)/8, $0x0009000900090009
DATA q6kIdx<>+152(SB)/8, $0x0009000900090009
DATA q6kIdx<>+160(SB)/8, $0x000a000a000a000a
DATA q6kIdx<>+168(SB)/8, $0x000a000a000a000a
DATA q6kIdx<>+176(SB)/8, $0x000b000b000b000b
DATA q6kIdx<>+184(SB)/8, $0x000b000b000b000b
DATA q6kIdx<>+192(SB)/8, $0x000c000c000c000c
DATA q6kIdx<>+200(SB)/8, $0x000c000c000c000c
DATA q6kIdx<>+208(SB)/8, $0x000d000d000d000d
DATA q6kIdx<>+216(SB)/8, $0x000d000d000d000d
DATA q6kIdx<>+224(SB)/8, $0x000e000e000e000e
DATA q6kIdx<>+232(SB)/8, $0x000e000e000e000e
DATA q6kIdx<>+240(SB)/8, $0x000f000f000f000f
DATA q6kIdx<>+248(SB)/8, $0x000f000f000f000f
GLOBL q6kIdx<>(SB), RODATA|NOPTR, $256

// Four-token forms, bit for bit the AVX2 four-token kernels (and so four
// calls of the one-token kernels): each weight group is unpacked once into a
// 64-byte register and multiplied with the four tokens' activations.

// HSUMY4 reduces the eight floats of acc to its low lane as HSUM8 does, in
// place, using X5.
#define HSUMY4(acc, xacc) \
	VEXTRACTF128 $1, acc, X5     \
	VADDPS       xacc, X5, xacc  \
	VMOVHLPS     xacc, xacc, X5  \
	VADDPS       X5, xacc, xacc  \
	VMOVSHDUP    xacc, X5        \
	VADDSS       X5, xacc, xacc

// Q4KMINS4 updates the four-lane min accumulator of one token (at am on the
// stack) for the block at SI and the token's q8_K block at y (bsums at
// ysums).
#define Q4KMINS4(ysums, y, am) \
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

// Q4KTOKZ adds one token's products of the group in Z1 (quants) and Z2
// (scales) to sumi.
#define Q4KTOKZ(y, sumi) \
	VPMADDUBSW y, Z1, Z5 \
	VPMADDWD   Z2, Z5, Z5 \
	VPADDD     Z5, sumi, sumi

#define Q4KG4Z(g, idx) \
	VBROADCASTI64X4 (16+32*(g))(SI), Z1          \
	VPSRLVQ         Z21, Z1, Z1                  \
	VPANDQ          Z20, Z1, Z1                  \
	VPERMW          Z3, idx, Z2                  \
	Q4KTOKZ((4+64*(g))(DI), Z7)                  \
	Q4KTOKZ((4+64*(g))(DI)(AX*1), Z8)            \
	Q4KTOKZ((4+64*(g))(DI)(AX*2), Z9)            \
	Q4KTOKZ((4+64*(g))(BX), Z10)

// Q4KFMA4 folds one token's 16 lane sums to ggml's eight and adds d*sumi
// to its accumulator.
#define Q4KFMA4(y, sumi, ysumi, acc) \
	VEXTRACTI64X4 $1, sumi, Y0       \
	VPADDD        Y0, ysumi, ysumi   \
	VMOVSS        y, X0              \
	VMULSS        xd-88(SP), X0, X0  \
	VBROADCASTSS  X0, Y0             \
	VCVTDQ2PS     ysumi, ysumi       \
	VFMADD231PS   ysumi, Y0, acc

#define Q4KOUT4(acc, xacc, am, off) \
	HSUMY4(acc, xacc)           \
	VMOVUPS   am, X0            \
	VMOVHLPS  X0, X0, X5        \
	VADDPS    X5, X0, X0        \
	VMOVSHDUP X0, X5            \
	VADDSS    X5, X0, X0        \
	VADDSS    X0, xacc, xacc    \
	MOVSS     xacc, off(R10)

// func dotQ4KAVX512x4(x, y *byte, ystride, nb int, dst *float32)
TEXT ·dotQ4KAVX512x4(SB), NOSPLIT, $112-40
	MOVQ      x+0(FP), SI
	MOVQ      y+8(FP), DI
	MOVQ      ystride+16(FP), AX
	MOVQ      nb+24(FP), CX
	LEAQ      (DI)(AX*2), BX
	ADDQ      AX, BX
	VXORPS    Y11, Y11, Y11
	VXORPS    Y12, Y12, Y12
	VXORPS    Y13, Y13, Y13
	VXORPS    Y14, Y14, Y14
	VXORPS    X0, X0, X0
	VMOVUPS   X0, am0-80(SP)
	VMOVUPS   X0, am1-64(SP)
	VMOVUPS   X0, am2-48(SP)
	VMOVUPS   X0, am3-112(SP)
	VMOVDQU64 b0f64<>(SB), Z20
	VMOVDQU64 shr0044<>(SB), Z21
	VMOVDQU64 q4kIdx<>+0(SB), Z16
	VMOVDQU64 q4kIdx<>+64(SB), Z17
	VMOVDQU64 q4kIdx<>+128(SB), Z18
	VMOVDQU64 q4kIdx<>+192(SB), Z19
	TESTQ     CX, CX
	JLE       q4kz4done

q4kz4loop:
	MOVL      4(SI), R8
	MOVL      8(SI), R9
	MOVL      12(SI), R10
	MOVL      R10, R11
	SHRL      $4, R11
	ANDL      $0x0f0f0f0f, R11
	MOVL      R9, DX
	SHRL      $6, DX
	ANDL      $0x03030303, DX
	SHLL      $4, DX
	ORL       DX, R11
	MOVL      R9, R12
	ANDL      $0x3f3f3f3f, R12
	MOVL      R10, R13
	ANDL      $0x0f0f0f0f, R13
	MOVL      R8, DX
	SHRL      $6, DX
	ANDL      $0x03030303, DX
	SHLL      $4, DX
	ORL       DX, R13
	ANDL      $0x3f3f3f3f, R8
	VMOVD     R8, X3
	VPINSRD   $1, R13, X3, X3
	VPMOVZXBW X3, X3
	VMOVD     R12, X9
	VPINSRD   $1, R11, X9, X9
	VPMOVZXBW X9, X9
	VMOVDQU   X9, mn-32(SP)
	MOVWLZX   (SI), DX
	VMOVD     DX, X0
	VCVTPH2PS X0, X0
	VMOVSS    X0, xd-88(SP)
	MOVWLZX   2(SI), DX
	VMOVD     DX, X0
	VCVTPH2PS X0, X0
	VMOVSS    X0, xm-84(SP)

	Q4KMINS4(260(DI), (DI), am0-80(SP))
	Q4KMINS4(260(DI)(AX*1), (DI)(AX*1), am1-64(SP))
	Q4KMINS4(260(DI)(AX*2), (DI)(AX*2), am2-48(SP))
	Q4KMINS4(260(BX), (BX), am3-112(SP))

	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	Q4KG4Z(0, Z16)
	Q4KG4Z(1, Z17)
	Q4KG4Z(2, Z18)
	Q4KG4Z(3, Z19)

	Q4KFMA4((DI), Z7, Y7, Y11)
	Q4KFMA4((DI)(AX*1), Z8, Y8, Y12)
	Q4KFMA4((DI)(AX*2), Z9, Y9, Y13)
	Q4KFMA4((BX), Z10, Y10, Y14)

	ADDQ $144, SI
	ADDQ $292, DI
	ADDQ $292, BX
	DECQ CX
	JNZ  q4kz4loop

q4kz4done:
	MOVQ dst+32(FP), R10
	Q4KOUT4(Y11, X11, am0-80(SP), 0)
	Q4KOUT4(Y12, X12, am1-64(SP), 4)
	Q4KOUT4(Y13, X13, am2-48(SP), 8)
	Q4KOUT4(Y14, X14, am3-112(SP), 12)
	VZEROUPPER
	RET

// Q6KTOKZ adds one token's scaled lane sums for the group in Z4 (quants)
// and Z2 (int16 scales). Needs Z15 = 0x20 bytes.
#define Q6KTOKZ(y, sumi) \
	VMOVDQU64  y, Z0       \
	VPMADDUBSW Z0, Z15, Z6 \
	VPMADDUBSW Z0, Z4, Z0  \
	VPSUBW     Z6, Z0, Z0  \
	VPMADDWD   Z2, Z0, Z0  \
	VPADDD     Z0, sumi, sumi

#define Q6KGROUPZ4(yoff, idx) \
	VPERMW Z24, idx, Z2          \
	Q6KTOKZ(yoff(DI), Z7)        \
	Q6KTOKZ(yoff(DI)(AX*1), Z8)  \
	Q6KTOKZ(yoff(DI)(AX*2), Z9)  \
	Q6KTOKZ(yoff(BX), Z10)

#define Q6KHALFZ4(h, idxA, idxB) \
	VMOVDQU64       (64*(h))(SI), Z25     \
	VBROADCASTI64X4 (128+32*(h))(SI), Z26 \
	VPSRLVQ         Z22, Z26, Z27         \
	VPANDQ          Z21, Z27, Z27         \
	VPSLLQ          $4, Z27, Z27          \
	VPANDQ          Z20, Z25, Z4          \
	VPORQ           Z27, Z4, Z4           \
	Q6KGROUPZ4(4+128*(h), idxA)           \
	VPSRLVQ         Z23, Z26, Z27         \
	VPANDQ          Z21, Z27, Z27         \
	VPSLLQ          $4, Z27, Z27          \
	VPSRLQ          $4, Z25, Z4           \
	VPANDQ          Z20, Z4, Z4           \
	VPORQ           Z27, Z4, Z4           \
	Q6KGROUPZ4(4+128*(h)+64, idxB)

#define Q6KFMA4(y, sumi, ysumi, acc) \
	VEXTRACTI64X4 $1, sumi, Y0       \
	VPADDD        Y0, ysumi, ysumi   \
	VMOVSS        y, X0              \
	VMULSS        xd-8(SP), X0, X0   \
	VBROADCASTSS  X0, Y0             \
	VCVTDQ2PS     ysumi, ysumi       \
	VFMADD231PS   ysumi, Y0, acc

// func dotQ6KAVX512x4(x, y *byte, ystride, nb int, dst *float32)
TEXT ·dotQ6KAVX512x4(SB), NOSPLIT, $8-40
	MOVQ      x+0(FP), SI
	MOVQ      y+8(FP), DI
	MOVQ      ystride+16(FP), AX
	MOVQ      nb+24(FP), CX
	LEAQ      (DI)(AX*2), BX
	ADDQ      AX, BX
	VXORPS    Y11, Y11, Y11
	VXORPS    Y12, Y12, Y12
	VXORPS    Y13, Y13, Y13
	VXORPS    Y14, Y14, Y14
	VMOVDQU64 b2064<>(SB), Z15
	VMOVDQU64 b0f64<>(SB), Z20
	VMOVDQU64 b0364<>(SB), Z21
	VMOVDQU64 shr0022<>(SB), Z22
	VMOVDQU64 shr4466<>(SB), Z23
	VMOVDQU64 q6kIdx<>+0(SB), Z16
	VMOVDQU64 q6kIdx<>+64(SB), Z17
	VMOVDQU64 q6kIdx<>+128(SB), Z18
	VMOVDQU64 q6kIdx<>+192(SB), Z19
	TESTQ     CX, CX
	JLE       q6kz4done

q6kz4loop:
	MOVWLZX   208(SI), DX
	VMOVD     DX, X0
	VCVTPH2PS X0, X0
	VMOVSS    X0, xd-8(SP)
	VPMOVSXBW 192(SI), Y24
	VPXORD    Z7, Z7, Z7
	VPXORD    Z8, Z8, Z8
	VPXORD    Z9, Z9, Z9
	VPXORD    Z10, Z10, Z10
	Q6KHALFZ4(0, Z16, Z17)
	Q6KHALFZ4(1, Z18, Z19)
	Q6KFMA4((DI), Z7, Y7, Y11)
	Q6KFMA4((DI)(AX*1), Z8, Y8, Y12)
	Q6KFMA4((DI)(AX*2), Z9, Y9, Y13)
	Q6KFMA4((BX), Z10, Y10, Y14)
	ADDQ $210, SI
	ADDQ $292, DI
	ADDQ $292, BX
	DECQ CX
	JNZ  q6kz4loop

q6kz4done:
	MOVQ  dst+32(FP), R10
	HSUMY4(Y11, X11)
	MOVSS X11, 0(R10)
	HSUMY4(Y12, X12)
	MOVSS X12, 4(R10)
	HSUMY4(Y13, X13)
	MOVSS X13, 8(R10)
	HSUMY4(Y14, X14)
	MOVSS X14, 12(R10)
	VZEROUPPER
	RET

// Q40ROWPAIR adds to accumulator A the two blocks at P (one weight row) dotted
// with the activation pair in Z3, exactly as one step of dotQ4_0VNNI's pair
// loop: Z7 holds the two activation scales (low and high half), Z9 the
// per-lane -8*sum(y) of both blocks, so the integer lane sums equal
// sum(q*y) - 8*sum(y) there. The nibbles are unpacked without shuffles: each
// block's 16 bytes broadcast to two 128-bit lanes (K1 = 0xff00 puts the
// second block in the top two), Z16 shifts the odd lanes' qwords right by 4,
// and the 0x0f mask leaves [lo0 hi0 lo1 hi1], the activations' order; K2 =
// 0xff00 puts the second block's scale in the high eight halves.
#define Q40ROWPAIR(P, A) \
	VPBROADCASTW   (P), Y6               \
	VPBROADCASTW   18(P), K2, Y6         \
	VCVTPH2PS      Y6, Z6                \
	VMULPS         Z7, Z6, Z6            \
	VBROADCASTI32X4 2(P), Z1             \
	VBROADCASTI32X4 20(P), K1, Z1        \
	VPSRLVQ        Z16, Z1, Z1           \
	VPANDQ         Z15, Z1, Z1           \
	VMOVDQA64      Z9, Z4            \
	VPDPBUSD       Z3, Z1, Z4        \
	VCVTDQ2PS      Z4, Z4            \
	VFMADD231PS    Y4, Y6, A         \
	VEXTRACTF64X4  $1, Z4, Y4        \
	VEXTRACTF64X4  $1, Z6, Y6        \
	VFMADD231PS    Y4, Y6, A

// Q40ROWONE is Q40ROWPAIR for the last block of an odd count (dotQ4_0VNNI's
// tail): Y7 the activation scale, Y9 the lanes' -8*sum(y), Y3 activations.
#define Q40ROWONE(P, A) \
	VPBROADCASTW (P), X6        \
	VCVTPH2PS    X6, Y6         \
	VMULPS       Y7, Y6, Y6     \
	VMOVDQU      2(P), X1       \
	VPSRLW       $4, X1, X2     \
	VINSERTI128  $1, X2, Y1, Y1 \
	VPAND        Y15, Y1, Y1    \
	VMOVDQA      Y9, Y4         \
	VPDPBUSD     Y3, Y1, Y4     \
	VCVTDQ2PS    Y4, Y4         \
	VFMADD231PS  Y4, Y6, A

// func dotQ4_0VNNIx4(x, y *byte, nb int, dst *float32)
// Four contiguous weight rows (row stride 18*nb bytes) against one
// activation row: dst[r] = dotQ4_0VNNI(x + r*18*nb, y, nb) bit for bit. The
// activation load, its scale and its -8*sum(y) correction are computed once
// per block pair for all four rows, and the four rows accumulate in four
// independent registers. Reading four rows side by side defeats the hardware
// stream prefetcher (a DRAM-sized matrix ran slower than one row at a time),
// so R11 walks the rows two tiles ahead (eight rows on) sequentially, 144
// bytes per pair, as software prefetches (one tile ahead decoded the 1.1B
// q4_0 layout about 5% slower, three no faster); past the matrix end they
// are harmless hints.
TEXT ·dotQ4_0VNNIx4(SB), NOSPLIT, $0-32
	MOVQ      x+0(FP), SI
	MOVQ      y+8(FP), DI
	MOVQ      nb+16(FP), CX
	MOVQ      dst+24(FP), BX
	LEAQ      (CX)(CX*8), DX
	SHLQ      $1, DX
	LEAQ      (SI)(DX*1), R8
	LEAQ      (R8)(DX*1), R9
	LEAQ      (R9)(DX*1), R10
	LEAQ      (R10)(DX*4), R11
	ADDQ      DX, R11
	VXORPS    Y10, Y10, Y10
	VXORPS    Y11, Y11, Y11
	VXORPS    Y12, Y12, Y12
	VXORPS    Y13, Y13, Y13
	VMOVDQU64 b0f64<>(SB), Z15
	VMOVDQU64 b0864<>(SB), Z14
	MOVL      $0xff00, AX
	KMOVW     AX, K1
	KMOVW     AX, K2
	VPXORQ    Z16, Z16, Z16
	MOVL      $4, AX
	VPBROADCASTQ AX, Z0
	MOVB      $0xcc, AX
	KMOVB     AX, K3
	VMOVDQA64 Z0, K3, Z16
	CMPQ      CX, $2
	JLT       q40x4tail

q40x4pair:
	VPBROADCASTW  (DI), X7
	VPBROADCASTW  34(DI), X8
	VINSERTI128   $1, X8, Y7, Y7
	VCVTPH2PS     Y7, Z7
	VMOVDQU       2(DI), Y3
	VINSERTI64X4  $1, 36(DI), Z3, Z3
	VPXORQ        Z5, Z5, Z5
	VPDPBUSD      Z3, Z14, Z5
	VPXORQ        Z9, Z9, Z9
	VPSUBD        Z5, Z9, Z9
	PREFETCHT0    (R11)
	PREFETCHT0    64(R11)
	PREFETCHT0    128(R11)
	ADDQ          $144, R11
	Q40ROWPAIR(SI, Y10)
	Q40ROWPAIR(R8, Y11)
	Q40ROWPAIR(R9, Y12)
	Q40ROWPAIR(R10, Y13)
	ADDQ          $36, SI
	ADDQ          $36, R8
	ADDQ          $36, R9
	ADDQ          $36, R10
	ADDQ          $68, DI
	SUBQ          $2, CX
	CMPQ          CX, $2
	JGE           q40x4pair

q40x4tail:
	TESTQ        CX, CX
	JLE          q40x4done
	VPBROADCASTW (DI), X7
	VCVTPH2PS    X7, Y7
	VMOVDQU      2(DI), Y3
	VPXOR        Y5, Y5, Y5
	VPDPBUSD     Y3, Y14, Y5
	VPXOR        Y9, Y9, Y9
	VPSUBD       Y5, Y9, Y9
	Q40ROWONE(SI, Y10)
	Q40ROWONE(R8, Y11)
	Q40ROWONE(R9, Y12)
	Q40ROWONE(R10, Y13)

q40x4done:
	VMOVAPS Y10, Y0
	HSUM8Z
	MOVSS   X1, 0(BX)
	VMOVAPS Y11, Y0
	HSUM8Z
	MOVSS   X1, 4(BX)
	VMOVAPS Y12, Y0
	HSUM8Z
	MOVSS   X1, 8(BX)
	VMOVAPS Y13, Y0
	HSUM8Z
	MOVSS   X1, 12(BX)
	VZEROUPPER
	RET
