package tokenizer

import (
	"sort"
	"unicode"
)

//go:generate python3 gennfd.py

// nfd1 maps a code point to the first code point of its canonical
// decomposition (llama.cpp's unicode_cpts_normalize_nfd).
func nfd1(r rune) rune {
	i := sort.Search(len(nfdFirst), func(i int) bool { return nfdFirst[i][0] > r }) - 1
	if i >= 0 && r <= nfdFirst[i][1] {
		return nfdFirst[i][2]
	}
	return r
}

// isChineseChar is the CJK test of BERT's basic tokenizer.
func isChineseChar(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) || (r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B920 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}

// wpmWords is llama.cpp's WordPiece preprocessing: strip accents (first
// code point of NFD), lowercase, drop control characters, split on
// whitespace, and make each punctuation mark, ASCII symbol and CJK
// character a word of its own.
func wpmWords(text string) []string {
	var words []string
	var cur []byte
	flush := func() {
		if len(cur) > 0 {
			words = append(words, string(cur))
			cur = cur[:0]
		}
	}
	for _, r := range decodeCpts(text) {
		r = nfd1(r)
		f := flagsOf(r)
		if f.has(flWhitespace) {
			flush()
			continue
		}
		if r == 0 || r == 0xFFFD || f&flCategories == flControl {
			continue
		}
		lower := unicode.ToLower(r)
		if f&flCategories == flPunctuation || (r < 0x7F && f&flCategories == flSymbol) || isChineseChar(r) {
			flush()
			words = append(words, string(appendCpt(nil, lower)))
			continue
		}
		cur = appendCpt(cur, lower)
	}
	flush()
	return words
}

// encodeWPM is llama.cpp's llm_tokenizer_wpm_session: for each word,
// prefixed with "▁", take the longest vocabulary entry at each byte offset;
// a word with any part not in the vocabulary becomes one unknown token.
func (t *Tokenizer) encodeWPM(text string, out []int32) []int32 {
	for _, w := range wpmWords(text) {
		word := "▁" + w
		n := len(word)
		mark := len(out)
		for i := 0; i < n; i++ {
			matched := false
			for j := min(n, i+t.maxTokenLen+1); j > i; j-- {
				if id, ok := t.ids[word[i:j]]; ok {
					out = append(out, id)
					matched = true
					i = j - 1
					break
				}
			}
			if !matched {
				out = out[:mark]
				break
			}
		}
		if len(out) == mark && t.unk != null {
			out = append(out, t.unk)
		}
	}
	return out
}
