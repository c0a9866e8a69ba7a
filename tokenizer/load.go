package tokenizer

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/modelfit/modelfit/gguf"
)

// ErrUnsupported is returned (wrapped) by FromGGUF for tokenizers this
// package does not implement.
var ErrUnsupported = errors.New("tokenizer: unsupported tokenizer")

// maxVocab bounds the vocabulary size accepted from a file.
const maxVocab = 1 << 24

// FromGGUF builds the tokenizer described by the tokenizer.ggml.* keys of f,
// with the defaults and fix-ups llama.cpp applies when it loads a vocabulary.
// Tokenizers other than "llama" (SentencePiece), "gpt2" (byte-level BPE) and
// "bert" (WordPiece), such as "t5" or "rwkv", and BPE pre-tokenizers whose
// splits are not implemented, give an error wrapping ErrUnsupported.
func FromGGUF(f *gguf.File) (*Tokenizer, error) {
	if f == nil {
		return nil, errors.New("tokenizer: nil file")
	}
	md := &f.Metadata
	model := md.String("tokenizer.ggml.model")
	preName := md.String("tokenizer.ggml.pre")
	t := &Tokenizer{
		eot: null, eom: null, sep: null, pad: null, mask: null,
		fimPre: null, fimSuf: null, fimMid: null, fimPad: null, fimRep: null, fimSep: null,
	}
	switch model {
	case "llama":
		t.kind = kindSPM
		t.bos, t.eos, t.unk = 1, 2, 0
		t.addSpacePrefix, t.addBOS = true, true
	case "gpt2":
		t.kind = kindBPE
		t.bos, t.eos, t.unk = 11, 11, null
		t.cleanSpaces = true
		p, err := preFor(preName, t)
		if err != nil {
			return nil, err
		}
		t.pre = p
	case "bert":
		t.kind = kindWPM
		t.bos, t.eos, t.unk, t.sep, t.pad, t.mask = 101, null, 100, 102, 0, 103
		t.addBOS, t.cleanSpaces = true, true
	case "":
		return nil, errors.New("tokenizer: no tokenizer.ggml.model in file")
	case "t5", "rwkv", "plamo2", "no_vocab", "none":
		return nil, fmt.Errorf("%w: tokenizer.ggml.model %q", ErrUnsupported, model)
	default:
		return nil, fmt.Errorf("%w: unknown tokenizer.ggml.model %q", ErrUnsupported, model)
	}
	if b, ok := metaBool(md, "tokenizer.ggml.add_space_prefix"); ok {
		t.addSpacePrefix = b
	}

	if err := t.loadTokens(md); err != nil {
		return nil, err
	}
	if t.kind == kindBPE {
		if err := t.loadMerges(md); err != nil {
			return nil, err
		}
	}
	t.loadSpecial(md)
	t.buildCaches(md)
	return t, nil
}

func metaBool(md *gguf.Metadata, key string) (bool, bool) {
	v, ok := md.Get(key)
	if !ok {
		return false, false
	}
	return v.Bool()
}

func (t *Tokenizer) loadTokens(md *gguf.Metadata) error {
	v, ok := md.Get("tokenizer.ggml.tokens")
	if !ok {
		return errors.New("tokenizer: no tokenizer.ggml.tokens in file")
	}
	words, ok := v.Strings()
	if !ok {
		return fmt.Errorf("tokenizer: tokenizer.ggml.tokens is %s, not a string array", v)
	}
	if len(words) == 0 || len(words) > maxVocab {
		return fmt.Errorf("tokenizer: vocabulary of %d tokens", len(words))
	}
	var scores []float32
	if v, ok := md.Get("tokenizer.ggml.scores"); ok {
		if a, ok := v.Array(); ok {
			switch s := a.Values.(type) {
			case []float32:
				scores = s
			case []float64:
				scores = make([]float32, len(s))
				for i, x := range s {
					scores[i] = float32(x)
				}
			default:
				return fmt.Errorf("tokenizer: tokenizer.ggml.scores is %s, not a float array", v)
			}
		}
	}
	var types []int64
	if v, ok := md.Get("tokenizer.ggml.token_type"); ok {
		a, ok := v.Array()
		if !ok {
			return fmt.Errorf("tokenizer: tokenizer.ggml.token_type is %s, not an array", v)
		}
		types = make([]int64, 0, a.Len())
		switch s := a.Values.(type) {
		case []int32:
			for _, x := range s {
				types = append(types, int64(x))
			}
		default:
			us, ok := v.Uints()
			if !ok {
				return fmt.Errorf("tokenizer: tokenizer.ggml.token_type is %s, not an integer array", v)
			}
			for _, x := range us {
				types = append(types, int64(min(x, 1<<31)))
			}
		}
	}
	t.toks = make([]tokenData, len(words))
	t.ids = make(map[string]int32, len(words))
	for i, w := range words {
		if w == "" {
			w = "[EMPTY_" + strconv.Itoa(i) + "]"
		}
		if _, dup := t.ids[w]; dup {
			// llama.cpp asserts that every token text is distinct.
			return fmt.Errorf("tokenizer: token %d %q appears twice in the vocabulary", i, w)
		}
		t.ids[w] = int32(i)
		t.maxTokenLen = max(t.maxTokenLen, len(w))
		d := &t.toks[i]
		d.text = w
		if i < len(scores) {
			d.score = scores[i]
		}
		d.attr = attrNormal
		if types != nil {
			d.attr = 0 // undefined, also for any type llama.cpp does not know
			if i < len(types) {
				switch types[i] {
				case typeNormal:
					d.attr = attrNormal
				case typeUnknown:
					d.attr = attrUnknown
				case typeControl:
					d.attr = attrControl
				case typeUserDefined:
					d.attr = attrUserDefined
				case typeUnused:
					d.attr = attrUnused
				case typeByte:
					d.attr = attrByte
				}
			}
		}
	}
	return nil
}

