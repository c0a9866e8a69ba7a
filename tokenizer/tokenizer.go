package tokenizer

import (
	"sort"
	"strings"
)

// vocabKind is the tokenizer algorithm (llama.cpp's llama_vocab_type).
type vocabKind int

const (
	kindSPM vocabKind = iota // "llama": SentencePiece BPE over scores
	kindBPE                  // "gpt2": byte-level BPE over merge ranks
	kindWPM                  // "bert": WordPiece, longest match
)

// Token attributes, as llama.cpp's llama_token_attr bits.
type attr uint16

const (
	attrUnknown     attr = 1 << 0
	attrUnused      attr = 1 << 1
	attrNormal      attr = 1 << 2
	attrControl     attr = 1 << 3
	attrUserDefined attr = 1 << 4
	attrByte        attr = 1 << 5
	attrLStrip      attr = 1 << 7
	attrRStrip      attr = 1 << 8
)

// Token types as stored in tokenizer.ggml.token_type.
const (
	typeNormal      = 1
	typeUnknown     = 2
	typeControl     = 3
	typeUserDefined = 4
	typeUnused      = 5
	typeByte        = 6
)

// null is llama.cpp's LLAMA_TOKEN_NULL.
const null int32 = -1

type tokenData struct {
	text  string
	score float32
	attr  attr
}

// Tokenizer encodes and decodes text for one vocabulary. It is immutable after
// FromGGUF and safe for concurrent use.
type Tokenizer struct {
	kind  vocabKind
	pre   preTokenizer
	toks  []tokenData
	ids   map[string]int32
	ranks map[[2]string]int32 // BPE merge ranks

	bos, eos, eot, eom, unk, sep, pad, mask        int32
	fimPre, fimSuf, fimMid, fimPad, fimRep, fimSep int32

	addSpacePrefix bool
	maxTokenLen    int
	addBOS, addEOS bool
	ignoreMerges   bool
	cleanSpaces    bool

	special []int32  // control, user-defined and unknown tokens, longest text first
	pieces  []string // token_to_piece(special=true) of every token
	eog     map[int32]bool
}

// Len is the number of tokens in the vocabulary.
func (t *Tokenizer) Len() int { return len(t.toks) }

// BOS is the beginning-of-sequence token, or -1 when the vocabulary has none.
func (t *Tokenizer) BOS() int32 { return t.bos }

// EOS is the end-of-sequence token, or -1 when the vocabulary has none.
func (t *Tokenizer) EOS() int32 { return t.eos }

// AddBOS reports whether Encode with addSpecial prepends BOS.
func (t *Tokenizer) AddBOS() bool { return t.addBOS }

// IsEOG reports whether id ends generation (EOS, EOT, EOM and the other
// end-of-turn tokens llama.cpp recognises).
func (t *Tokenizer) IsEOG(id int32) bool { return id != null && t.eog[id] }

