package tokenizer

import (
	"strconv"
)

// GPT-2's byte-level alphabet: printable bytes stand for themselves, the
// other 68 are shifted to U+0100 and up, in byte order.
var (
	byteRune [256]rune
	runeByte = map[rune]byte{}
)

func init() {
	n := rune(0)
	for b := 0; b < 256; b++ {
		if (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteRune[b] = rune(b)
		} else {
			byteRune[b] = 256 + n
			n++
		}
		runeByte[byteRune[b]] = byte(b)
	}
}

// byteEncode maps each byte of s to its byte-level character.
func byteEncode(s string) string {
	buf := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		buf = appendCpt(buf, byteRune[s[i]])
	}
	return string(buf)
}

// decodeByteLevel is llama.cpp's llama_decode_text: each byte-level
// character back to its byte; a character outside the alphabet is written
// as "[UNK_BYTE_0x…]" followed, as in llama.cpp, by the whole token text.
func decodeByteLevel(text string) string {
	var out []byte
	for _, r := range decodeCpts(text) {
		if b, ok := runeByte[r]; ok {
			out = append(out, b)
			continue
		}
		out = append(out, "[UNK_BYTE_0x"...)
		for _, c := range appendCpt(nil, r) {
			if c < 16 {
				out = append(out, '0')
			}
			out = strconv.AppendUint(out, uint64(c), 16)
		}
		out = append(out, text...)
		out = append(out, ']')
	}
	return string(out)
}

type bpeBigram struct {
	left, right int
	rank        int32
	text        string
}

// encodeBPE is llama.cpp's llm_tokenizer_bpe_session: pre-tokenize, map
// bytes to the byte-level alphabet, merge by rank within each word, and emit
// each symbol as its token or, failing that, its single bytes that are tokens.
func (t *Tokenizer) encodeBPE(text string, out []int32) []int32 {
	var syms []symbol
	var q []bpeBigram
	for _, w := range t.pre.split(text) {
		word := byteEncode(w)
		syms = syms[:0]
		q = q[:0]
		off := 0
		if t.ignoreMerges {
			if _, ok := t.ids[word]; ok {
				syms = append(syms, symbol{prev: -1, next: -1, start: 0, n: len(word)})
				off = len(word)
			}
		}
		for off < len(word) {
			n := min(utf8Len(word[off]), len(word)-off)
			next := len(syms) + 1
			if off+n == len(word) {
				next = -1
			}
			syms = append(syms, symbol{prev: len(syms) - 1, next: next, start: off, n: n})
			off += n
		}
		add := func(left, right int) {
			if left < 0 || right < 0 {
				return
			}
			l, r := syms[left], syms[right]
			rank, ok := t.ranks[[2]string{word[l.start : l.start+l.n], word[r.start : r.start+r.n]}]
			if !ok {
				return
			}
			q = pushBPE(q, bpeBigram{left: left, right: right, rank: rank, text: word[l.start : r.start+r.n]})
		}
		for i := 1; i < len(syms); i++ {
			add(i-1, i)
		}
		for len(q) > 0 {
			var bg bpeBigram
			bg, q = popBPE(q)
			l, r := &syms[bg.left], &syms[bg.right]
			if l.n == 0 || r.n == 0 {
				continue
			}
			if len(bg.text) != l.n+r.n || word[l.start:l.start+l.n] != bg.text[:l.n] || word[r.start:r.start+r.n] != bg.text[l.n:] {
				continue // outdated
			}
			l.n += r.n
			r.n = 0
			l.next = r.next
			if r.next >= 0 {
				syms[r.next].prev = bg.left
			}
			add(l.prev, bg.left)
			add(bg.left, l.next)
		}
		for _, s := range syms {
			if s.n == 0 {
				continue
			}
			piece := word[s.start : s.start+s.n]
			if id, ok := t.ids[piece]; ok {
				out = append(out, id)
				continue
			}
			for j := 0; j < len(piece); j++ {
				if id, ok := t.ids[piece[j:j+1]]; ok {
					out = append(out, id)
				}
			}
		}
	}
	return out
}
