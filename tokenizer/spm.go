package tokenizer

// escapeSpaces replaces every space with SentencePiece's "▁" (U+2581).
func escapeSpaces(b []byte) []byte {
	n := 0
	for _, c := range b {
		if c == ' ' {
			n++
		}
	}
	if n == 0 {
		return b
	}
	out := make([]byte, 0, len(b)+2*n)
	for _, c := range b {
		if c == ' ' {
			out = append(out, 0xE2, 0x96, 0x81)
		} else {
			out = append(out, c)
		}
	}
	return out
}

// symbol is a run of the text being merged, linked to its neighbours.
type symbol struct {
	prev, next int
	start, n   int
}

type spmBigram struct {
	left, right int
	score       float32
	size        int
}

// encodeSPM is llama.cpp's llm_tokenizer_spm_session: start from UTF-8
// characters, repeatedly merge the adjacent pair whose concatenation is the
// best-scoring token, then emit each symbol as its token or, failing that,
// as byte tokens.
func (t *Tokenizer) encodeSPM(b []byte, out []int32) []int32 {
	text := string(b)
	syms := make([]symbol, 0, len(text))
	for off := 0; off < len(text); {
		n := min(utf8Len(text[off]), len(text)-off)
		next := len(syms) + 1
		if off+n == len(text) {
			next = -1
		}
		syms = append(syms, symbol{prev: len(syms) - 1, next: next, start: off, n: n})
		off += n
	}
	q := make([]spmBigram, 0, len(syms))
	try := func(left, right int) {
		if left < 0 || right < 0 {
			return
		}
		l, r := syms[left], syms[right]
		id, ok := t.ids[text[l.start:r.start+r.n]]
		if !ok {
			return
		}
		q = pushSPM(q, spmBigram{left: left, right: right, score: t.toks[id].score, size: l.n + r.n})
	}
	for i := 1; i < len(syms); i++ {
		try(i-1, i)
	}
	for len(q) > 0 {
		var bg spmBigram
		bg, q = popSPM(q)
		l, r := &syms[bg.left], &syms[bg.right]
		if l.n == 0 || r.n == 0 || l.n+r.n != bg.size {
			continue // stale: one side has merged since
		}
		l.n += r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = bg.left
		}
		try(l.prev, bg.left)
		try(bg.left, l.next)
	}
	if len(syms) == 0 {
		return out
	}
	// A symbol that is not a token is an unmerged character (every merge
	// makes a token), so llama.cpp's re-segmentation of merged symbols
	// never applies: it falls through to bytes.
	for i := 0; i != -1; i = syms[i].next {
		s := syms[i]
		piece := text[s.start : s.start+s.n]
		if id, ok := t.ids[piece]; ok {
			out = append(out, id)
			continue
		}
		for j := 0; j < len(piece); j++ {
			if id := t.byteToken(piece[j]); id != null {
				out = append(out, id)
			}
		}
	}
	return out
}

const hexDigits = "0123456789ABCDEF"

// byteToken is llama.cpp's byte_to_token for SentencePiece vocabularies: the
// "<0xNN>" token, else the byte itself as a token. Where llama.cpp would throw
// (neither exists) the unknown token is used, or nothing if there is none.
func (t *Tokenizer) byteToken(c byte) int32 {
	name := [6]byte{'<', '0', 'x', hexDigits[c>>4], hexDigits[c&15], '>'}
	if id, ok := t.ids[string(name[:])]; ok {
		return id
	}
	if id, ok := t.ids[string([]byte{c})]; ok {
		return id
	}
	return t.unk
}
