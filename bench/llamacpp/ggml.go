// Package llamacpp calls the llama.cpp and ggml C libraries vendored in
// github.com/ollama/ollama (built through cgo from the module proxy), so
// that modelfit can be checked against, and timed against, the real thing.
//
// Build every program that imports it with the same
// CGO_CFLAGS/CGO_CXXFLAGS (see bench/README.md): the C build takes 10+
// minutes and is only reused from the Go build cache when the flags match.
package llamacpp

//go:generate go run ../internal/geninclude

/*
#include <stdlib.h>
#include "ggml.h"
#include "ggml-cpu.h"

static const char *mf_type_name(int t) { return ggml_get_type_traits((enum ggml_type)t)->type_name; }
static int64_t mf_blck_size(int t) { return ggml_get_type_traits((enum ggml_type)t)->blck_size; }
static size_t mf_type_size(int t) { return ggml_get_type_traits((enum ggml_type)t)->type_size; }
static int mf_has_to_float(int t) { return ggml_get_type_traits((enum ggml_type)t)->to_float != NULL; }
static void mf_to_float(int t, const void *x, float *y, int64_t k) { ggml_get_type_traits((enum ggml_type)t)->to_float(x, y, k); }
static int mf_vec_dot_type(int t) { return (int)ggml_get_type_traits_cpu((enum ggml_type)t)->vec_dot_type; }
static int mf_has_from_float(int t) { return ggml_get_type_traits_cpu((enum ggml_type)t)->from_float != NULL; }
static void mf_from_float(int t, const float *x, void *y, int64_t k) { ggml_get_type_traits_cpu((enum ggml_type)t)->from_float(x, y, k); }
static int mf_has_vec_dot(int t) { return ggml_get_type_traits_cpu((enum ggml_type)t)->vec_dot != NULL; }
static float mf_vec_dot(int t, int n, const void *x, const void *y) {
	float s = 0;
	ggml_get_type_traits_cpu((enum ggml_type)t)->vec_dot(n, &s, 0, x, 0, y, 0, 1);
	return s;
}
*/
import "C"

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"unsafe"

	// The vendored llama.cpp, ggml and ggml CPU backend; compiled through cgo.
	_ "github.com/ollama/ollama/llama/llama.cpp/src"
)

// typeCount bounds the ggml type ids this package accepts (GGML_TYPE_COUNT).
const typeCount = C.GGML_TYPE_COUNT

var cpuInit = sync.OnceFunc(func() { C.ggml_cpu_init() })

// Traits describes one ggml type as ggml's own tables see it.
type Traits struct {
	ID        int    // ggml type id
	Name      string // ggml type name, e.g. "q4_K"
	BlockSize int    // elements per block
	TypeSize  int    // bytes per block
	// VecDotType is the type the CPU backend converts activations to before
	// its dot product with a row of this type.
	VecDotType int
}

// TypeTraits returns ggml's traits for type id t.
func TypeTraits(t int) (Traits, error) {
	if t < 0 || t >= typeCount {
		return Traits{}, fmt.Errorf("llamacpp: type id %d out of range", t)
	}
	cpuInit()
	ct := C.int(t)
	if C.mf_blck_size(ct) == 0 {
		return Traits{}, fmt.Errorf("llamacpp: type id %d is removed from ggml", t)
	}
	return Traits{
		ID:         t,
		Name:       C.GoString(C.mf_type_name(ct)),
		BlockSize:  int(C.mf_blck_size(ct)),
		TypeSize:   int(C.mf_type_size(ct)),
		VecDotType: int(C.mf_vec_dot_type(ct)),
	}, nil
}

// RowBytes is the size of n elements of the type, or an error when n is
// not a whole number of blocks.
func (tr Traits) RowBytes(n int) (int, error) {
	if n <= 0 || n%tr.BlockSize != 0 {
		return 0, fmt.Errorf("llamacpp: %d elements is not a positive multiple of the %s block size %d", n, tr.Name, tr.BlockSize)
	}
	return n / tr.BlockSize * tr.TypeSize, nil
}

