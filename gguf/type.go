package gguf

import "fmt"

// Type is a ggml tensor type id as stored in a GGUF tensor info.
type Type uint32

// The ggml tensor types. Ids 4, 5, 31–33 and 36–38 belonged to layouts that
// llama.cpp has removed; files using them are rejected as unknown.
const (
	TypeF32     Type = 0
	TypeF16     Type = 1
	TypeQ4_0    Type = 2
	TypeQ4_1    Type = 3
	TypeQ5_0    Type = 6
	TypeQ5_1    Type = 7
	TypeQ8_0    Type = 8
	TypeQ8_1    Type = 9
	TypeQ2_K    Type = 10
	TypeQ3_K    Type = 11
	TypeQ4_K    Type = 12
	TypeQ5_K    Type = 13
	TypeQ6_K    Type = 14
	TypeQ8_K    Type = 15
	TypeIQ2_XXS Type = 16
	TypeIQ2_XS  Type = 17
	TypeIQ3_XXS Type = 18
	TypeIQ1_S   Type = 19
	TypeIQ4_NL  Type = 20
	TypeIQ3_S   Type = 21
	TypeIQ2_S   Type = 22
	TypeIQ4_XS  Type = 23
	TypeI8      Type = 24
	TypeI16     Type = 25
	TypeI32     Type = 26
	TypeI64     Type = 27
	TypeF64     Type = 28
	TypeIQ1_M   Type = 29
	TypeBF16    Type = 30
	TypeTQ1_0   Type = 34
	TypeTQ2_0   Type = 35
	TypeMXFP4   Type = 39
)

// typeInfo is the storage layout of one ggml type: BlockSize elements are
// stored in BlockBytes bytes.
type typeInfo struct {
	name       string
	blockSize  uint64
	blockBytes uint64
}

// typeTable holds every type current llama.cpp (ggml.c type_traits) can store.
var typeTable = [...]typeInfo{
	TypeF32:     {"f32", 1, 4},
	TypeF16:     {"f16", 1, 2},
	TypeQ4_0:    {"q4_0", 32, 2 + 16},
	TypeQ4_1:    {"q4_1", 32, 2 + 2 + 16},
	TypeQ5_0:    {"q5_0", 32, 2 + 4 + 16},
	TypeQ5_1:    {"q5_1", 32, 2 + 2 + 4 + 16},
	TypeQ8_0:    {"q8_0", 32, 2 + 32},
	TypeQ8_1:    {"q8_1", 32, 2 + 2 + 32},
	TypeQ2_K:    {"q2_K", 256, 16 + 64 + 2 + 2},
	TypeQ3_K:    {"q3_K", 256, 32 + 64 + 12 + 2},
	TypeQ4_K:    {"q4_K", 256, 2 + 2 + 12 + 128},
	TypeQ5_K:    {"q5_K", 256, 2 + 2 + 12 + 32 + 128},
	TypeQ6_K:    {"q6_K", 256, 128 + 64 + 16 + 2},
	TypeQ8_K:    {"q8_K", 256, 4 + 256 + 32},
	TypeIQ2_XXS: {"iq2_xxs", 256, 2 + 64},
	TypeIQ2_XS:  {"iq2_xs", 256, 2 + 64 + 8},
	TypeIQ3_XXS: {"iq3_xxs", 256, 2 + 96},
	TypeIQ1_S:   {"iq1_s", 256, 2 + 32 + 16},
	TypeIQ4_NL:  {"iq4_nl", 32, 2 + 16},
	TypeIQ3_S:   {"iq3_s", 256, 2 + 64 + 8 + 32 + 4},
	TypeIQ2_S:   {"iq2_s", 256, 2 + 64 + 8 + 8},
	TypeIQ4_XS:  {"iq4_xs", 256, 2 + 2 + 4 + 128},
	TypeI8:      {"i8", 1, 1},
	TypeI16:     {"i16", 1, 2},
	TypeI32:     {"i32", 1, 4},
	TypeI64:     {"i64", 1, 8},
	TypeF64:     {"f64", 1, 8},
	TypeIQ1_M:   {"iq1_m", 256, 32 + 16 + 8},
	TypeBF16:    {"bf16", 1, 2},
	TypeTQ1_0:   {"tq1_0", 256, 48 + 4 + 2},
	TypeTQ2_0:   {"tq2_0", 256, 64 + 2},
	TypeMXFP4:   {"mxfp4", 32, 1 + 16},
}

func (t Type) info() (typeInfo, bool) {
	if int(t) >= len(typeTable) || typeTable[t].blockSize == 0 {
		return typeInfo{}, false
	}
	return typeTable[t], true
}

// Known reports whether t is a type current llama.cpp can store.
func (t Type) Known() bool { _, ok := t.info(); return ok }

// String returns the type name as ggml spells it ("q4_K", "f16"), or
// "type(N)" for an unknown id.
func (t Type) String() string {
	if ti, ok := t.info(); ok {
		return ti.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// BlockSize is the number of elements in one quantization block (1 for
// plain types); 0 for an unknown type.
func (t Type) BlockSize() uint64 { ti, _ := t.info(); return ti.blockSize }

// BlockBytes is the number of bytes one block occupies; 0 for an unknown type.
func (t Type) BlockBytes() uint64 { ti, _ := t.info(); return ti.blockBytes }

// RowBytes returns the bytes a row of n elements occupies, or false when n is
// not a whole number of blocks or the type is unknown.
func (t Type) RowBytes(n uint64) (uint64, bool) {
	ti, ok := t.info()
	if !ok || n%ti.blockSize != 0 {
		return 0, false
	}
	hi, lo := mul64(n/ti.blockSize, ti.blockBytes)
	if hi {
		return 0, false
	}
	return lo, true
}

// ParseType returns the type with the ggml name s ("q4_K", "Q4_K", "f16").
// Matching ignores case.
func ParseType(s string) (Type, bool) {
	for i, ti := range typeTable {
		if ti.blockSize != 0 && equalFold(ti.name, s) {
			return Type(i), true
		}
	}
	return 0, false
}

// Types lists every known type in id order.
func Types() []Type {
	var ts []Type
	for i, ti := range typeTable {
		if ti.blockSize != 0 {
			ts = append(ts, Type(i))
		}
	}
	return ts
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// mul64 multiplies a and b and reports overflow.
func mul64(a, b uint64) (overflow bool, p uint64) {
	if a == 0 || b == 0 {
		return false, 0
	}
	p = a * b
	return p/b != a, p
}
