package tokenizer

import (
	"fmt"
	"strings"
)

// A pre-tokenizer cuts text into words before BPE merges run, as llama.cpp's
// unicode_regex_split does: a chain of steps, each refining the words of the
// one before. The steps are the hand-written GPT-2 and LLaMA-3 splitters
// llama.cpp uses for those two patterns, and, for the other patterns,
// matchers that reproduce what llama.cpp's std::regex sees: an ECMAScript
// search over "collapsed" text where each non-ASCII code point is replaced by
// a byte standing for its category.

// step refines fragment lengths (in code points) over the code points cps.
type step func(s *splitText, frags []int) []int

type preTokenizer struct {
	name  string
	steps []step
}

// splitText is the input of one split: its code points and their collapsed
// bytes.
type splitText struct {
	cps       []rune
	collapsed []byte
	wide      []rune
}

// collapse is the byte llama.cpp's std::regex path sees for a code point.
func collapse(r rune) byte {
	if r >= 0 && r < 0x80 {
		return byte(r)
	}
	f := flagsOf(r)
	switch {
	case f.has(flWhitespace):
		return 0x0B
	case f&flCategories == flNumber:
		return 0xD1
	case f&flCategories == flLetter:
		return 0xD2
	case f&flCategories == flPunctuation:
		return 0xD3
	case f&flCategories == flAccentMark:
		return 0xD4
	case f&flCategories == flSymbol:
		return 0xD5
	}
	return 0xD0
}

// Classes of collapsed bytes, as the collapsed regex spells them: \s is C's
// isspace, and each \p{..} is its marker byte plus the ASCII characters
// llama.cpp lists for it (its symbol list lacks '~').
func cS(b byte) bool { return isCSpace(b) }
func cL(b byte) bool { return b == 0xD2 || (b|0x20 >= 'a' && b|0x20 <= 'z') }
func cN(b byte) bool { return b == 0xD1 || (b >= '0' && b <= '9') }
func cM(b byte) bool { return b == 0xD4 }
func cP(b byte) bool {
	return b == 0xD3 || (b < 0x80 && strings.IndexByte("!\"#%&'()*,-./:;?@[\\]_{}", b) >= 0)
}
func cSy(b byte) bool { return b == 0xD5 || (b < 0x80 && strings.IndexByte("$+<=>^`|", b) >= 0) }

// split runs the pre-tokenizer and returns the words, each re-encoded from
// its code points.
func (p *preTokenizer) split(text string) []string {
	s := &splitText{cps: decodeCpts(text)}
	frags := []int{len(s.cps)}
	for _, st := range p.steps {
		frags = st(s, frags)
	}
	words := make([]string, 0, len(frags))
	var buf []byte
	pos := 0
	for _, n := range frags {
		buf = buf[:0]
		for _, r := range s.cps[pos : pos+n] {
			buf = appendCpt(buf, r)
		}
		words = append(words, string(buf))
		pos += n
	}
	return words
}

func (s *splitText) bytes() []byte {
	if s.collapsed == nil {
		s.collapsed = make([]byte, len(s.cps))
		for i, r := range s.cps {
			s.collapsed[i] = collapse(r)
		}
	}
	return s.collapsed
}

// wideText is what llama.cpp's std::wregex path sees: the code points, with
// every non-ASCII whitespace replaced by a vertical tab.
func (s *splitText) wideText() []rune {
	if s.wide == nil {
		s.wide = make([]rune, len(s.cps))
		for i, r := range s.cps {
			if r > 0x7F && flagsOf(r).has(flWhitespace) {
				r = 0x0B
			}
			s.wide[i] = r
		}
	}
	return s.wide
}

// matcher returns the end of the match starting at p within [lo,hi), or -1.
// A pattern with a \p{..} class sees the collapsed bytes b; one without sees
// the code points c as std::wregex does.
type matcher func(b []byte, c []rune, p, lo, hi int) int