// EOG returns the end-of-generation tokens in ascending order.
func (t *Tokenizer) EOG() []int32 {
	out := make([]int32, 0, len(t.eog))
	for id := range t.eog {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Text returns the vocabulary entry of id as stored in the file ("▁the",
// "Ġthe", "<0x0A>"), or "" for an id outside the vocabulary.
func (t *Tokenizer) Text(id int32) string {
	if !t.valid(id) {
		return ""
	}
	return t.toks[id].text
}

// ID returns the token whose vocabulary entry is exactly text.
func (t *Tokenizer) ID(text string) (int32, bool) {
	id, ok := t.ids[text]
	return id, ok
}

func (t *Tokenizer) valid(id int32) bool { return id >= 0 && int(id) < len(t.toks) }

// fragment is a piece of the input: raw text [start,end) or one special token.
type fragment struct {
	tok        int32 // null for raw text
	start, end int
}

// Encode tokenizes text with llama_tokenize semantics: addSpecial adds BOS
// and EOS where the vocabulary asks for them, parseSpecial lets control
// tokens written in the text ("<|im_end|>") become those tokens. User-defined
// tokens are always matched.
func (t *Tokenizer) Encode(text string, addSpecial, parseSpecial bool) []int32 {
	var frags []fragment
	if text != "" {
		frags = t.partition(text, parseSpecial)
	}
	out := make([]int32, 0, len(text)/3+2)
	if addSpecial && t.bos != null && (t.addBOS || t.kind == kindWPM) {
		out = append(out, t.bos) // WordPiece always starts with [CLS]
	}
	switch t.kind {
	case kindSPM:
		prevSpecial := true // a space prefix goes before the first text
		var buf []byte
		for _, f := range frags {
			if f.tok != null {
				out = append(out, f.tok)
				prevSpecial = true
				continue
			}
			buf = buf[:0]
			if t.addSpacePrefix && prevSpecial {
				buf = append(buf, ' ')
			}
			buf = append(buf, text[f.start:f.end]...)
			out = t.encodeSPM(escapeSpaces(buf), out)
			prevSpecial = false
		}
	case kindBPE:
		for _, f := range frags {
			if f.tok != null {
				out = append(out, f.tok)
				continue
			}
			out = t.encodeBPE(text[f.start:f.end], out)
		}
	case kindWPM:
		for _, f := range frags {
			if f.tok != null {
				out = append(out, f.tok)
				continue
			}
			out = t.encodeWPM(text[f.start:f.end], out)
		}
		if addSpecial && t.sep != null {
			out = append(out, t.sep)
		}
		return out
	}
	if addSpecial && t.addEOS && t.eos != null {
		out = append(out, t.eos)
	}
	return out
}

// partition splits text around special tokens (tokenizer_st_partition): each
// special token, longest first, is cut out of every raw fragment left.
func (t *Tokenizer) partition(text string, parseSpecial bool) []fragment {
	frags := []fragment{{tok: null, start: 0, end: len(text)}}
	var next []fragment
	for _, id := range t.special {
		d := &t.toks[id]
		if !parseSpecial && d.attr&(attrControl|attrUnknown) != 0 {
			continue
		}
		if d.text == "" {
			continue
		}
		next = next[:0]
		for _, f := range frags {
			if f.tok != null {
				next = append(next, f)
				continue
			}
			base, end := f.start, f.end
			for {
				k := strings.Index(text[base:end], d.text)
				if k < 0 {
					if base < end {
						next = append(next, fragment{tok: null, start: base, end: end})
					}
					break
				}
				m := base + k
				left := m
				if d.attr&attrLStrip != 0 {
					for left > base && isCSpace(text[left-1]) {
						left--
					}
				}
				if left > base {
					next = append(next, fragment{tok: null, start: base, end: left})
				}
				next = append(next, fragment{tok: id})
				base = m + len(d.text)
				if d.attr&attrRStrip != 0 {
					for base < end && isCSpace(text[base]) {
						base++
					}
				}
			}
		}
		frags, next = next, frags
	}
	return frags
}

// Piece returns the bytes token id stands for (llama_token_to_piece): text
// with SentencePiece's "▁" turned back into spaces, the byte of a byte token,
// or the decoded bytes of a byte-level BPE token. The result may be a partial
// UTF-8 sequence. Control and unknown tokens give "" unless special is set;
// an id outside the vocabulary gives "".
func (t *Tokenizer) Piece(id int32, special bool) string {
	if !t.valid(id) {
		return ""
	}
	if !special && t.toks[id].attr&(attrUnknown|attrControl) != 0 {
		return ""
	}
	return t.pieces[id]
}

// Decode joins the pieces of ids (llama_detokenize): removeSpecial drops a
// leading BOS and trailing EOS that the vocabulary adds itself, unparseSpecial
// renders control tokens as their text. As in llama.cpp, the space a
// SentencePiece vocabulary puts before the first word is removed unless a
// BOS was removed first, and GPT-2-style vocabularies tidy spaces before
// punctuation and contractions.
func (t *Tokenizer) Decode(ids []int32, removeSpecial, unparseSpecial bool) string {
	removeSpace := t.addSpacePrefix
	if removeSpecial && t.addBOS && len(ids) > 0 && ids[0] == t.bos {
		removeSpace = false
		ids = ids[1:]
	}
	if removeSpecial && t.addEOS && len(ids) > 0 && ids[len(ids)-1] == t.eos {
		ids = ids[:len(ids)-1]
	}
	var b []byte
	for _, id := range ids {
		p := t.Piece(id, unparseSpecial)
		if removeSpace && len(p) > 0 && p[0] == ' ' {
			p = p[1:]
		}
		removeSpace = false
		b = append(b, p...)
	}
	if t.cleanSpaces {
		b = cleanSpaces(b)
	}
	return string(b)
}

// cleanSpaces is llama.cpp's clean_up_tokenization_spaces: three in-place
// passes over the bytes, ported literally so that their quirks carry over.
func cleanSpaces(text []byte) []byte {
	// " ?", " !", " .", " ,": drop the space.
	n := len(text)
	total := min(n, 1)
	for i := 1; i < n; i++ {
		x := text[i]
		if text[i-1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',') {
			total--
		}
		text[total] = x
		total++
	}
	// " ' ": drop both spaces around a lone apostrophe.
	n = total
	total = min(n, 1)
	for i := 1; i < n; i++ {
		x := text[i]
		if x == '\'' && i+1 < n && text[i-1] == ' ' && text[i+1] == ' ' {
			total--
			i++
			text[i] = 0
		}
		text[total] = x
		total++
	}
	// " 's", " 'm", " 're", " 've": drop the space.
	n = total
	total = min(n, 1)
	for i := 1; i < n; i++ {
		x := text[i]
		if text[i-1] == ' ' && x == '\'' && i+1 < n {
			x1 := text[i+1]
			switch {
			case x1 == 't' || x1 == 'd':
			case x1 == 's' || x1 == 'm':
				total--
			case i+2 < n:
				x2 := text[i+2]
				if (x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e') {
					total--
				}
			}
		}
		text[total] = x
		total++
	}
	return text[:total]
}
