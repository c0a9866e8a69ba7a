//go:build !purego

#include "textflag.h"

// ggml's AVX-512 exp (ggml_v_expf in ggml-cpu/vec.h) on 16 lanes, its
// operations in its order, so that every lane is vexpf512's value: the
// constants go in Z19-Z31 (CONSTS), x in Z1, the result in Z2; clobbers
// Z4-Z12, K1, K2.
#define CONSTS \
	MOVL $0x4b400000, AX \
	VPBROADCASTD AX, Z31 \
	MOVL $0x3fb8aa3b, AX \
	VPBROADCASTD AX, Z30 \
	MOVL $0x3f317200, AX \
	VPBROADCASTD AX, Z29 \
	MOVL $0x35bfbe8e, AX \
	VPBROADCASTD AX, Z28 \
	MOVL $0x43400000, AX \
	VPBROADCASTD AX, Z27 \
	MOVL $0x3c072010, AX \
	VPBROADCASTD AX, Z26 \
	MOVL $0x3d2b9f17, AX \
	VPBROADCASTD AX, Z25 \
	MOVL $0x3e2aaf33, AX \
	VPBROADCASTD AX, Z24 \
	MOVL $0x3efffedb, AX \
	VPBROADCASTD AX, Z23 \
	MOVL $0x3f7ffff6, AX \
	VPBROADCASTD AX, Z22 \
	MOVL $0x3f800000, AX \
	VPBROADCASTD AX, Z21 \
	MOVL $0x7f800000, AX \
	VPBROADCASTD AX, Z20 \
	MOVL $0x7fffffff, AX \
	VPBROADCASTD AX, Z19 \
	VPXORD Z18, Z18, Z18

#define EXP \
	VMOVAPS      Z31, Z4           \
	VFMADD231PS  Z30, Z1, Z4       \
	VSUBPS       Z31, Z4, Z5       \
	VMOVAPS      Z1, Z6            \
	VFNMADD231PS Z29, Z5, Z6       \
	VFNMADD231PS Z28, Z5, Z6       \
	VANDPS       Z19, Z5, Z7       \
	VCMPPS       $0x1e, Z27, Z7, K1 \
	VMULPS       Z6, Z6, Z8        \
	VMOVAPS      Z25, Z9           \
	VFMADD231PS  Z26, Z6, Z9       \
	VMOVAPS      Z23, Z10          \
	VFMADD231PS  Z24, Z6, Z10      \
	VFMADD231PS  Z9, Z8, Z10       \
	VMOVAPS      Z21, Z11          \
	VFMADD231PS  Z22, Z6, Z11      \
	VFMADD231PS  Z10, Z8, Z11      \
	VSCALEFPS    Z5, Z11, Z2       \
	VCMPPS       $0x12, Z18, Z5, K2 \
	VBLENDMPS    Z18, Z20, K2, Z12 \
	VBLENDMPS    Z12, Z2, K1, Z2

// func swiglu16(gate, up *float32, n int)
// g[i] = g[i] / (1 + exp(0 - g[i])) * u[i] for n a multiple of 16, as
// ggml_vec_swiglu_f32 (ggml_v_silu times the gate).
TEXT ·swiglu16(SB), NOSPLIT, $0-24
	MOVQ gate+0(FP), DI
	MOVQ up+8(FP), SI
	MOVQ n+16(FP), CX
	CONSTS
	SHRQ $4, CX
	JZ   swdone

swloop:
	VMOVUPS (DI), Z0
	VSUBPS  Z0, Z18, Z1
	EXP
	VADDPS  Z21, Z2, Z2
	VDIVPS  Z2, Z0, Z3
	VMULPS  (SI), Z3, Z3
	VMOVUPS Z3, (DI)
	ADDQ    $64, DI
	ADDQ    $64, SI
	DECQ    CX
	JNZ     swloop

swdone:
	VZEROUPPER
	RET

// func expSub16(x *float32, n int, mx float32)
// x[i] = exp(x[i] - mx) for n a multiple of 16.
TEXT ·expSub16(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), DI
	MOVQ         n+8(FP), CX
	VBROADCASTSS mx+16(FP), Z17
	CONSTS
	SHRQ $4, CX
	JZ   esdone

esloop:
	VMOVUPS (DI), Z0
	VSUBPS  Z17, Z0, Z1
	EXP
	VMOVUPS Z2, (DI)
	ADDQ    $64, DI
	DECQ    CX
	JNZ     esloop

esdone:
	VZEROUPPER
	RET
