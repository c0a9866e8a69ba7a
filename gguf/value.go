package gguf

import (
	"fmt"
	"math"
	"strconv"
)

// ValueType is the type tag of a metadata value.
type ValueType uint32

// The GGUF metadata value types.
const (
	ValueUint8   ValueType = 0
	ValueInt8    ValueType = 1
	ValueUint16  ValueType = 2
	ValueInt16   ValueType = 3
	ValueUint32  ValueType = 4
	ValueInt32   ValueType = 5
	ValueFloat32 ValueType = 6
	ValueBool    ValueType = 7
	ValueString  ValueType = 8
	ValueArray   ValueType = 9
	ValueUint64  ValueType = 10
	ValueInt64   ValueType = 11
	ValueFloat64 ValueType = 12
)

var valueTypeNames = [...]string{"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64"}

// String returns the short name llama.cpp's tools use ("u32", "str", "arr").
func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("valuetype(%d)", uint32(t))
}

// size is the encoded size of a scalar, 0 for strings and arrays.
func (t ValueType) size() int {
	switch t {
	case ValueUint8, ValueInt8, ValueBool:
		return 1
	case ValueUint16, ValueInt16:
		return 2
	case ValueUint32, ValueInt32, ValueFloat32:
		return 4
	case ValueUint64, ValueInt64, ValueFloat64:
		return 8
	}
	return 0
}

// minSize is the fewest bytes one encoded value of type t can take; it bounds
// how many elements an array may claim before anything is allocated.
func (t ValueType) minSize() int {
	switch t {
	case ValueString:
		return 8 // length prefix
	case ValueArray:
		return 12 // element type + count
	}
	return t.size()
}

// Value is one metadata value. Scalars are held as the Go type of the same
// width (uint8 … float64, bool, string); arrays as an Array.
type Value struct {
	Type ValueType
	v    any
}

// Array is a metadata array. Values holds a typed slice: []uint8, []int8,
// []uint16, []int16, []uint32, []int32, []float32, []bool, []string, []uint64,
// []int64, []float64 or, for arrays of arrays, []Array.
type Array struct {
	Elem   ValueType
	Values any
}

// Len is the number of elements.
func (a Array) Len() int {
	switch v := a.Values.(type) {
	case []uint8:
		return len(v)
	case []int8:
		return len(v)
	case []uint16:
		return len(v)
	case []int16:
		return len(v)
	case []uint32:
		return len(v)
	case []int32:
		return len(v)
	case []float32:
		return len(v)
	case []bool:
		return len(v)
	case []string:
		return len(v)
	case []uint64:
		return len(v)
	case []int64:
		return len(v)
	case []float64:
		return len(v)
	case []Array:
		return len(v)
	}
	return 0
}

// Any returns the value as a plain Go value (scalars, strings, Array).
func (v Value) Any() any { return v.v }

// Uint returns an unsigned integer value (any integer type that is not
// negative, or a bool) widened to uint64.
func (v Value) Uint() (uint64, bool) {
	switch x := v.v.(type) {
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	case int8, int16, int32, int64:
		i, _ := v.Int()
		if i < 0 {
			return 0, false
		}
		return uint64(i), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// Int returns a signed integer value (any integer type that fits).
func (v Value) Int() (int64, bool) {
	switch x := v.v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8, uint16, uint32, uint64, bool:
		u, _ := v.Uint()
		if u > math.MaxInt64 {
			return 0, false
		}
		return int64(u), true
	}
	return 0, false
}

// Float returns a numeric value as float64. A float32 is widened through its
// shortest decimal form, so a stored 1e-5 reads as 1e-5, not 9.99999974e-06;
// converting back to float32 gives the stored bits.
func (v Value) Float() (float64, bool) {
	switch x := v.v.(type) {
	case float32:
		f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(x), 'g', -1, 32), 64)
		return f, true
	case float64:
		return x, true
	}
	if i, ok := v.Int(); ok {
		return float64(i), true
	}
	if u, ok := v.Uint(); ok {
		return float64(u), true
	}
	return 0, false
}

// String returns a string value; for other types it returns a readable
// rendering and is meant for display only.
func (v Value) String() string {
	switch x := v.v.(type) {
	case string:
		return x
	case Array:
		return fmt.Sprintf("[%d × %s]", x.Len(), x.Elem)
	case nil:
		return ""
	}
	return fmt.Sprint(v.v)
}

// Str returns a string value and whether v is a string.
func (v Value) Str() (string, bool) { s, ok := v.v.(string); return s, ok }

// Bool returns a bool value.
func (v Value) Bool() (bool, bool) { b, ok := v.v.(bool); return b, ok }