// regexStep searches each fragment for successive leftmost matches, as
// std::regex_iterator does, keeping both the matches and the text between
// them as fragments.
func regexStep(m matcher) step {
	return func(s *splitText, frags []int) []int {
		b, c := s.bytes(), s.wideText()
		out := make([]int, 0, len(frags))
		start := 0
		for _, n := range frags {
			lo, hi := start, start+n
			start = hi
			gap := lo
			for p := lo; p < hi; {
				e := m(b, c, p, lo, hi)
				if e <= p {
					p++
					continue
				}
				if p > gap {
					out = append(out, p-gap)
				}
				out = append(out, e-p)
				p, gap = e, e
			}
			if gap < hi {
				out = append(out, hi-gap)
			}
		}
		return out
	}
}

// run returns the end of the run of bytes in class from p.
func run(b []byte, p, hi int, class func(byte) bool) int {
	for p < hi && class(b[p]) {
		p++
	}
	return p
}

func cpRun(c []rune, p, hi int, in func(rune) bool) int {
	for p < hi && in(c[p]) {
		p++
	}
	return p
}

// The matchers below are named after the pattern they implement.

func plusOf(class func(byte) bool) matcher {
	return func(b []byte, _ []rune, p, _, hi int) int {
		if e := run(b, p, hi, class); e > p {
			return e
		}
		return -1
	}
}

func oneOf(class func(byte) bool) matcher {
	return func(b []byte, _ []rune, p, _, hi int) int {
		if class(b[p]) {
			return p + 1
		}
		return -1
	}
}

// upTo3 is \p{N}{1,3}.
func upTo3(b []byte, _ []rune, p, _, hi int) int {
	e := p
	for e < hi && e-p < 3 && cN(b[e]) {
		e++
	}
	if e > p {
		return e
	}
	return -1
}

// threeDigits is [0-9][0-9][0-9].
func threeDigits(_ []byte, c []rune, p, _, hi int) int {
	if p+3 > hi {
		return -1
	}
	for k := p; k < p+3; k++ {
		if c[k] < '0' || c[k] > '9' {
			return -1
		}
	}
	return p + 3
}

// optSpaceThen is \s?X+: a whitespace is taken only if X+ follows it.
func optSpaceThen(class func(byte) bool) matcher {
	return func(b []byte, _ []rune, p, _, hi int) int {
		if cS(b[p]) && p+1 < hi && class(b[p+1]) {
			return run(b, p+1, hi, class)
		}
		if class(b[p]) {
			return run(b, p, hi, class)
		}
		return -1
	}
}

func cpRange(ranges ...[2]rune) func(rune) bool {
	return func(r rune) bool {
		for _, rg := range ranges {
			if r >= rg[0] && r <= rg[1] {
				return true
			}
		}
		return false
	}
}

func cpPlus(in func(rune) bool) matcher {
	return func(_ []byte, c []rune, p, _, hi int) int {
		if e := cpRun(c, p, hi, in); e > p {
			return e
		}
		return -1
	}
}

func isCRLF(b byte) bool { return b == '\r' || b == '\n' }

// contraction is (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]).
func contraction(b []byte, p, hi int) int {
	if b[p] != '\'' || p+1 >= hi {
		return -1
	}
	switch b[p+1] | 0x20 {
	case 's', 't', 'm', 'd':
		return p + 2
	}
	if p+2 < hi {
		x, y := b[p+1]|0x20, b[p+2]|0x20
		if (x == 'r' && y == 'e') || (x == 'v' && y == 'e') || (x == 'l' && y == 'l') {
			return p + 3
		}
	}
	return -1
}

// spaceTail is \s*[\r\n]+|\s+(?!\S)|\s+ at p: the text up to the last line
// break of the whitespace run; else the run less its last character when a
// non-space follows; else the whole run.
func spaceTail(b []byte, p, hi int) int {
	q := run(b, p, hi, cS)
	if q == p {
		return -1
	}
	for k := q - 1; k >= p; k-- {
		if isCRLF(b[k]) {
			return k + 1
		}
	}
	if q < hi && q-p > 1 {
		return q - 1
	}
	return q
}

// qwen2 is (?:'[sS]|…)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// (bailingmoe's variant, with \s*[\r\n], matches the same). qwen35 takes
// marks into words: [\p{L}\p{M}]+ and [^\s\p{L}\p{M}\p{N}]+. seedCoder has
// no [\r\n]* after punctuation.
func qwen2(b []byte, _ []rune, p, _, hi int) int     { return qwenLike(b, p, hi, cL, true) }
func qwen35(b []byte, _ []rune, p, _, hi int) int    { return qwenLike(b, p, hi, cLM, true) }
func seedCoder(b []byte, _ []rune, p, _, hi int) int { return qwenLike(b, p, hi, cL, false) }

