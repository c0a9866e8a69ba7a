package tokenizer

import (
	"slices"
	"testing"

	"github.com/modelfit/modelfit/internal/testutil"
)

func vocab(t testing.TB, name string) *Tokenizer {
	return openTokenizer(t, testutil.Path("vocab", "ggml-vocab-"+name+".gguf"))
}

func cat(parts ...[]int32) []int32 {
	var out []int32
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// TestParseSpecial checks that control tokens written in the text become
// those tokens only with parseSpecial, and that text after a special token
// is tokenized as at the start of the input.
func TestParseSpecial(t *testing.T) {
	spm := vocab(t, "llama-spm")
	bpe := vocab(t, "deepseek-coder")
	bos := bpe.Text(bpe.BOS())
	cases := []struct {
		name string
		tok  *Tokenizer
		text string
		want []int32
	}{
		{"spm", spm, "<s>Hello</s>", cat([]int32{1}, spm.Encode("Hello", false, false), []int32{2})},
		{"spm adjacent", spm, "</s><s>", []int32{2, 1}},
		{"spm longest first", spm, "<unk><s>", []int32{0, 1}},
		{"bpe", bpe, bos + "def f():", cat([]int32{bpe.BOS()}, bpe.Encode("def f():", false, false))},
		{"bpe middle", bpe, "a" + bos + "b", cat(bpe.Encode("a", false, false), []int32{bpe.BOS()}, bpe.Encode("b", false, false))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.tok.Encode(c.text, false, true); !slices.Equal(got, c.want) {
				t.Errorf("parse special: got %v want %v", got, c.want)
			}
			plain := c.tok.Encode(c.text, false, false)
			for _, id := range plain {
				if id == c.tok.BOS() || id == c.tok.EOS() {
					t.Errorf("without parse special the text became special token %d: %v", id, plain)
				}
			}
		})
	}
}

// TestUserDefined checks tokens that are matched even without parseSpecial:
// phi-3's "</s>" (user-defined, with llama.cpp's right strip for Phi-3) and
// deepseek-coder's single-character user-defined tokens.
func TestUserDefined(t *testing.T) {
	phi := vocab(t, "phi-3")
	want := cat(phi.Encode("a", false, false), []int32{2}, phi.Encode("b", false, false))
	if got := phi.Encode("a</s>   b", false, false); !slices.Equal(got, want) {
		t.Errorf("phi-3: got %v want %v", got, want)
	}
	ds := vocab(t, "deepseek-coder")
	id, ok := ds.ID("õ")
	if !ok {
		t.Fatal("deepseek-coder has no token õ")
	}
	want = cat(ds.Encode("x", false, false), []int32{id}, ds.Encode("y", false, false))
	if got := ds.Encode("xõy", false, false); !slices.Equal(got, want) {
		t.Errorf("deepseek-coder: got %v want %v", got, want)
	}
	if got := ds.Decode(want, false, false); got != "xõy" {
		t.Errorf("deepseek-coder decode: %q", got)
	}
}

func TestEOG(t *testing.T) {
	cases := []struct {
		vocab string
		eog   []int32
	}{
		{"llama-spm", []int32{2}},
		{"phi-3", []int32{32000, 32007}}, // <|endoftext|> (EOS), <|end|>
		{"gpt-2", []int32{50256}},
		{"deepseek-coder", []int32{32014}},
	}
	for _, c := range cases {
		t.Run(c.vocab, func(t *testing.T) {
			tok := vocab(t, c.vocab)
			if got := tok.EOG(); !slices.Equal(got, c.eog) {
				t.Errorf("EOG %v, want %v", got, c.eog)
			}
			for _, id := range c.eog {
				if !tok.IsEOG(id) {
					t.Errorf("IsEOG(%d) false", id)
				}
			}
			if tok.IsEOG(-1) || tok.IsEOG(5) {
				t.Error("IsEOG true for a normal token or -1")
			}
		})
	}
}

func TestPieceAndDecode(t *testing.T) {
	spm := vocab(t, "llama-spm")
	gpt := vocab(t, "gpt-2")
	cases := []struct {
		name string
		got  string
		want string
	}{
		{"control hidden", spm.Piece(1, false), ""},
		{"control shown", spm.Piece(1, true), "<s>"},
		{"byte token", spm.Piece(13, false), "\n"},
		{"space marker", spm.Piece(15043, false), " Hello"},
		{"out of range", spm.Piece(1<<30, true), ""},
		{"negative", spm.Piece(-3, true), ""},
		{"bpe byte level", gpt.Piece(gpt.Encode(" Hello", false, false)[0], false), " Hello"},
		{"spm keeps space after BOS", spm.Decode(spm.Encode("Hi", true, false), true, false), " Hi"},
		{"spm drops first space", spm.Decode(spm.Encode("Hi", false, false), false, false), "Hi"},
		{"spm shows BOS", spm.Decode(spm.Encode("Hi", true, false), false, true), "<s> Hi"},
		{"gpt-2 cleans spaces", gpt.Decode(gpt.Encode("Hello , world ! I 'm a ' b don 't", false, false), false, false), "Hello, world! I'm a'b don 't"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: got %q want %q", c.name, c.got, c.want)
		}
	}
}

func TestCleanSpaces(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"a", "a"},
		{" ,", ","},
		{"x ? y !", "x? y!"},
		{"a ' b", "a'b"},
		{"a ' ' b", "a'' b"},
		{"it 's we 're they 've I 'm", "it's we're they've I'm"},
		{"don 't I 'd we 'll", "don 't I 'd we 'll"},
		{" '", " '"},
	}
	for _, c := range cases {
		if got := string(cleanSpaces([]byte(c.in))); got != c.want {
			t.Errorf("%q: got %q want %q", c.in, got, c.want)
		}
	}
}