// Array returns an array value.
func (v Value) Array() (Array, bool) { a, ok := v.v.(Array); return a, ok }

// Strings returns the elements of a string array.
func (v Value) Strings() ([]string, bool) {
	a, ok := v.v.(Array)
	if !ok {
		return nil, false
	}
	s, ok := a.Values.([]string)
	return s, ok
}

// Uints returns the elements of an integer array (any integer element type
// with no negative element) as uint64s. A scalar integer yields one element.
func (v Value) Uints() ([]uint64, bool) {
	a, ok := v.v.(Array)
	if !ok {
		if u, ok := v.Uint(); ok {
			return []uint64{u}, true
		}
		return nil, false
	}
	out := make([]uint64, 0, a.Len())
	ok = forEachNumber(a, func(f float64, i int64, u uint64, kind int) bool {
		if kind == numFloat || (kind == numInt && i < 0) {
			return false
		}
		if kind == numInt {
			u = uint64(i)
		}
		out = append(out, u)
		return true
	})
	return out, ok
}

// Floats returns the elements of a numeric array as float64s.
func (v Value) Floats() ([]float64, bool) {
	a, ok := v.v.(Array)
	if !ok {
		return nil, false
	}
	out := make([]float64, 0, a.Len())
	ok = forEachNumber(a, func(f float64, i int64, u uint64, kind int) bool {
		switch kind {
		case numInt:
			f = float64(i)
		case numUint:
			f = float64(u)
		}
		out = append(out, f)
		return true
	})
	return out, ok
}

const (
	numFloat = iota
	numInt
	numUint
)

func forEachNumber(a Array, fn func(f float64, i int64, u uint64, kind int) bool) bool {
	switch s := a.Values.(type) {
	case []uint8:
		for _, x := range s {
			if !fn(0, 0, uint64(x), numUint) {
				return false
			}
		}
	case []uint16:
		for _, x := range s {
			if !fn(0, 0, uint64(x), numUint) {
				return false
			}
		}
	case []uint32:
		for _, x := range s {
			if !fn(0, 0, uint64(x), numUint) {
				return false
			}
		}
	case []uint64:
		for _, x := range s {
			if !fn(0, 0, x, numUint) {
				return false
			}
		}
	case []int8:
		for _, x := range s {
			if !fn(0, int64(x), 0, numInt) {
				return false
			}
		}
	case []int16:
		for _, x := range s {
			if !fn(0, int64(x), 0, numInt) {
				return false
			}
		}
	case []int32:
		for _, x := range s {
			if !fn(0, int64(x), 0, numInt) {
				return false
			}
		}
	case []int64:
		for _, x := range s {
			if !fn(0, x, 0, numInt) {
				return false
			}
		}
	case []float32:
		for _, x := range s {
			if !fn(float64(x), 0, 0, numFloat) {
				return false
			}
		}
	case []float64:
		for _, x := range s {
			if !fn(x, 0, 0, numFloat) {
				return false
			}
		}
	default:
		return false
	}
	return true
}

// KV is one metadata entry.
type KV struct {
	Key   string
	Value Value
}

// Metadata is the ordered list of key/value pairs of a GGUF header.
type Metadata struct {
	KVs   []KV
	index map[string]int
}

// Get returns the value stored under key.
func (m *Metadata) Get(key string) (Value, bool) {
	if m.index == nil {
		for _, kv := range m.KVs {
			if kv.Key == key {
				return kv.Value, true
			}
		}
		return Value{}, false
	}
	i, ok := m.index[key]
	if !ok {
		return Value{}, false
	}
	return m.KVs[i].Value, true
}

// Has reports whether key is present.
func (m *Metadata) Has(key string) bool { _, ok := m.Get(key); return ok }

// String returns the string under key, or "" when it is absent or not a string.
func (m *Metadata) String(key string) string {
	v, _ := m.Get(key)
	s, _ := v.Str()
	return s
}

// Uint returns the unsigned integer under key and whether it was present and
// an integer.
func (m *Metadata) Uint(key string) (uint64, bool) {
	v, ok := m.Get(key)
	if !ok {
		return 0, false
	}
	return v.Uint()
}

// Float returns the number under key as float64.
func (m *Metadata) Float(key string) (float64, bool) {
	v, ok := m.Get(key)
	if !ok {
		return 0, false
	}
	return v.Float()
}

// Len is the number of entries.
func (m *Metadata) Len() int { return len(m.KVs) }

func (m *Metadata) add(kv KV) bool {
	if m.index == nil {
		m.index = make(map[string]int)
	}
	if _, dup := m.index[kv.Key]; dup {
		return false
	}
	m.index[kv.Key] = len(m.KVs)
	m.KVs = append(m.KVs, kv)
	return true
}