func cLM(x byte) bool { return cL(x) || cM(x) }

func qwenLike(b []byte, p, hi int, word func(byte) bool, crlfTail bool) int {
	if e := contraction(b, p, hi); e > 0 {
		return e
	}
	c0 := b[p]
	if !isCRLF(c0) && !cL(c0) && !cN(c0) && p+1 < hi && word(b[p+1]) {
		return run(b, p+1, hi, word)
	}
	if word(c0) {
		return run(b, p, hi, word)
	}
	if cN(c0) {
		return p + 1
	}
	other := func(x byte) bool { return !cS(x) && !word(x) && !cN(x) }
	q := p
	if c0 == ' ' && p+1 < hi && other(b[p+1]) {
		q = p + 1
	}
	if other(b[q]) {
		e := run(b, q, hi, other)
		if crlfTail {
			e = run(b, e, hi, isCRLF)
		}
		return e
	}
	return spaceTail(b, p, hi)
}

// exaoneMoE is (?:'[sS]|…)|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+
// whose words run on over single spaces between letters.
func exaoneMoE(b []byte, _ []rune, p, _, hi int) int {
	if e := contraction(b, p, hi); e > 0 {
		return e
	}
	c0 := b[p]
	s := -1
	if !isCRLF(c0) && !cL(c0) && !cN(c0) && p+1 < hi && cL(b[p+1]) {
		s = p + 1
	} else if cL(c0) {
		s = p
	}
	if s >= 0 {
		e := s
		for {
			e = run(b, e+1, hi, cM) // a letter, then its marks
			switch {
			case e < hi && cL(b[e]):
			case e+1 < hi && b[e] == ' ' && cL(b[e+1]):
				e++
			default:
				return e
			}
		}
	}
	if cN(c0) {
		return p + 1
	}
	other := func(x byte) bool { return !cS(x) && !cL(x) && !cN(x) }
	q := p
	if c0 == ' ' && p+1 < hi && other(b[p+1]) {
		q = p + 1
	}
	if other(b[q]) {
		e := run(b, q, hi, other)
		if e < hi && (isCRLF(b[e]) || b[e] == '/') {
			e++
		}
		return e
	}
	return spaceTail(b, p, hi)
}

// jais2 is LLaMA-3's pattern with its last two alternatives replaced by
// \s{512}(?!\S)|\s{256}(?!\S)|…|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1}, run by
// std::regex since it is not the pattern llama.cpp splits by hand.
func jais2(b []byte, _ []rune, p, _, hi int) int {
	if e := contraction(b, p, hi); e > 0 {
		return e
	}
	c0 := b[p]
	if !isCRLF(c0) && !cL(c0) && !cN(c0) && p+1 < hi && cL(b[p+1]) {
		return run(b, p+1, hi, cL)
	}
	if cL(c0) {
		return run(b, p, hi, cL)
	}
	if cN(c0) {
		return upTo3(b, nil, p, 0, hi)
	}
	other := func(x byte) bool { return !cS(x) && !cL(x) && !cN(x) }
	q := p
	if c0 == ' ' && p+1 < hi && other(b[p+1]) {
		q = p + 1
	}
	if other(b[q]) {
		e := run(b, q, hi, other)
		return run(b, e, hi, isCRLF)
	}
	end := run(b, p, hi, cS)
	if end == p {
		return -1
	}
	for k := end - 1; k >= p; k-- {
		if isCRLF(b[k]) {
			return k + 1 // \s*[\r\n]+
		}
	}
	// \s{k}(?!\S): k spaces followed by a space or the end of the text.
	fits := func(k int) bool { return p+k < end || (p+k == end && end == hi) }
	for _, k := range []int{512, 256, 128, 64, 32, 16, 8, 4, 2, 1} {
		if fits(k) {
			return p + k
		}
	}
	return p + 1
}

