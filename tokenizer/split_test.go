package tokenizer

import (
	"errors"
	"slices"
	"testing"
)

// TestPreTokenizers checks each pre-tokenizer's words. The expected splits
// are those of the pre-tokenizer's original regular expressions (Python's
// regex module), which llama.cpp's splitters reproduce on these inputs.
func TestPreTokenizers(t *testing.T) {
	cases := []struct {
		pre, text string
		want      []string
	}{
		{"gpt-2", "Hello world", []string{"Hello", " world"}},
		{"gpt-2", " Hello  world ", []string{" Hello", " ", " world", " "}},
		{"gpt-2", "I'm don't WE'LL they've", []string{"I", "'m", " don", "'t", " WE", "'", "LL", " they", "'ve"}},
		{"gpt-2", "123456789 1,234.5", []string{"123456789", " 1", ",", "234", ".", "5"}},
		{"gpt-2", "a\n\nb\r\n c", []string{"a", "\n", "\n", "b", "\r\n", " c"}},
		{"gpt-2", "   leading", []string{"  ", " leading"}},
		{"gpt-2", "trailing   ", []string{"trailing", "   "}},
		{"gpt-2", "日本語のテキスト 你好", []string{"日本語のテキスト", " 你好"}},
		{"gpt-2", "🙂🚀 emoji 👍🏽", []string{"🙂🚀", " emoji", " 👍🏽"}},
		{"gpt-2", "def f(x):\n    return x*2  # c", []string{"def", " f", "(", "x", "):", "\n   ", " return", " x", "*", "2", " ", " #", " c"}},
		{"gpt-2", "\u00a0nbsp\u2003em", []string{"\u00a0", "nbsp", "\u2003", "em"}},
		{"gpt-2", "e\u0301te \u0301", []string{"e", "\u0301", "te", " \u0301"}},
		{"gpt-2", "٣٤٥ ٦", []string{"٣٤٥", " ٦"}},
		{"gpt-2", "$$$ +=< |>^`", []string{"$$$", " +=<", " |>^`"}},
		{"gpt-2", "A'S B'Re", []string{"A", "'", "S", " B", "'", "Re"}},
		{"gpt-2", "  !", []string{" ", " !"}},
		{"gpt-2", "ｈｅｌｌｏ！", []string{"ｈｅｌｌｏ", "！"}},
		{"gpt-2", "한국어 텍스트", []string{"한국어", " 텍스트"}},
		{"gpt-2", "'''s", []string{"'''", "s"}},
		{"llama3", "Hello world", []string{"Hello", " world"}},
		{"llama3", " Hello  world ", []string{" Hello", " ", " world", " "}},
		{"llama3", "I'm don't WE'LL they've", []string{"I", "'m", " don", "'t", " WE", "'LL", " they", "'ve"}},
		{"llama3", "123456789 1,234.5", []string{"123", "456", "789", " ", "1", ",", "234", ".", "5"}},
		{"llama3", "a\n\nb\r\n c", []string{"a", "\n\n", "b", "\r\n", " c"}},
		{"llama3", "   leading", []string{"  ", " leading"}},
		{"llama3", "trailing   ", []string{"trailing", "   "}},
		{"llama3", "日本語のテキスト 你好", []string{"日本語のテキスト", " 你好"}},
		{"llama3", "🙂🚀 emoji 👍🏽", []string{"🙂🚀", " emoji", " 👍🏽"}},
		{"llama3", "def f(x):\n    return x*2  # c", []string{"def", " f", "(x", "):\n", "   ", " return", " x", "*", "2", " ", " #", " c"}},
		{"llama3", "\u00a0nbsp\u2003em", []string{"\u00a0nbsp", "\u2003em"}},
		{"llama3", "e\u0301te \u0301", []string{"e", "\u0301te", " \u0301"}},
		{"llama3", "٣٤٥ ٦", []string{"٣٤٥", " ", "٦"}},
		{"llama3", "$$$ +=< |>^`", []string{"$$$", " +=<", " |>^`"}},
		{"llama3", "A'S B'Re", []string{"A", "'S", " B", "'Re"}},
		{"llama3", "  !", []string{" ", " !"}},
		{"llama3", "ｈｅｌｌｏ！", []string{"ｈｅｌｌｏ", "！"}},
		{"llama3", "한국어 텍스트", []string{"한국어", " 텍스트"}},
		{"llama3", "'''s", []string{"'''", "s"}},
		{"qwen2", "Hello world", []string{"Hello", " world"}},
		{"qwen2", " Hello  world ", []string{" Hello", " ", " world", " "}},
		{"qwen2", "I'm don't WE'LL they've", []string{"I", "'m", " don", "'t", " WE", "'LL", " they", "'ve"}},
		{"qwen2", "123456789 1,234.5", []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", " ", "1", ",", "2", "3", "4", ".", "5"}},
		{"qwen2", "a\n\nb\r\n c", []string{"a", "\n\n", "b", "\r\n", " c"}},
		{"qwen2", "   leading", []string{"  ", " leading"}},
		{"qwen2", "trailing   ", []string{"trailing", "   "}},
		{"qwen2", "日本語のテキスト 你好", []string{"日本語のテキスト", " 你好"}},
		{"qwen2", "🙂🚀 emoji 👍🏽", []string{"🙂🚀", " emoji", " 👍🏽"}},
		{"qwen2", "def f(x):\n    return x*2  # c", []string{"def", " f", "(x", "):\n", "   ", " return", " x", "*", "2", " ", " #", " c"}},
		{"qwen2", "\u00a0nbsp\u2003em", []string{"\u00a0nbsp", "\u2003em"}},
		{"qwen2", "e\u0301te \u0301", []string{"e", "\u0301te", " \u0301"}},
		{"qwen2", "٣٤٥ ٦", []string{"٣", "٤", "٥", " ", "٦"}},
		{"qwen2", "$$$ +=< |>^`", []string{"$$$", " +=<", " |>^`"}},
		{"qwen2", "A'S B'Re", []string{"A", "'S", " B", "'Re"}},
		{"qwen2", "  !", []string{" ", " !"}},
		{"qwen2", "ｈｅｌｌｏ！", []string{"ｈｅｌｌｏ", "！"}},
		{"qwen2", "한국어 텍스트", []string{"한국어", " 텍스트"}},
		{"qwen2", "'''s", []string{"'''", "s"}},
		{"deepseek-coder", "Hello world", []string{"Hello", " world"}},
		{"deepseek-coder", " Hello  world ", []string{" Hello", " ", " world", " "}},
		{"deepseek-coder", "I'm don't WE'LL they've", []string{"I", "'", "m", " don", "'", "t", " WE", "'", "LL", " they", "'", "ve"}},
		{"deepseek-coder", "123456789 1,234.5", []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", " ", "1", ",", "2", "3", "4", ".", "5"}},
		{"deepseek-coder", "a\n\nb\r\n c", []string{"a", "\n", "\n", "b", "\r", "\n", " c"}},
		{"deepseek-coder", "   leading", []string{"  ", " leading"}},
		{"deepseek-coder", "trailing   ", []string{"trailing", "   "}},
		{"deepseek-coder", "日本語のテキスト 你好", []string{"日本語のテキスト", " ", "你好"}},
		{"deepseek-coder", "🙂🚀 emoji 👍🏽", []string{"🙂🚀", " emoji", " 👍🏽"}},
		{"deepseek-coder", "def f(x):\n    return x*2  # c", []string{"def", " f", "(", "x", "):", "\n", "   ", " return", " x", "*", "2", " ", " #", " c"}},
		{"deepseek-coder", "\u00a0nbsp\u2003em", []string{"\u00a0nbsp", "\u2003", "em"}},
		{"deepseek-coder", "e\u0301te \u0301", []string{"e", "\u0301", "te", " \u0301"}},
		{"deepseek-coder", "٣٤٥ ٦", []string{"٣", "٤", "٥", " ", "٦"}},
		{"deepseek-coder", "$$$ +=< |>^`", []string{"$$$ +=< |>^`"}},
		{"deepseek-coder", "A'S B'Re", []string{"A", "'", "S", " B", "'", "Re"}},
		{"deepseek-coder", "  !", []string{" ", " !"}},
		{"deepseek-coder", "ｈｅｌｌｏ！", []string{"ｈｅｌｌｏ", "！"}},
		{"deepseek-coder", "한국어 텍스트", []string{"한국어", " ", "텍스트"}},
		{"deepseek-coder", "'''s", []string{"'''", "s"}},
		{"deepseek-v3", "Hello world", []string{"Hello", " world"}},
		{"deepseek-v3", " Hello  world ", []string{" Hello", " ", " world", " "}},
		{"deepseek-v3", "I'm don't WE'LL they've", []string{"I", "'m", " don", "'t", " WE", "'LL", " they", "'ve"}},
		{"deepseek-v3", "123456789 1,234.5", []string{"123", "456", "789", " ", "1", ",", "234", ".", "5"}},
		{"deepseek-v3", "a\n\nb\r\n c", []string{"a", "\n\n", "b", "\r\n", " c"}},
		{"deepseek-v3", "   leading", []string{"  ", " leading"}},
		{"deepseek-v3", "trailing   ", []string{"trailing", "   "}},
		{"deepseek-v3", "日本語のテキスト 你好", []string{"日本語のテキスト", " ", "你好"}},
		{"deepseek-v3", "🙂🚀 emoji 👍🏽", []string{"🙂🚀", " emoji", " 👍🏽"}},
		{"deepseek-v3", "def f(x):\n    return x*2  # c", []string{"def", " f", "(x", "):\n", "   ", " return", " x", "*", "2", " ", " #", " c"}},
		{"deepseek-v3", "\u00a0nbsp\u2003em", []string{"\u00a0nbsp", "\u2003em"}},
		{"deepseek-v3", "e\u0301te \u0301", []string{"e\u0301te", " \u0301"}},
		{"deepseek-v3", "٣٤٥ ٦", []string{"٣٤٥", " ", "٦"}},
		{"deepseek-v3", "$$$ +=< |>^`", []string{"$$$", " +=<", " |>^`"}},
		{"deepseek-v3", "A'S B'Re", []string{"A", "'S", " B", "'Re"}},
		{"deepseek-v3", "  !", []string{" ", " !"}},
		{"deepseek-v3", "ｈｅｌｌｏ！", []string{"ｈｅｌｌｏ", "！"}},
		{"deepseek-v3", "한국어 텍스트", []string{"한국어", " 텍스트"}},
		{"deepseek-v3", "'''s", []string{"'''", "s"}},
		{"default", "Hello world", []string{"Hello", " world"}},
		{"default", " Hello  world ", []string{" Hello", " ", " world", " "}},
		{"default", "I'm don't WE'LL they've", []string{"I", "'", "m", " don", "'", "t", " WE", "'", "LL", " they", "'", "ve"}},
		{"default", "123456789 1,234.5", []string{"123", "456", "789", " ", "1", ",", "234", ".", "5"}},
		{"default", "a\n\nb\r\n c", []string{"a", "\n", "\n", "b", "\r\n", " c"}},
		{"default", "   leading", []string{"  ", " leading"}},
		{"default", "trailing   ", []string{"trailing", "   "}},
		{"default", "日本語のテキスト 你好", []string{"日本語のテキスト", " 你好"}},
		{"default", "🙂🚀 emoji 👍🏽", []string{"🙂🚀", " emoji", " 👍🏽"}},
		{"default", "def f(x):\n    return x*2  # c", []string{"def", " f", "(", "x", "):", "\n   ", " return", " x", "*", "2", "  ", "#", " c"}},
		{"default", "\u00a0nbsp\u2003em", []string{"\u00a0", "nbsp", "\u2003", "em"}},
		{"default", "e\u0301te \u0301", []string{"e", "\u0301", "te", " \u0301"}},
		{"default", "٣٤٥ ٦", []string{"٣٤٥", " ", "٦"}},
		{"default", "$$$ +=< |>^`", []string{"$$$", " ", "+=<", " ", "|>^", "`"}},
		{"default", "A'S B'Re", []string{"A", "'", "S", " B", "'", "Re"}},
		{"default", "  !", []string{"  ", "!"}},
		{"default", "ｈｅｌｌｏ！", []string{"ｈｅｌｌｏ", "！"}},
		{"default", "한국어 텍스트", []string{"한국어", " 텍스트"}},
		{"default", "'''s", []string{"'''", "s"}},
		// Where llama.cpp departs from the regular expressions. Its collapsed
		// \p{S} lacks '~', so deepseek-v3 leaves "~~" unmatched and " ~"
		// does not join.
		{"deepseek-v3", "x ~y ~~ a~", []string{"x", " ", "~y", " ", "~~", " a", "~"}},
		// Invalid UTF-8 becomes U+FFFD before splitting.
		{"gpt-2", "a\xffb", []string{"a", "\uFFFD", "b"}},
		{"llama3", "a\xff\xfeb", []string{"a", "\uFFFD\uFFFD", "b"}},
		// Surrogates and overlong forms pass through as llama.cpp decodes them.
		{"gpt-2", "x\xed\xa0\x80", []string{"x", "\xed\xa0\x80"}},
		{"qwen2", "\xc0\x80", []string{"\x00"}},
		// LLaMA-3 digits come in threes; Qwen2 digits one by one.
		{"llama3", "1234567", []string{"123", "456", "7"}},
		{"qwen2", "2024", []string{"2", "0", "2", "4"}},
		{"llama3", "", nil},
	}
	for _, c := range cases {
		t.Run(c.pre+"/"+c.text, func(t *testing.T) {
			p, err := preFor(c.pre, &Tokenizer{})
			if err != nil {
				t.Fatal(err)
			}
			if got := p.split(c.text); !slices.Equal(got, c.want) {
				t.Errorf("split %q:\n got %q\nwant %q", c.text, got, c.want)
			}
		})
	}
}

func TestPreForUnsupported(t *testing.T) {
	for _, name := range []string{"tekken", "gpt-4o", "kimi-k2", "seed-coder"} {
		if _, err := preFor(name, &Tokenizer{}); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: got %v, want ErrUnsupported", name, err)
		}
	}
	// Names llama.cpp does not know fall back to its default patterns.
	p, err := preFor("no-such-pre", &Tokenizer{})
	if err != nil || len(p.steps) != len(preDefault) {
		t.Errorf("unknown name: %v, %d steps", err, len(p.steps))
	}
}

// TestFlags spot-checks the code point classes against llama.cpp's table.
func TestFlags(t *testing.T) {
	cases := []struct {
		r    rune
		want cptFlags
	}{
		{' ', flSeparator | flWhitespace},
		{'\n', flControl | flWhitespace},
		{'a', flLetter},
		{'7', flNumber},
		{'$', flSymbol},
		{'_', flPunctuation},
		{0xA0, flSeparator | flWhitespace},
		{0xA7, flPunctuation},
		{0xAA, flLetter},
		{0xAD, flControl},
		{0xB2, flNumber},
		{0x0301, flAccentMark},
		{0x0378, flUndefined},
		{0x3000, flSeparator | flWhitespace},
		{0xFFFD, flSymbol},
		{0xFFFE, flUndefined},
		{0xE0001, flControl},
		{0xF0000, flControl},
		{0x1F642, flSymbol},
		{0x110000, flUndefined},
	}
	for _, c := range cases {
		if got := flagsOf(c.r); got != c.want {
			t.Errorf("U+%04X: flags %#x, want %#x", c.r, got, c.want)
		}
	}
}

func TestDecodeCpts(t *testing.T) {
	cases := []struct {
		in   string
		want []rune
	}{
		{"aé€🙂", []rune{'a', 'é', '€', 0x1F642}},
		{"\x80", []rune{0xFFFD}},
		{"\xc3", []rune{0xFFFD}},
		{"\xe2\x82", []rune{0xFFFD, 0xFFFD}},
		{"\xed\xa0\x80", []rune{0xD800}},
		{"\xf8\x88", []rune{0xFFFD, 0xFFFD}},
	}
	for _, c := range cases {
		if got := decodeCpts(c.in); !slices.Equal(got, c.want) {
			t.Errorf("%q: got %U want %U", c.in, got, c.want)
		}
	}
}
