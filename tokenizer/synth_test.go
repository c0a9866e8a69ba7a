package tokenizer

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/ggufwrite"
)

// kv is one metadata entry of a synthetic GGUF: val is a string, bool,
// uint32, []string, []float32 or []int32.
type kv struct {
	key string
	val any
}

// synthGGUF writes a tensor-less GGUF v3 holding kvs and parses it.
func synthGGUF(t testing.TB, kvs ...kv) *gguf.File {
	t.Helper()
	raw := synthBytes(t, kvs...)
	f, err := gguf.Parse(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// synthBytes encodes kvs as a tensor-less GGUF v3 file.
func synthBytes(t testing.TB, kvs ...kv) []byte {
	t.Helper()
	enc := make([]ggufwrite.KV, len(kvs))
	for i, e := range kvs {
		enc[i] = ggufwrite.KV{Key: e.key, Value: e.val}
	}
	raw, err := ggufwrite.Encode(enc, nil)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func synthTokenizer(t testing.TB, kvs ...kv) *Tokenizer {
	t.Helper()
	tok, err := FromGGUF(synthGGUF(t, kvs...))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// A tiny byte-level BPE vocabulary: "abc" is a token, but no merge builds it.
func bpeVocab(pre string, extra ...kv) []kv {
	toks := []string{"a", "b", "c", "Ġ", "ab", "abc", "<|begin_of_text|>", "<|eot_id|>", "<mask>"}
	types := []int32{1, 1, 1, 1, 1, 1, 3, 3, 4}
	return append([]kv{
		{"tokenizer.ggml.model", "gpt2"},
		{"tokenizer.ggml.pre", pre},
		{"tokenizer.ggml.tokens", toks},
		{"tokenizer.ggml.token_type", types},
		{"tokenizer.ggml.merges", []string{"a b"}},
		{"tokenizer.ggml.bos_token_id", uint32(6)},
		{"tokenizer.ggml.eos_token_id", uint32(7)},
	}, extra...)
}

func TestSyntheticBPE(t *testing.T) {
	cases := []struct {
		name    string
		kvs     []kv
		text    string
		special bool
		want    []int32
		addBOS  bool
	}{
		// GPT-2 merges "a b" only, so "abc" stays two symbols.
		{"gpt-2 merges", bpeVocab("gpt-2"), "abc", false, []int32{4, 2}, false},
		// LLaMA-3 ignores merges for a word that is a token, and adds BOS.
		{"llama3 whole word", bpeVocab("llama3"), "abc", true, []int32{6, 5}, true},
		{"llama3 merges", bpeVocab("llama3"), "abcab", false, []int32{4, 2, 4}, true},
		{"tekken whole word", bpeVocab("tekken"), "abc", true, []int32{6, 5}, true},
		{"gpt-4o merges", bpeVocab("gpt-4o"), "abc", true, []int32{4, 2}, false},
		{"add_bos key wins", bpeVocab("llama3", kv{"tokenizer.ggml.add_bos_token", false}), "abc", true, []int32{5}, false},
		// A byte with no token of its own is dropped, as in llama.cpp.
		{"unknown byte", bpeVocab("gpt-2"), "a d", false, []int32{0, 3}, false},
		// "<mask>" strips spaces to its left for jina-v2 vocabularies.
		{"lstrip", bpeVocab("jina-v2-code"), "a  <mask>", false, []int32{0, 8}, false},
		{"no lstrip", bpeVocab("gpt-2"), "a <mask>", false, []int32{0, 3, 8}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := synthTokenizer(t, c.kvs...)
			if tok.AddBOS() != c.addBOS {
				t.Errorf("AddBOS %v, want %v", tok.AddBOS(), c.addBOS)
			}
			if got := tok.Encode(c.text, c.special, false); !slices.Equal(got, c.want) {
				t.Errorf("Encode(%q): got %v want %v", c.text, got, c.want)
			}
		})
	}
}

// spmVocab is a tiny SentencePiece vocabulary without byte tokens.
func spmVocab(extra ...kv) []kv {
	return append([]kv{
		{"tokenizer.ggml.model", "llama"},
		{"tokenizer.ggml.tokens", []string{"<unk>", "<s>", "</s>", "▁", "a", "▁a", "<|im_end|>", "<unused0>", "<|return|>", "<|call|>", "<|end|>"}},
		{"tokenizer.ggml.scores", []float32{0, 0, 0, -1, -2, -0.5, 0, 0, 0, 0, 0}},
		{"tokenizer.ggml.token_type", []int32{2, 3, 3, 1, 1, 1, 1, 3, 3, 3, 3}},
	}, extra...)
}

func TestSyntheticSPM(t *testing.T) {
	tok := synthTokenizer(t, spmVocab(kv{"tokenizer.ggml.bos_token_id", uint32(999)})...)
	// A bad BOS id keeps llama.cpp's default of 1.
	if tok.BOS() != 1 {
		t.Errorf("BOS %d, want the default 1", tok.BOS())
	}
	// No byte tokens: an unknown character becomes <unk>.
	if got := tok.Encode("ab", false, false); !slices.Equal(got, []int32{5, 0}) {
		t.Errorf("Encode(ab) = %v, want [5 0]", got)
	}
	// "<|im_end|>" is found by its text, becomes a control token and EOG.
	if tok.eot != 6 || !tok.IsEOG(6) {
		t.Errorf("eot %d, IsEOG(6) %v", tok.eot, tok.IsEOG(6))
	}
	if got := tok.Encode("<|im_end|>", false, true); !slices.Equal(got, []int32{6}) {
		t.Errorf("parse special: %v", got)
	}
	if tok.toks[7].attr&attrUnused == 0 {
		t.Error("<unused0> is not marked unused")
	}
	// With "<|return|>" and "<|call|>", "<|end|>" ends a message only.
	if tok.IsEOG(10) || tok.toks[10].attr != attrUserDefined || !tok.IsEOG(8) {
		t.Errorf("<|end|>: EOG %v attr %#x; <|return|> EOG %v", tok.IsEOG(10), tok.toks[10].attr, tok.IsEOG(8))
	}
	if got := tok.Encode("a<|end|>", false, false); !slices.Equal(got, []int32{5, 10}) {
		t.Errorf("user-defined <|end|>: %v", got)
	}

	noPrefix := synthTokenizer(t, spmVocab(kv{"tokenizer.ggml.add_space_prefix", false})...)
	if got := noPrefix.Encode("a", false, false); !slices.Equal(got, []int32{4}) {
		t.Errorf("without space prefix: %v", got)
	}
	if got := noPrefix.Decode([]int32{5}, false, false); got != " a" {
		t.Errorf("without space prefix the leading space stays: %q", got)
	}
}

func TestFromGGUFBadMetadata(t *testing.T) {
	cases := []struct {
		name string
		kvs  []kv
		want error // nil: any error
	}{
		{"no model", []kv{{"tokenizer.ggml.tokens", []string{"a"}}}, nil},
		{"t5", []kv{{"tokenizer.ggml.model", "t5"}}, ErrUnsupported},
		{"unknown model", []kv{{"tokenizer.ggml.model", "sentencepiece2"}}, ErrUnsupported},
		{"no tokens", []kv{{"tokenizer.ggml.model", "llama"}}, nil},
		{"tokens not strings", []kv{{"tokenizer.ggml.model", "llama"}, {"tokenizer.ggml.tokens", []int32{1, 2}}}, nil},
		{"empty vocabulary", []kv{{"tokenizer.ggml.model", "llama"}, {"tokenizer.ggml.tokens", []string{}}}, nil},
		{"duplicate token", []kv{{"tokenizer.ggml.model", "llama"}, {"tokenizer.ggml.tokens", []string{"a", "b", "a"}}}, nil},
		{"scores not floats", append(spmVocab()[:2:2], kv{"tokenizer.ggml.scores", []string{"x"}}), nil},
		{"types not integers", append(spmVocab()[:2:2], kv{"tokenizer.ggml.token_type", []float32{1}}), nil},
		{"no merges", []kv{{"tokenizer.ggml.model", "gpt2"}, {"tokenizer.ggml.tokens", []string{"a"}}}, nil},
		{"unsupported pre", bpeVocab("afmoe"), ErrUnsupported},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := FromGGUF(synthGGUF(t, c.kvs...))
			if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
				t.Errorf("got %v, want an error (%v)", err, c.want)
			}
		})
	}
	// Kimi-K2 may come without merges; then nothing merges, as in llama.cpp.
	// The default BOS/EOS (11) are past this vocabulary and name no token.
	kimi := synthTokenizer(t, kv{"tokenizer.ggml.model", "gpt2"}, kv{"tokenizer.ggml.pre", "kimi-k2"}, kv{"tokenizer.ggml.tokens", []string{"a", "b", "ab"}})
	if kimi.BOS() != -1 || kimi.EOS() != -1 || len(kimi.EOG()) != 0 {
		t.Errorf("kimi-k2: bos %d eos %d eog %v", kimi.BOS(), kimi.EOS(), kimi.EOG())
	}
	if got := kimi.Encode("ab", true, false); !slices.Equal(got, []int32{0, 1}) {
		t.Errorf("kimi-k2 without merges: %v", got)
	}
	// Short score and type arrays are padded, as llama.cpp reads them.
	tok := synthTokenizer(t, kv{"tokenizer.ggml.model", "llama"}, kv{"tokenizer.ggml.tokens", []string{"<unk>", "<s>", "</s>", "▁a"}},
		kv{"tokenizer.ggml.scores", []float32{0}}, kv{"tokenizer.ggml.token_type", []int32{2}})
	if tok.Len() != 4 || tok.toks[3].attr != 0 || tok.Piece(3, true) != "" {
		t.Errorf("short arrays: len %d attr %#x piece %q", tok.Len(), tok.toks[3].attr, tok.Piece(3, true))
	}
}