func (t *Tokenizer) loadMerges(md *gguf.Metadata) error {
	v, ok := md.Get("tokenizer.ggml.merges")
	if !ok {
		if md.String("tokenizer.ggml.pre") == "kimi-k2" {
			return nil // llama.cpp lets Kimi-K2 go without merges
		}
		return errors.New("tokenizer: gpt2 tokenizer without tokenizer.ggml.merges")
	}
	merges, ok := v.Strings()
	if !ok {
		return fmt.Errorf("tokenizer: tokenizer.ggml.merges is %s, not a string array", v)
	}
	t.ranks = make(map[[2]string]int32, len(merges))
	for i, m := range merges {
		var k [2]string
		// The separator is the first space after the first byte, so a
		// merge may start with a space. Without one llama.cpp stores an
		// empty pair, which never matches.
		if len(m) > 1 {
			if p := strings.IndexByte(m[1:], ' '); p >= 0 {
				k = [2]string{m[:p+1], m[p+2:]}
			}
		}
		if _, seen := t.ranks[k]; !seen {
			t.ranks[k] = int32(i)
		}
	}
	return nil
}

// specialKeys are the token-id keys, in the order llama.cpp reads them.
func (t *Tokenizer) specialKeys() []struct {
	key string
	id  *int32
} {
	return []struct {
		key string
		id  *int32
	}{
		{"tokenizer.ggml.bos_token_id", &t.bos},
		{"tokenizer.ggml.eos_token_id", &t.eos},
		{"tokenizer.ggml.eot_token_id", &t.eot},
		{"tokenizer.ggml.eom_token_id", &t.eom},
		{"tokenizer.ggml.unknown_token_id", &t.unk},
		{"tokenizer.ggml.seperator_token_id", &t.sep},
		{"tokenizer.ggml.padding_token_id", &t.pad},
		{"tokenizer.ggml.mask_token_id", &t.mask},
		{"tokenizer.ggml.fim_pre_token_id", &t.fimPre},
		{"tokenizer.ggml.fim_suf_token_id", &t.fimSuf},
		{"tokenizer.ggml.fim_mid_token_id", &t.fimMid},
		{"tokenizer.ggml.fim_pad_token_id", &t.fimPad},
		{"tokenizer.ggml.fim_rep_token_id", &t.fimRep},
		{"tokenizer.ggml.fim_sep_token_id", &t.fimSep},
		{"tokenizer.ggml.prefix_token_id", &t.fimPre},
		{"tokenizer.ggml.suffix_token_id", &t.fimSuf},
		{"tokenizer.ggml.middle_token_id", &t.fimMid},
	}
}

// Texts llama.cpp recognises when the file names no such token.
var (
	eotTexts    = []string{"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"}
	eomTexts    = []string{"<|eom_id|>"}
	fimPreTexts = []string{"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>"}
	fimSufTexts = []string{"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>"}
	fimMidTexts = []string{"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>"}
	fimPadTexts = []string{"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"}
	fimRepTexts = []string{"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"}
	fimSepTexts = []string{"<|file_sep|>"}
	eogTexts    = []string{"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>"}
)