// bloom is  ?[^(\s|.,!?…。，、।۔،)]+ , a pattern std::wregex runs on code
// points (no \p{..} class).
func bloom(_ []byte, c []rune, p, _, hi int) int {
	in := func(r rune) bool {
		switch r {
		case '\t', '\n', '\v', '\f', '\r', ' ', '(', '|', ')', '.', ',', '!', '?', '…', '。', '，', '、', '।', '۔', '،':
			return false
		}
		return true
	}
	q := p
	if c[p] == ' ' && p+1 < hi && in(c[p+1]) {
		q = p + 1
	}
	if e := cpRun(c, q, hi, in); e > q {
		return e
	}
	return -1
}

// deepseekV3 is [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func deepseekV3(b []byte, _ []rune, p, _, hi int) int {
	c0 := b[p]
	asciiLetter := func(x byte) bool { return x < 0x80 && (x|0x20 >= 'a' && x|0x20 <= 'z') }
	if c0 < 0x80 && strings.IndexByte("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", c0) >= 0 && p+1 < hi && asciiLetter(b[p+1]) {
		return run(b, p+1, hi, asciiLetter)
	}
	lm := func(x byte) bool { return cL(x) || cM(x) }
	if !isCRLF(c0) && !cL(c0) && !cP(c0) && !cSy(c0) && p+1 < hi && lm(b[p+1]) {
		return run(b, p+1, hi, lm)
	}
	if lm(c0) {
		return run(b, p, hi, lm)
	}
	ps := func(x byte) bool { return cP(x) || cSy(x) }
	q := p
	if c0 == ' ' && p+1 < hi && ps(b[p+1]) {
		q = p + 1
	}
	if ps(b[q]) {
		e := run(b, q, hi, ps)
		return run(b, e, hi, isCRLF)
	}
	return spaceTail(b, p, hi)
}

// casedWord is the letter part of the tekken and gpt-4o patterns as
// llama.cpp rewrites them for std::regex:
//
//	[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+(contraction)?
//	|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*(contraction)?
//
// "Upper" is a letter other than a-z, "lower" a letter other than A-Z, so a
// non-ASCII letter counts as both.
func casedWord(b []byte, p, hi int, contractions bool) int {
	upper := func(x byte) bool { return cL(x) && !(x >= 'a' && x <= 'z') }
	lower := func(x byte) bool { return cL(x) && !(x >= 'A' && x <= 'Z') }
	tail := func(e int) int {
		if contractions && e < hi {
			if c := contraction(b, e, hi); c > 0 {
				return c
			}
		}
		return e
	}
	s := p
	if c0 := b[p]; !isCRLF(c0) && !cL(c0) && !cN(c0) {
		s = p + 1 // the optional leading character; without it nothing matches
	}
	if s >= hi {
		return -1
	}
	// Upper* Lower+: the longest run of uppers that still leaves a lower.
	u := run(b, s, hi, upper)
	for k := u; k >= s; k-- {
		if k < hi && lower(b[k]) {
			return tail(run(b, k, hi, lower))
		}
	}
	// Upper+ Lower*.
	if u > s {
		return tail(run(b, u, hi, lower))
	}
	return -1
}

// tekken is casedWord|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
// and gpt4o the same with contractions after words and \p{N}{1,3}.
func tekken(b []byte, _ []rune, p, _, hi int) int { return casedAlt(b, p, hi, false) }
func gpt4o(b []byte, _ []rune, p, _, hi int) int  { return casedAlt(b, p, hi, true) }

func casedAlt(b []byte, p, hi int, gpt4o bool) int {
	if e := casedWord(b, p, hi, gpt4o); e > 0 {
		return e
	}
	if cN(b[p]) {
		if gpt4o {
			return min(run(b, p, hi, cN), p+3)
		}
		return p + 1
	}
	other := func(x byte) bool { return !cS(x) && !cL(x) && !cN(x) }
	q := p
	if b[p] == ' ' && p+1 < hi && other(b[p+1]) {
		q = p + 1
	}
	if other(b[q]) {
		e := run(b, q, hi, other)
		return run(b, e, hi, func(x byte) bool { return isCRLF(x) || x == '/' })
	}
	return spaceTail(b, p, hi)
}