func TestSyntheticWPM(t *testing.T) {
	tok := synthTokenizer(t,
		kv{"tokenizer.ggml.model", "bert"},
		kv{"tokenizer.ggml.tokens", []string{"[UNK]", "[CLS]", "[SEP]", "▁hello", "▁world", "▁wor", "ld", "▁,", "▁你"}},
		kv{"tokenizer.ggml.token_type", []int32{2, 3, 3, 1, 1, 1, 1, 1, 1}},
		kv{"tokenizer.ggml.unknown_token_id", uint32(0)},
		kv{"tokenizer.ggml.bos_token_id", uint32(1)},
		kv{"tokenizer.ggml.seperator_token_id", uint32(2)},
	)
	// Longest match first ("▁world", not "▁wor" + "ld"); an unknown word
	// is one [UNK]; accents go, case folds, punctuation splits off.
	want := []int32{1, 3, 7, 0, 4, 8, 0, 2}
	ids := tok.Encode("Héllo, xyz WORLD 你好", true, false)
	if !slices.Equal(ids, want) {
		t.Errorf("Encode: got %v want %v", ids, want)
	}
	if got := tok.Decode(ids, true, false); got != " hello, world 你" {
		t.Errorf("Decode: %q", got)
	}
	if got := tok.Encode("", true, false); !slices.Equal(got, []int32{1, 2}) {
		t.Errorf("empty: %v", got)
	}
}

func TestWPMWords(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"Héllo, WORLD!", []string{"hello", ",", "world", "!"}},
		{"你好 a\x00b\u00adc", []string{"你", "好", "abc"}},
		{"x+y~z", []string{"x", "+", "y", "~", "z"}},
		{"Ωμέγα\t\u3000İ", []string{"ωμεγα", "i"}},
		{"가", []string{"\u1100"}},
		{"", nil},
	}
	for _, c := range cases {
		if got := wpmWords(c.in); !slices.Equal(got, c.want) {
			t.Errorf("%q: got %q want %q", c.in, got, c.want)
		}
	}
}
