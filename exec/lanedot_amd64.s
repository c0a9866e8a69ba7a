//go:build !purego

#include "textflag.h"

// func laneDots16(a *byte, stride int, b *float32, n, rows int, out *float32)
// out[r] = the 16-lane dot of the n f16 values at a+r*stride with b[:n]:
// lane i accumulates products i, i+16, ... by FMA (the products of f16
// values are exact in float32, so this rounds as tinyBLAS's multiply-add),
// then the lanes are summed in the halving order of hsum. n is a multiple
// of 16.
TEXT ·laneDots16(SB), NOSPLIT, $0-48
	MOVQ  a+0(FP), SI
	MOVQ  stride+8(FP), R8
	MOVQ  b+16(FP), DI
	MOVQ  n+24(FP), CX
	MOVQ  rows+32(FP), DX
	MOVQ  out+40(FP), R9
	TESTQ DX, DX
	JLE   ldone

lrow:
	VPXORD Z0, Z0, Z0
	XORQ   AX, AX
	TESTQ  CX, CX
	JLE    lreduce

linner:
	VCVTPH2PS   (SI)(AX*2), Z1
	VFMADD231PS (DI)(AX*4), Z1, Z0
	ADDQ        $16, AX
	CMPQ        AX, CX
	JLT         linner

lreduce:
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	VMOVHLPS      X0, X0, X1
	VADDPS        X1, X0, X0
	VMOVSHDUP     X0, X1
	VADDSS        X1, X0, X0
	VMOVSS        X0, (R9)
	ADDQ          $4, R9
	ADDQ          R8, SI
	DECQ          DX
	JNZ           lrow

ldone:
	VZEROUPPER
	RET