// deepseekLLMLetters is the letter class of deepseek-llm's second pattern
// (cased letters). The escapes are code points that Unicode normalisation
// would replace by their canonical twins, which would break the ranges.
const deepseekLLMLetters = "A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\u1f7dᾀ-ᾴᾶ-ᾼ\u1fbeῂ-ῄῆ-ῌῐ-\u1fd3ῖ-\u1fdbῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\u2126ℨ\u212a-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃"

// charClass parses the inside of a bracket expression made of single code
// points and ranges ("a-z").
func charClass(spec string) func(rune) bool {
	rs := []rune(spec)
	var ranges [][2]rune
	for i := 0; i < len(rs); i++ {
		if i+2 < len(rs) && rs[i+1] == '-' {
			ranges = append(ranges, [2]rune{rs[i], rs[i+2]})
			i += 2
			continue
		}
		ranges = append(ranges, [2]rune{rs[i], rs[i]})
	}
	return cpRange(ranges...)
}

// optSpaceThenCP is \s?[class]+ on code points (std::wregex: \s is C's
// isspace, non-ASCII spaces having become vertical tabs).
func optSpaceThenCP(in func(rune) bool) matcher {
	sp := func(r rune) bool { return r < 0x80 && isCSpace(byte(r)) }
	return func(_ []byte, c []rune, p, _, hi int) int {
		if sp(c[p]) && p+1 < hi && in(c[p+1]) {
			return cpRun(c, p+1, hi, in)
		}
		if in(c[p]) {
			return cpRun(c, p, hi, in)
		}
		return -1
	}
}

// trailingSpaces is \s+$: the whitespace that ends each fragment.
func trailingSpaces(s *splitText, frags []int) []int {
	c := s.wideText()
	out := make([]int, 0, len(frags)+1)
	start := 0
	for _, n := range frags {
		lo, hi := start, start+n
		start = hi
		ts := hi
		for ts > lo && c[ts-1] < 0x80 && isCSpace(byte(c[ts-1])) {
			ts--
		}
		if ts > lo {
			out = append(out, ts-lo)
		}
		if ts < hi {
			out = append(out, hi-ts)
		}
	}
	return out
}

const outOfRange = -1

// splitGPT2 is llama.cpp's hand-written splitter for GPT-2's pattern
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
func splitGPT2(s *splitText, frags []int) []int {
	return customSplit(s, frags, func(c *cursor) {
		r, f := c.cpt(c.pos), c.flags(c.pos)
		if r == '\'' && c.pos+1 < c.hi {
			n := c.cpt(c.pos + 1)
			if n == 's' || n == 't' || n == 'm' || n == 'd' {
				c.add(c.pos + 2)
				return
			}
			if c.pos+2 < c.hi {
				nn := c.cpt(c.pos + 2)
				if (n == 'r' && nn == 'e') || (n == 'v' && nn == 'e') || (n == 'l' && nn == 'l') {
					c.add(c.pos + 3)
					return
				}
			}
		}
		f2 := f
		if r == ' ' {
			f2 = c.flags(c.pos + 1)
		}
		for _, cls := range []cptFlags{flLetter, flNumber} {
			if f2.has(cls) {
				if r == ' ' {
					c.pos++
				}
				for c.flags(c.pos).has(cls) {
					c.pos++
				}
				c.add(c.pos)
				return
			}
		}
		if !f2.has(flWhitespace|flLetter|flNumber) && f2 != 0 {
			if r == ' ' {
				c.pos++
			}
			for g := c.flags(c.pos); !g.has(flWhitespace|flLetter|flNumber) && g != 0; g = c.flags(c.pos) {
				c.pos++
			}
			c.add(c.pos)
			return
		}
		c.spaces(false)
	})
}

