package tokenizer

import (
	"errors"
	"slices"
	"strings"
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
		// llama.cpp's std::wregex sees non-ASCII spaces as vertical tabs, so
		// deepseek-coder's CJK range (U+0800..U+4E00) does not take U+2003.
		{"deepseek-coder", "\u00a0nbsp\u2003em", []string{"\u00a0nbsp", "\u2003em"}},
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

// TestPreTokenizersLlamaCpp checks random mixes of letters, digits, marks,
// CJK, symbols and Unicode spaces against testdata/split_emu.py, which runs
// each family's pattern list the way llama.cpp's unicode_regex_split does
// (collapsed categories, std::regex whitespace, fragment by fragment).
func TestPreTokenizersLlamaCpp(t *testing.T) {
	cases := []struct {
		pre, text string
		want      []string
	}{
		{"qwen2", "\u2028&#\\½tS\\", []string{"\u2028", "&#\\", "½", "tS", "\\"}},
		{"qwen2", "S가#,0ー\u0301 ", []string{"S가", "#,", "0", "ー", "\u0301", " "}},
		{"qwen2", "(#5Z\u3000ωΩétL", []string{"(#", "5", "Z", "\u3000ωΩétL"}},
		{"qwen2", "Y&+\"½T\u00a0e.;", []string{"Y", "&+\"", "½", "T", "\u00a0e", ".;"}},
		{"qwen2", "![٣本M$e\\", []string{"![", "٣", "本M", "$e", "\\"}},
		{"qwen2", "(]日ｈTD=ー~<Z[", []string{"(]", "日ｈTD", "=ー", "~<", "Z", "["}},
		{"qwen2", "\t l가ZΩ&:s\u2028t#\\", []string{"\t", " l가ZΩ", "&:", "s", "\u2028t", "#\\"}},
		{"qwen2", ".-日日ーR\u00adlZ\x0b||% ", []string{".-", "日日ーR", "\u00adlZ", "\x0b", "||%", " "}},
		{"deepseek-coder", "ｈ本-\x0b\x0bD(\"", []string{"ｈ", "本", "-", "\x0b", "\x0bD", "(\""}},
		{"deepseek-coder", "\u2028ー Y]Me(be55 ;", []string{"\u2028", "ー", " Y", "]", "Me", "(", "be", "5", "5", " ;"}},
		{"deepseek-coder", "M<\u00a0🙂T?Y`\\]M", []string{"M", "<\u00a0🙂", "T", "?", "Y", "`", "\\]", "M"}},
		{"deepseek-coder", "[ω٣-^T^*Ωa", []string{"[", "ω", "٣", "-", "^", "T", "^", "*", "Ωa"}},
		{"deepseek-coder", "\u00ad~가Zｈ`ω?ー", []string{"\u00ad~", "가", "Zｈ", "`", "ω", "?", "ー"}},
		{"deepseek-coder", "\u3000 本b९_?\u00a0ｈ'&", []string{"\u3000", " ", "本", "b", "९", "_?", "\u00a0ｈ", "'&"}},
		{"deepseek-coder", "|É:Z?e\u00ads0/é@[", []string{"|", "É", ":", "Z", "?", "e", "\u00ad", "s", "0", "/", "é", "@["}},
		{"deepseek-coder", "YD)*0\t\u3000९5\"\x00-", []string{"YD", ")*", "0", "\t\u3000", "९", "5", "\"", "\x00", "-"}},
		{"deepseek-v3", "\t:t本+ω\rs<sé\nb", []string{"\t", ":t", "本", "+", "ω", "\r", "s", "<s", "é", "\n", "b"}},
		{"deepseek-v3", "d(ｈ[t本@s#", []string{"d", "(", "ｈ", "[t", "本", "@s", "#"}},
		{"deepseek-v3", "MD日\u3000*가eé", []string{"MD", "日", "\u3000", "*", "가eé"}},
		{"deepseek-v3", "/\u0301 ]0\naeω", []string{"/", "\u0301", " ]", "0", "\n", "aeω"}},
		{"deepseek-v3", "{\u3000,})가$_R}가\x00l", []string{"{", "\u3000", ",})", "가", "$_", "R", "}", "가", "\x00l"}},
		{"deepseek-v3", "5\u2028a`Y！D>s[S~", []string{"5", "\u2028a", "`Y", "！", "D", ">s", "[S", "~"}},
		{"deepseek-v3", "`?.½!本:[<}^Z", []string{"`?.", "½", "!", "本", ":[<}^", "Z"}},
		{"deepseek-v3", "#Y+[\x0bR*\u00ad*<\u3000$ ,", []string{"#Y", "+[", "\x0bR", "*", "\u00ad", "*<", "\u3000", "$", " ,"}},
		{"default", "Y$`Mｈ$\u2028 ", []string{"Y", "$", "`", "Mｈ", "$", "\u2028 "}},
		{"default", "L+:/\u0301@९\u0301(]", []string{"L", "+:/", "\u0301", "@", "९", "\u0301", "(]"}},
		{"default", "$本\u00ad`,tS\u00a0 ", []string{"$", "本", "\u00ad`", ",", "tS", "\u00a0 "}},
		{"default", "日本\u00a05\x0b(,é/]&[Y%", []string{"日本", "\u00a0", "5", "\x0b", "(,", "é", "/]&[", "Y", "%"}},
		{"default", "ー\u3000\t\u3000/!0:(Y'½\u00a0", []string{"ー", "\u3000\t\u3000", "/!", "0", ":(", "Y", "'", "½", "\u00a0"}},
		{"default", "\\-&t\\+\\=९९\u2028", []string{"\\-&", "t", "\\+\\=", "९९", "\u2028"}},
		{"default", "=:*\t/\u00adSΩωT", []string{"=:*", "\t", "/", "\u00ad", "SΩωT"}},
		{"default", "\u00ad >eM+]\"！\"ー\n", []string{"\u00ad", " ", ">", "eM", "+]\"！\"", "ー", "\n"}},
		{"falcon", "( l\x00\x0b[&S\u2028", []string{"(", " l", "\x00", "\x0b", "[&", "S", "\u2028"}},
		{"falcon", "\u00ad@éa/:~\u00a0-T", []string{"\u00ad", "@", "éa", "/:~", "\u00a0", "-", "T"}},
		{"falcon", "\u00ad🙂<:'l5M\x0b<)日*", []string{"\u00ad🙂", "<:'", "l", "5", "M", "\x0b", "<)", "日", "*"}},
		{"falcon", "本>९\r！\u00a0&\x00\\", []string{"本", ">", "९", "\r", "！", "\u00a0", "&", "\x00", "\\"}},
		{"falcon", "é가&！*가D}", []string{"é가", "&！*", "가D", "}"}},
		{"falcon", " 5ÉY)<\ts", []string{" 5", "ÉY", ")<", "\t", "s"}},
		{"falcon", "b%<s[-\n🙂{&d", []string{"b", "%<", "s", "[-", "\n", "🙂", "{&", "d"}},
		{"falcon", "\\L🙂$Sé;Ω&\u00ad(M", []string{"\\", "L", "🙂", "$", "Sé", ";", "Ω", "&", "\u00ad", "(", "M"}},
		{"starcoder", " ].e`½*()0?", []string{" ].", "e", "`", "½", "*()", "0", "?"}},
		{"starcoder", "*b( ω\u00a0M！%<", []string{"*", "b", "(", " ω", "\u00a0", "M", "！%<"}},
		{"starcoder", "^RΩ([가e日%['Ω", []string{"^", "RΩ", "([", "가e日", "%['", "Ω"}},
		{"starcoder", "s\u2028(~٣é@本\u2028l", []string{"s", "\u2028", "(~", "٣", "é", "@", "本", "\u2028", "l"}},
		{"starcoder", "९e[Ω.}_`e[*ω", []string{"९", "e", "[", "Ω", ".}_`", "e", "[*", "ω"}},
		{"starcoder", "Té[: 5\x00🙂本", []string{"Té", "[:", " ", "5", "\x00🙂", "本"}},
		{"starcoder", "\x0b5([`!=YtΩeD½९", []string{"\x0b", "5", "([`!=", "YtΩeD", "½", "९"}},
		{"starcoder", "🙂९@ \x00+\":S~;|", []string{"🙂", "९", "@", " \x00+\":", "S", "~;|"}},
		{"tekken", "Y5&½M日]$V;", []string{"Y", "5", "&", "½", "M日", "]$", "V", ";"}},
		{"tekken", "！\\l{>！;?日Z\u00adb", []string{"！\\", "l", "{>！;?", "日", "Z", "\u00adb"}},
		{"tekken", "\x00)]-l\n.éS٣", []string{"\x00)]-", "l", "\n", ".é", "S", "٣"}},
		{"tekken", "%é\x0bY|^ \x00日$本t\x00", []string{"%é", "\x0bY", "|^", " \x00", "日", "$本t", "\x00"}},
		{"tekken", "\"\\\u00a0l\\~,/½🙂:M*", []string{"\"\\", "\u00a0l", "\\~,/", "½", "🙂:", "M", "*"}},
		{"tekken", ")aeS\t/#\u2028  s", []string{")ae", "S", "\t", "/#", "\u2028 ", " s"}},
		{"tekken", "*5\r\n0t5@\u00ad", []string{"*", "5", "\r\n", "0", "t", "5", "@\u00ad"}},
		{"tekken", " \u0301?ω^]a\n(", []string{" \u0301?", "ω", "^]", "a", "\n", "("}},
		{"gpt-4o", "ωωe#ｈM^가가e", []string{"ωωe", "#ｈ", "M", "^가가e"}},
		{"gpt-4o", "t٣ !M本R;٣", []string{"t", "٣", " !", "M本", "R", ";", "٣"}},
		{"gpt-4o", "！L+९@/|ｈｈ?Le\n\u00a0", []string{"！L", "+", "९", "@/|", "ｈｈ", "?Le", "\n", "\u00a0"}},
		{"gpt-4o", "e_&९\\d日]", []string{"e", "_&", "९", "\\d日", "]"}},
		{"gpt-4o", "\x0b\\=V=<eT", []string{"\x0b", "\\=", "V", "=<", "e", "T"}},
		{"gpt-4o", "९V!९TL{|(*ω🙂RT", []string{"९", "V", "!", "९", "TL", "{|(*", "ω", "🙂RT"}},
		{"gpt-4o", "L\u00ad(\u00a0%la`\x0bD)", []string{"L", "\u00ad(", "\u00a0", "%la", "`", "\x0bD", ")"}},
		{"gpt-4o", "5\"]a_|T({٣", []string{"5", "\"]", "a", "_|", "T", "({", "٣"}},
		{"qwen35", "\u2028TS\u00a0;！a-…\u0301Y+]Z", []string{"\u2028TS", "\u00a0", ";！", "a", "-…", "\u0301Y", "+]", "Z"}},
		{"qwen35", ";'>e½<R،|।", []string{";'>", "e", "½", "<R", "،|।"}},
		{"qwen35", "5]=가、%*>\\", []string{"5", "]=", "가", "、%*>\\"}},
		{"qwen35", ":;é\t}|Dt।가a\u2028", []string{":;", "é", "\t", "}|", "Dt", "।가a", "\u2028"}},
		{"qwen35", "\"।Vé#.|\"！+éー\x00", []string{"\"।", "Vé", "#.|\"！+", "éー", "\x00"}},
		{"qwen35", "R@٣V^$%d\x0b", []string{"R", "@", "٣", "V", "^$%", "d", "\x0b"}},
		{"seed-coder", "\u0301\u00a0日،0|\x0b$", []string{"\u0301", "\u00a0日", "،", "0", "|", "\x0b", "$"}},
		{"seed-coder", "\u2028M\x0b)½\r-.'\\。!Ω", []string{"\u2028M", "\x0b", ")", "½", "\r", "-.'\\。!", "Ω"}},
		{"seed-coder", "`日T\"\u0301 ~가#ー\r&९^", []string{"`日T", "\"\u0301", " ~", "가", "#ー", "\r", "&", "९", "^"}},
		{"seed-coder", "_?>\u00ad\r{本½É]\r", []string{"_?>\u00ad", "\r", "{本", "½", "É", "]", "\r"}},
		{"seed-coder", "…Y:\x0bωe\x0be½\u2028s", []string{"…Y", ":", "\x0bωe", "\x0be", "½", "\u2028s"}},
		{"seed-coder", "_\x0b+0#\x00日🙂\u2028", []string{"_", "\x0b", "+", "0", "#\x00", "日", "🙂", "\u2028"}},
		{"bailingmoe", "=、L,、D\"~%YD\">", []string{"=、", "L", ",、", "D", "\"~%", "YD", "\">"}},
		{"bailingmoe", "½ ー&ｈω가0~", []string{"½", " ー", "&ｈω가", "0", "~"}},
		{"bailingmoe", "Y5 !\nM,\\^，", []string{"Y", "5", " !\n", "M", ",\\^，"}},
		{"bailingmoe", "sY…%)aÉ;-।", []string{"sY", "…%)", "aÉ", ";-।"}},
		{"bailingmoe", "٣lー$V，Z*가 日", []string{"٣", "lー", "$V", "，Z", "*가", " 日"}},
		{"bailingmoe", "가Ω½Me\"\u00a0٣Y$/ ", []string{"가Ω", "½", "Me", "\"", "\u00a0", "٣", "Y", "$/", " "}},
		{"bloom", "?。۔\"É…&aS", []string{"?。۔", "\"É", "…", "&aS"}},
		{"bloom", "。|LS?、(\t۔٣'~日b", []string{"。|", "LS", "?、(\t۔", "٣'~日b"}},
		{"bloom", "5M M,!日%½t", []string{"5M", " M", ",!", "日%½t"}},
		{"bloom", "#e' Ω\nωD0", []string{"#e'", " Ω", "\n", "ωD0"}},
		{"bloom", " ｈ。本.\n \x0bt0&d\r\\", []string{" ｈ", "。", "本", ".\n \x0b", "t0&d", "\r", "\\"}},
		{"bloom", "ss。ー[Ss\\、^\u3000", []string{"ss", "。", "ー[Ss\\", "、", "^", "\u3000"}},
		{"viking", "本ｈ-D<.l;日 。", []string{"本ｈ-D<", ".", "l;日", " 。"}},
		{"viking", "،(🙂D٣\x0b！L{/\rM…", []string{"،(", "🙂D", "٣", "\x0b", "！L{/", "\r", "M", "…"}},
		{"viking", "L\"Ω🙂R本\r<&\nL*0\u00a0", []string{"L\"Ω🙂R本", "\r", "<&", "\n", "L*", "0", "\u00a0"}},
		{"viking", "0 .！T;e\n\n،", []string{"0", " .", "！T;e", "\n\n،"}},
		{"viking", "T\tV{l、_SDt.", []string{"T", "\t", "V{l", "、", "_SDt", "."}},
		{"viking", "5९(½#%\t\"", []string{"5", "९", "(", "½", "#%", "\t", "\""}},
		{"deepseek-llm", "Mé 、가\u0301\u1fbel.\u00ad-", []string{"M", "é", " ", "、", "가", "\u0301", "\u1fbe", "l", ".", "\u00ad", "-"}},
		{"deepseek-llm", "+R`।—\u1fbe\u1fbe(|=", []string{"+", "R", "`", "।—", "\u1fbe\u1fbe", "(|="}},
		{"deepseek-llm", "—🙂\u1f7d0V;日%.日d日", []string{"—", "🙂", "\u1f7d", "0", "V", ";", "日", "%.", "日", "d", "日"}},
		{"deepseek-llm", "KΩ%\u1f7d,۔Ve)۔\n९", []string{"K", "Ω", "%", "\u1f7d", ",", "۔", "Ve", ")", "۔", "\n", "९"}},
		{"deepseek-llm", "\u1f7d।;,&Re\u212a！", []string{"\u1f7d", "।", ";,&", "Re", "\u212a", "！"}},
		{"deepseek-llm", "ーR(=VR~—", []string{"ー", "R", "(=", "VR", "~", "—"}},
		{"deepseek-llm", "\u1f7d\tbὰ!tsℂ-", []string{"\u1f7d", "\tb", "ὰ", "!", "ts", "ℂ", "-"}},
		{"deepseek-llm", "K%`t<।é\\e\u2126M~", []string{"K", "%`", "t", "<", "।", "é", "\\", "e", "\u2126", "M", "~"}},
		{"exaone-moe", "[.½本\u0301۔\u0301\u1f7d)\u1f7dω%", []string{"[.", "½", "本\u0301", "۔\u0301", "\u1f7d", ")\u1f7dω", "%"}},
		{"exaone-moe", "\u1fbe\u00ad！۔|\\     \n^              \u00a0", []string{"\u1fbe", "\u00ad！۔|\\", "     \n", "^", "              \u00a0"}},
		{"exaone-moe", "#R\u00a0*         ", []string{"#R", "\u00a0", "*", "         "}},
		{"exaone-moe", "R,\u3000     +R\u0301=…&", []string{"R", ",", "\u3000    ", " +", "R\u0301", "=…&"}},
		{"exaone-moe", "，beS            )<\u2126۔    @t", []string{"，beS", "           ", " )<", "\u2126", "۔", "   ", " @", "t"}},
		{"jais-2", "-}本.@｝    ωｈ", []string{"-}", "本", ".@｝", "  ", " ", " ωｈ"}},
		{"jais-2", "。\u3000,        ，)\u3000            Z", []string{"。", "\u3000", ",", "    ", "  ", " ", " ，)", "\u3000       ", "    ", " Z"}},
		{"jais-2", "।:%:/       가", []string{"।:%:/", "    ", "  ", " 가"}},
		{"jais-2", "                                 \u0301;Rt\u3000", []string{"                                ", " \u0301;", "Rt", "\u3000"}},
		{"jais-2", "    {    t…M🙂               ", []string{"  ", " ", " {", "  ", " ", " t", "…M", "🙂", "        ", "    ", "  ", " "}},
		{"exaone-moe", "Hello big world, 2024!", []string{"Hello big world", ",", " ", "2", "0", "2", "4", "!"}},
		{"jais-2", strings.Repeat(" ", 40) + "x", []string{strings.Repeat(" ", 32), "    ", "  ", " ", " x"}},
		{"kimi-k2", "}                           本｝", []string{"}", "                          ", " ", "本", "｝"}},
		{"kimi-k2", ".éK،                             Ωé/！日", []string{".éK", "،", "                            ", " Ωé", "/！", "日"}},
		{"kimi-k2", "      \u2028    \u30000Éω\x0be(", []string{"      \u2028    ", "\u3000", "0", "Éω", "\x0be", "("}},
		{"kimi-k2", "_          \\日", []string{"_", "         ", " \\", "日"}},
		{"kimi-k2", "               e!‘>!🙂\\Ω\u2126     ,+", []string{"              ", " e", "!‘>!🙂\\", "Ω\u2126", "    ", " ,+"}},
		{"kimi-k2", "                 ｈ \u2028'             @。", []string{"                ", " ｈ", " ", "\u2028", "'", "            ", " @。"}},
		{"kimi-k2", "Kimi说你好 it's 12345", []string{"Kimi", "说你好", " it's", " ", "123", "45"}},
	}
	for _, c := range cases {
		p, err := preFor(c.pre, &Tokenizer{})
		if err != nil {
			t.Fatal(err)
		}
		if got := p.split(c.text); !slices.Equal(got, c.want) {
			t.Errorf("%s %q:\n got %q\nwant %q", c.pre, c.text, got, c.want)
		}
	}
}

func TestPreForUnsupported(t *testing.T) {
	for _, name := range []string{"chameleon", "afmoe", "youtu"} {
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