func (t *Tokenizer) loadSpecial(md *gguf.Metadata) {
	for _, k := range t.specialKeys() {
		u, ok := md.Uint(k.key)
		if !ok || u >= uint64(len(t.toks)) {
			continue // llama.cpp keeps the default for a bad id
		}
		*k.id = int32(u)
	}
	// A default that the vocabulary is too small for names no token.
	for _, k := range t.specialKeys() {
		if !t.valid(*k.id) {
			*k.id = null
		}
	}
	if b, ok := metaBool(md, "tokenizer.ggml.add_bos_token"); ok {
		t.addBOS = b
	}
	if b, ok := metaBool(md, "tokenizer.ggml.add_eos_token"); ok {
		t.addEOS = b
	}

	// Find unnamed special tokens by their text. llama.cpp walks a hash map
	// and keeps the first match; we keep the lowest id, which is the same
	// whenever a vocabulary has one candidate.
	detect := func(id *int32, texts []string) {
		if *id != null {
			return
		}
		best := null
		for _, s := range texts {
			if i, ok := t.ids[s]; ok && (best == null || i < best) {
				best = i
			}
		}
		if best != null {
			*id = best
			t.toks[best].attr |= attrControl
		}
	}
	detect(&t.eot, eotTexts)
	detect(&t.eom, eomTexts)
	detect(&t.fimPre, fimPreTexts)
	detect(&t.fimSuf, fimSufTexts)
	detect(&t.fimMid, fimMidTexts)
	detect(&t.fimPad, fimPadTexts)
	detect(&t.fimRep, fimRepTexts)
	detect(&t.fimSep, fimSepTexts)

	// Control tokens named "unused" are unused.
	for i := range t.toks {
		d := &t.toks[i]
		if d.attr&attrControl != 0 && strings.Contains(d.text, "unused") {
			d.attr |= attrUnused
		}
	}

	t.eog = make(map[int32]bool)
	for _, id := range []int32{t.fimPad, t.fimRep, t.fimSep} {
		if id != null {
			t.eog[id] = true
		}
	}
	for _, s := range eogTexts {
		if id, ok := t.ids[s]; ok {
			t.eog[id] = true
			t.toks[id].attr |= attrControl
		}
	}
	// gpt-oss renders these as text.
	for _, s := range []string{"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"} {
		if id, ok := t.ids[s]; ok {
			t.toks[id].attr = attrUserDefined
		}
	}
	for _, id := range []int32{t.eos, t.eot, t.eom} {
		if id != null {
			t.eog[id] = true
		}
	}
	// o200k_harmony and solar-open: "<|end|>" ends a message, not generation.
	var hasReturn, hasCall, hasFlush bool
	end := null
	for id := range t.eog {
		switch t.toks[id].text {
		case "<|return|>":
			hasReturn = true
		case "<|call|>", "<|calls|>":
			hasCall = true
		case "<|flush|>":
			hasFlush = true
		case "<|end|>":
			end = id
		}
	}
	if end != null && ((hasReturn && hasCall) || (hasCall && hasFlush)) {
		delete(t.eog, end)
		t.toks[end].attr = attrUserDefined
	}
}

func (t *Tokenizer) buildCaches(md *gguf.Metadata) {
	for i := range t.toks {
		if t.toks[i].attr&(attrControl|attrUserDefined|attrUnknown) != 0 {
			t.special = append(t.special, int32(i))
		}
	}
	// llama.cpp's std::sort leaves the order of equal lengths unspecified;
	// a stable sort keeps ids ascending among them.
	sort.SliceStable(t.special, func(a, b int) bool {
		return len(t.toks[t.special[a]].text) > len(t.toks[t.special[b]].text)
	})

	t.pieces = make([]string, len(t.toks))
	for i := range t.toks {
		t.pieces[i] = t.pieceFor(int32(i))
	}

	// Per-model attributes llama.cpp sets by name.
	name := strings.ToLower(md.String("general.name"))
	if strings.Contains(name, "phi-3") || strings.Contains(name, "phi3") {
		for _, id := range t.special {
			t.toks[id].attr |= attrRStrip
		}
		if id, ok := t.ids["</s>"]; ok {
			t.toks[id].attr |= attrRStrip
		}
		for _, s := range []string{"<unk>", "<s>", "<|endoftext|>"} {
			if id, ok := t.ids[s]; ok {
				t.toks[id].attr &^= attrRStrip
			}
		}
	}
	pre := md.String("tokenizer.ggml.pre")
	arch := md.String("general.architecture")
	if anyContains(pre, "jina-v2-de", "jina-v2-es", "jina-v2-code") || anyContains(arch, "nomic-bert-moe", "jina-bert-v3") {
		if id, ok := t.ids["<mask>"]; ok {
			t.toks[id].attr |= attrLStrip
		}
	} else if strings.Contains(name, "modern-bert") {
		if id, ok := t.ids["[MASK]"]; ok {
			t.toks[id].attr |= attrLStrip
		}
	}
}

func anyContains(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// pieceFor is llama_token_to_piece with special=true.
func (t *Tokenizer) pieceFor(id int32) string {
	d := &t.toks[id]
	if d.attr&(attrUnknown|attrControl|attrUserDefined) != 0 {
		return d.text
	}
	switch t.kind {
	case kindSPM, kindWPM:
		if d.attr&attrNormal != 0 {
			return strings.ReplaceAll(d.text, "▁", " ")
		}
		if d.attr&attrByte != 0 && t.kind == kindSPM {
			if b, ok := byteTokenValue(d.text); ok {
				return string([]byte{b})
			}
		}
	case kindBPE:
		if d.attr&attrNormal != 0 {
			return decodeByteLevel(d.text)
		}
	}
	return ""
}

// byteTokenValue parses "<0xNN>" as llama.cpp does (the two characters after
// "<0x", read as hex).
func byteTokenValue(s string) (byte, bool) {
	if len(s) < 3 {
		return 0, false
	}
	// strtol semantics: leading hex digits of the two bytes, 0 if none.
	var v byte
	for i := 3; i < len(s) && i < 5; i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | (c - '0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | (c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | (c - 'A' + 10)
		default:
			return v, true
		}
	}
	return v, true
}