// splitLLaMA3 is llama.cpp's hand-written splitter for LLaMA-3's pattern
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func splitLLaMA3(s *splitText, frags []int) []int {
	return customSplit(s, frags, func(c *cursor) {
		r, f := c.cpt(c.pos), c.flags(c.pos)
		if r == '\'' && c.pos+1 < c.hi {
			n := asciiLower(c.cpt(c.pos + 1))
			if n == 's' || n == 't' || n == 'm' || n == 'd' {
				c.add(c.pos + 2)
				return
			}
			if c.pos+2 < c.hi {
				nn := asciiLower(c.cpt(c.pos + 2))
				if (n == 'r' && nn == 'e') || (n == 'v' && nn == 'e') || (n == 'l' && nn == 'l') {
					c.add(c.pos + 3)
					return
				}
			}
		}
		if !(r == '\r' || r == '\n' || f.has(flNumber)) {
			if f.has(flLetter) || c.flags(c.pos+1).has(flLetter) {
				c.pos++
				for c.flags(c.pos).has(flLetter) {
					c.pos++
				}
				c.add(c.pos)
				return
			}
		}
		if f.has(flNumber) {
			ini := c.pos
			for c.flags(c.pos).has(flNumber) {
				c.pos++
				if c.pos-ini >= 3 {
					c.add(c.pos)
					ini = c.pos
				}
			}
			c.add(c.pos)
			return
		}
		f2 := f
		if r == ' ' {
			f2 = c.flags(c.pos + 1)
		}
		// llama.cpp tests the first character's flags here, not f2's.
		if !f2.has(flWhitespace|flLetter|flNumber) && f != 0 {
			if r == ' ' {
				c.pos++
			}
			for g := c.flags(c.pos); !g.has(flWhitespace|flLetter|flNumber) && g != 0; g = c.flags(c.pos) {
				c.pos++
			}
			for x := c.cpt(c.pos); x == '\r' || x == '\n'; x = c.cpt(c.pos) {
				c.pos++
			}
			c.add(c.pos)
			return
		}
		c.spaces(true)
	})
}

// isHan is llama.cpp's unicode_cpt_is_han: the CJK ideograph blocks.
func isHan(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) || (r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B820 && r <= 0x2CEAF) ||
		(r >= 0x2CEB0 && r <= 0x2EBEF) || (r >= 0xF900 && r <= 0xFAFF) ||
		(r >= 0x2F800 && r <= 0x2FA1F)
}

// splitKimiK2 is llama.cpp's hand-written splitter for Kimi-K2: Han runs,
// then words of other letters with an optional leading character and
// contraction, digits in threes, and LLaMA-3's punctuation and spaces.
func splitKimiK2(s *splitText, frags []int) []int {
	return customSplit(s, frags, func(c *cursor) {
		r, f := c.cpt(c.pos), c.flags(c.pos)
		if isHan(r) {
			for isHan(c.cpt(c.pos)) {
				c.pos++
			}
			c.add(c.pos)
			return
		}
		letter := func(p int) bool { return c.flags(p).has(flLetter) && !isHan(c.cpt(p)) }
		lead := !(r == '\r' || r == '\n' || f.has(flLetter|flNumber))
		if (f.has(flLetter) && !isHan(r)) || (lead && letter(c.pos+1)) {
			if lead {
				c.pos++
			}
			for letter(c.pos) {
				c.pos++
			}
			if c.cpt(c.pos) == '\'' && c.pos+1 < c.hi {
				n := asciiLower(c.cpt(c.pos + 1))
				if n == 's' || n == 't' || n == 'm' || n == 'd' {
					c.pos += 2
				} else if c.pos+2 < c.hi {
					nn := asciiLower(c.cpt(c.pos + 2))
					if (n == 'r' && nn == 'e') || (n == 'v' && nn == 'e') || (n == 'l' && nn == 'l') {
						c.pos += 3
					}
				}
			}
			c.add(c.pos)
			return
		}
		if f.has(flNumber) {
			ini := c.pos
			for c.flags(c.pos).has(flNumber) {
				c.pos++
				if c.pos-ini >= 3 {
					c.add(c.pos)
					ini = c.pos
				}
			}
			c.add(c.pos)
			return
		}
		f2 := f
		if r == ' ' {
			f2 = c.flags(c.pos + 1)
		}
		if !f2.has(flWhitespace|flLetter|flNumber) && f2 != 0 {
			if r == ' ' {
				c.pos++
			}
			for g := c.flags(c.pos); !g.has(flWhitespace|flLetter|flNumber) && g != 0; g = c.flags(c.pos) {
				c.pos++
			}
			for x := c.cpt(c.pos); x == '\r' || x == '\n'; x = c.cpt(c.pos) {
				c.pos++
			}
			c.add(c.pos)
			return
		}
		c.spaces(true)
	})
}