// ToFloat dequantizes n elements of type t with ggml's to_float. F32 has
// no to_float in ggml (it is the identity): its raw bytes are decoded as
// little-endian floats.
func ToFloat(t int, raw []byte, n int) ([]float32, error) {
	tr, err := TypeTraits(t)
	if err != nil {
		return nil, err
	}
	if err := tr.check(raw, n); err != nil {
		return nil, err
	}
	out := make([]float32, n)
	if t == C.GGML_TYPE_F32 {
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		return out, nil
	}
	if C.mf_has_to_float(C.int(t)) == 0 {
		return nil, fmt.Errorf("llamacpp: %s has no to_float", tr.Name)
	}
	C.mf_to_float(C.int(t), unsafe.Pointer(&raw[0]), (*C.float)(&out[0]), C.int64_t(n))
	return out, nil
}

// FromFloat converts x to type t with the CPU backend's from_float (the
// routine it uses to quantize activations).
func FromFloat(t int, x []float32) ([]byte, error) {
	tr, err := TypeTraits(t)
	if err != nil {
		return nil, err
	}
	size, err := tr.RowBytes(len(x))
	if err != nil {
		return nil, err
	}
	if C.mf_has_from_float(C.int(t)) == 0 {
		return nil, fmt.Errorf("llamacpp: %s has no CPU from_float", tr.Name)
	}
	out := make([]byte, size)
	C.mf_from_float(C.int(t), (*C.float)(&x[0]), unsafe.Pointer(&out[0]), C.int64_t(len(x)))
	return out, nil
}

// VecDot is the CPU backend's vec_dot of n elements of type t (raw)
// with n elements of its vec_dot type (act).
func VecDot(t int, raw, act []byte, n int) (float32, error) {
	tr, err := TypeTraits(t)
	if err != nil {
		return 0, err
	}
	if err := tr.check(raw, n); err != nil {
		return 0, err
	}
	at, err := TypeTraits(tr.VecDotType)
	if err != nil {
		return 0, err
	}
	if err := at.check(act, n); err != nil {
		return 0, err
	}
	if C.mf_has_vec_dot(C.int(t)) == 0 {
		return 0, fmt.Errorf("llamacpp: %s has no CPU vec_dot", tr.Name)
	}
	return float32(C.mf_vec_dot(C.int(t), C.int(n), unsafe.Pointer(&raw[0]), unsafe.Pointer(&act[0]))), nil
}

// Quantize converts rows of nPerRow f32 values to type t with
// ggml_quantize_chunk (no importance matrix).
func Quantize(t int, x []float32, nPerRow int) ([]byte, error) {
	tr, err := TypeTraits(t)
	if err != nil {
		return nil, err
	}
	rowBytes, err := tr.RowBytes(nPerRow)
	if err != nil {
		return nil, err
	}
	if len(x) == 0 || len(x)%nPerRow != 0 {
		return nil, fmt.Errorf("llamacpp: %d values is not a whole number of %d-value rows", len(x), nPerRow)
	}
	if C.ggml_quantize_requires_imatrix(C.enum_ggml_type(t)) {
		return nil, fmt.Errorf("llamacpp: %s needs an importance matrix", tr.Name)
	}
	rows := len(x) / nPerRow
	out := make([]byte, rows*rowBytes)
	got := C.ggml_quantize_chunk(C.enum_ggml_type(t), (*C.float)(&x[0]), unsafe.Pointer(&out[0]), 0, C.int64_t(rows), C.int64_t(nPerRow), nil)
	if int(got) != len(out) {
		return nil, fmt.Errorf("llamacpp: ggml_quantize_chunk wrote %d bytes, want %d", got, len(out))
	}
	return out, nil
}

func (tr Traits) check(raw []byte, n int) error {
	size, err := tr.RowBytes(n)
	if err != nil {
		return err
	}
	if len(raw) != size {
		return fmt.Errorf("llamacpp: %d bytes for %d %s elements, want %d", len(raw), n, tr.Name, size)
	}
	return nil
}
