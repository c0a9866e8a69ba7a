package tokenizer

import (
	"sync"
	"unicode"
)

// cptFlags mirrors the per-code-point classification llama.cpp's pre-tokenizers
// use (unicode_cpt_flags): one general-category bit plus a whitespace bit.
type cptFlags uint16

const (
	flUndefined   cptFlags = 1 << 0 // unassigned (Cn), and code points past U+10FFFF
	flNumber      cptFlags = 1 << 1 // \p{N}
	flLetter      cptFlags = 1 << 2 // \p{L}
	flSeparator   cptFlags = 1 << 3 // \p{Z}
	flAccentMark  cptFlags = 1 << 4 // \p{M}
	flPunctuation cptFlags = 1 << 5 // \p{P}
	flSymbol      cptFlags = 1 << 6 // \p{S}
	flControl     cptFlags = 1 << 7 // Cc, Cf, Cs, Co
	flCategories  cptFlags = 0xFF
	flWhitespace  cptFlags = 1 << 8 // the Unicode White_Space property
)

func (f cptFlags) has(m cptFlags) bool { return f&m != 0 }

const maxCodepoint = 0x110000

var (
	bmpOnce  sync.Once
	bmpFlags []cptFlags // flags of every code point below U+10000
)

// classify computes the flags of one code point from Go's Unicode tables
// (Unicode 15.0, the version llama.cpp's own tables were generated from).
func classify(r rune) cptFlags {
	if r < 0 || r >= maxCodepoint {
		return flUndefined
	}
	var f cptFlags
	switch {
	case unicode.IsLetter(r):
		f = flLetter
	case unicode.Is(unicode.N, r):
		f = flNumber
	case unicode.Is(unicode.M, r):
		f = flAccentMark
	case unicode.Is(unicode.P, r):
		f = flPunctuation
	case unicode.Is(unicode.S, r):
		f = flSymbol
	case unicode.Is(unicode.Z, r):
		f = flSeparator
	case unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs):
		f = flControl // Go's unicode.C also holds unassigned code points
	default:
		f = flUndefined
	}
	if unicode.Is(unicode.White_Space, r) {
		f |= flWhitespace
	}
	return f
}

// flagsOf returns the flags of a code point; the Basic Multilingual Plane is
// served from a table built on first use.
func flagsOf(r rune) cptFlags {
	if r >= 0 && r < 0x10000 {
		bmpOnce.Do(func() {
			t := make([]cptFlags, 0x10000)
			for i := range t {
				t[i] = classify(rune(i))
			}
			bmpFlags = t
		})
		return bmpFlags[r]
	}
	return classify(r)
}

// utf8Len is llama.cpp's unicode_len_utf8: the sequence length claimed by a
// lead byte, judged from its top four bits only (continuation bytes count 1).
func utf8Len(b byte) int {
	switch b >> 4 {
	case 0xC, 0xD:
		return 2
	case 0xE:
		return 3
	case 0xF:
		return 4
	}
	return 1
}

// decodeCpts splits s into code points the way llama.cpp does: no check for
// overlong forms or surrogates, and every byte that does not start a
// well-formed sequence becomes one U+FFFD.
func decodeCpts(s string) []rune {
	out := make([]rune, 0, len(s))
	for i := 0; i < len(s); {
		r, n := decodeCpt(s, i)
		out = append(out, r)
		i += n
	}
	return out
}

func decodeCpt(s string, i int) (rune, int) {
	b0 := s[i]
	cont := func(k int) bool { return i+k < len(s) && s[i+k]&0xC0 == 0x80 }
	switch {
	case b0&0x80 == 0:
		return rune(b0), 1
	case b0&0x40 == 0:
	case b0&0x20 == 0:
		if cont(1) {
			return rune(b0&0x1F)<<6 | rune(s[i+1]&0x3F), 2
		}
	case b0&0x10 == 0:
		if cont(1) && cont(2) {
			return rune(b0&0x0F)<<12 | rune(s[i+1]&0x3F)<<6 | rune(s[i+2]&0x3F), 3
		}
	case b0&0x08 == 0:
		if cont(1) && cont(2) && cont(3) {
			return rune(b0&0x07)<<18 | rune(s[i+1]&0x3F)<<12 | rune(s[i+2]&0x3F)<<6 | rune(s[i+3]&0x3F), 4
		}
	}
	return 0xFFFD, 1
}

// appendCpt encodes one code point as llama.cpp's unicode_cpt_to_utf8 does
// (surrogates are encoded, not replaced). Code points past U+10FFFF, which
// llama.cpp rejects with an exception, become U+FFFD.
func appendCpt(b []byte, r rune) []byte {
	switch {
	case r < 0:
		return appendCpt(b, 0xFFFD)
	case r <= 0x7F:
		return append(b, byte(r))
	case r <= 0x7FF:
		return append(b, 0xC0|byte(r>>6), 0x80|byte(r&0x3F))
	case r <= 0xFFFF:
		return append(b, 0xE0|byte(r>>12), 0x80|byte(r>>6&0x3F), 0x80|byte(r&0x3F))
	case r <= 0x10FFFF:
		return append(b, 0xF0|byte(r>>18), 0x80|byte(r>>12&0x3F), 0x80|byte(r>>6&0x3F), 0x80|byte(r&0x3F))
	}
	return appendCpt(b, 0xFFFD)
}

// isCSpace is C's isspace in the "C" locale.
func isCSpace(b byte) bool { return b == ' ' || (b >= '\t' && b <= '\r') }