func asciiLower(r rune) rune {
	if r >= 'A' && r <= 'Z' {
		return r + 'a' - 'A'
	}
	return r
}

// cursor walks one fragment for the hand-written splitters.
type cursor struct {
	cps         []rune
	lo, hi, pos int
	prev        int
	out         []int
}

func (c *cursor) cpt(p int) rune {
	if p >= c.lo && p < c.hi {
		return c.cps[p]
	}
	return outOfRange
}

func (c *cursor) flags(p int) cptFlags {
	if p >= c.lo && p < c.hi {
		return flagsOf(c.cps[p])
	}
	return 0
}

// add ends a word at end and moves the cursor there.
func (c *cursor) add(end int) {
	if end > c.prev {
		c.out = append(c.out, end-c.prev)
	}
	c.prev = end
	c.pos = end
}

// spaces handles a whitespace run (\s*[\r\n]+ when lineBreaks, then
// \s+(?!\S), then \s+) or, failing that, one unmatched character.
func (c *cursor) spaces(lineBreaks bool) {
	n, lastRN := 0, 0
	for c.flags(c.pos + n).has(flWhitespace) {
		if x := c.cpt(c.pos + n); x == '\r' || x == '\n' {
			lastRN = c.pos + n + 1
		}
		n++
	}
	switch {
	case lineBreaks && lastRN > 0:
		c.add(lastRN)
	case n > 1 && c.cpt(c.pos+n) != outOfRange:
		c.add(c.pos + n - 1)
	case n > 0:
		c.add(c.pos + n)
	default:
		c.add(c.pos + 1)
	}
}

func customSplit(s *splitText, frags []int, next func(c *cursor)) []int {
	c := &cursor{cps: s.cps, out: make([]int, 0, len(frags))}
	start := 0
	for _, n := range frags {
		c.lo, c.hi = start, start+n
		c.pos, c.prev = c.lo, c.lo
		start = c.hi
		for c.pos < c.hi {
			next(c)
		}
	}
	return c.out
}

// Pre-tokenizers by the pattern list llama.cpp gives each family.
var (
	preGPT2    = []step{splitGPT2}
	preLLaMA3  = []step{splitLLaMA3}
	preDefault = []step{
		regexStep(plusOf(func(x byte) bool { return cP(x) || (x < 0x80 && strings.IndexByte("$+<=>^~|", x) >= 0) })),
		splitGPT2,
		regexStep(plusOf(cN)),
		regexStep(threeDigits),
	}
	preFalcon = []step{
		regexStep(plusOf(func(x byte) bool { return cP(x) || (x < 0x80 && strings.IndexByte("$+<=>^~|`", x) >= 0) })),
		splitGPT2,
		regexStep(threeDigits),
	}
	preStarCoder     = []step{regexStep(oneOf(cN)), splitGPT2}
	preQwen2         = []step{regexStep(qwen2)}
	preQwen35        = []step{regexStep(qwen35)}
	preSeedCoder     = []step{regexStep(seedCoder)}
	preBloom         = []step{regexStep(bloom)}
	preViking        = []step{regexStep(bloom), regexStep(oneOf(cN))}
	preTekken        = []step{regexStep(tekken)}
	preKimiK2        = []step{splitKimiK2}
	preExaoneMoE     = []step{regexStep(exaoneMoE)}
	preJais2         = []step{regexStep(jais2)}
	preGPT4o         = []step{regexStep(gpt4o)}
	preDeepSeekCoder = []step{
		regexStep(cpPlusOne(func(r rune) bool { return r == '\r' || r == '\n' })),
		regexStep(optSpaceThen(cL)),
		regexStep(optSpaceThen(cP)),
		regexStep(cpPlus(cpRange([2]rune{0x4E00, 0x9FA5}, [2]rune{0x0800, 0x4E00}, [2]rune{0xAC00, 0xD7FF}))),
		regexStep(oneOf(cN)),
	}
	preDeepSeekLLM = []step{
		regexStep(cpPlusOne(func(r rune) bool { return r == '\r' || r == '\n' })),
		regexStep(optSpaceThenCP(charClass(deepseekLLMLetters))),
		regexStep(optSpaceThenCP(charClass("!-/:-~！-／：-～‘-‟　-。"))),
		trailingSpaces,
		regexStep(cpPlus(cpRange([2]rune{0x4E00, 0x9FA5}, [2]rune{0x0800, 0x4E00}, [2]rune{0xAC00, 0xD7FF}))),
		regexStep(plusOf(cN)),
	}
	preDeepSeekV3 = []step{
		regexStep(upTo3),
		regexStep(cpPlus(cpRange([2]rune{0x4E00, 0x9FA5}, [2]rune{0x3040, 0x309F}, [2]rune{0x30A0, 0x30FF}))),
		regexStep(deepseekV3),
	}
)

// cpPlusOne matches one code point in a set ([\r\n]).
func cpPlusOne(in func(rune) bool) matcher {
	return func(_ []byte, c []rune, p, _, _ int) int {
		if in(c[p]) {
			return p + 1
		}
		return -1
	}
}

// preFor selects the pre-tokenizer for tokenizer.ggml.pre and sets the
// flags llama.cpp ties to it. Names llama.cpp knows but whose patterns are
// not implemented here are refused rather than split wrongly; unknown names
// fall back to "default", as in llama.cpp.
func preFor(name string, t *Tokenizer) (preTokenizer, error) {
	p := preTokenizer{name: name}
	switch name {
	case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2":
		p.steps = preLLaMA3
		t.ignoreMerges, t.addBOS = true, true
	case "dbrx", "smaug-bpe":
		p.steps = preLLaMA3
	case "glm4", "chatglm-bpe":
		p.steps = preLLaMA3
		t.bos = null
	case "deepseek-coder":
		p.steps = preDeepSeekCoder
		t.cleanSpaces = false
	case "deepseek-v3", "hunyuan-dense", "joyai-llm":
		p.steps = preDeepSeekV3
		t.cleanSpaces = false
	case "falcon":
		p.steps = preFalcon
	case "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum",
		"modern-bert", "jina-v1-en", "jina-v2-code", "roberta-bpe", "exaone4", "mpt", "olmo", "jais":
		p.steps = preGPT2
	case "trillion", "granite-docling":
		p.steps = preGPT2
		t.cleanSpaces = false
	case "starcoder", "refact", "codeshell", "exaone", "minerva-7b":
		p.steps = preStarCoder
	case "command-r", "smollm":
		p.steps = preStarCoder
		t.cleanSpaces = false
	case "qwen2", "deepseek-r1-qwen", "kormo", "hunyuan", "grok-2", "solar-open":
		p.steps = preQwen2
		t.cleanSpaces = false
	case "stablelm2", "megrez":
		p.steps = preQwen2
	case "tekken":
		p.steps = preTekken
		t.cleanSpaces = false
		t.ignoreMerges, t.addBOS = true, true
	case "gpt-4o", "llama4", "minimax-m2":
		p.steps = preGPT4o
		t.cleanSpaces = false
	case "qwen35":
		p.steps = preQwen35
		t.cleanSpaces = false
	case "seed-coder":
		p.steps = preSeedCoder
		t.cleanSpaces = false
	case "bailingmoe", "bailingmoe2", "llada-moe":
		p.steps = preQwen2
		t.cleanSpaces = false
	case "poro-chat":
		p.steps = preBloom
		t.cleanSpaces = false
	case "bloom", "gpt3-finnish":
		p.steps = preBloom
	case "viking":
		p.steps = preViking
		t.cleanSpaces = false
	case "deepseek-llm":
		p.steps = preDeepSeekLLM
		t.cleanSpaces = false
	case "exaone-moe":
		p.steps = preExaoneMoE
	case "jais-2":
		p.steps = preJais2
	case "kimi-k2":
		p.steps = preKimiK2
		t.cleanSpaces = false
	case "youtu", "chameleon", "tiny_aya", "superbpe", "afmoe":
		return p, fmt.Errorf("%w: pre-tokenizer %q", ErrUnsupported, name)
	default:
		p.steps = preDefault
	}
	return p, nil
}
