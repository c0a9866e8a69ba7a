package tokenizer

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
)

// vocabs are llama.cpp's tokenizer-only test GGUFs in testdata/vocab.
var vocabs = []string{"llama-spm", "phi-3", "gpt-2", "deepseek-coder"}

func openFile(t testing.TB, path string) *gguf.File {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func openTokenizer(t testing.TB, path string) *Tokenizer {
	t.Helper()
	tok, err := FromGGUF(openFile(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestVocabCases runs every .inp/.out case of llama.cpp's test-tokenizer-0
// (add_special=false, parse_special=false).
func TestVocabCases(t *testing.T) {
	for _, name := range append(vocabs, "bert-bge") {
		t.Run(name, func(t *testing.T) {
			base := testutil.Path("vocab", "ggml-vocab-"+name+".gguf")
			if name == "bert-bge" {
				base = testutil.Shared(t, "testdata", "vocab", "ggml-vocab-bert-bge.gguf")
			}
			tok := openTokenizer(t, base)
			inp, err := os.ReadFile(base + ".inp")
			if err != nil {
				t.Fatal(err)
			}
			outp, err := os.ReadFile(base + ".out")
			if err != nil {
				t.Fatal(err)
			}
			texts := strings.Split(string(inp), "\n__ggml_vocab_test__\n")
			lines := strings.Split(string(outp), "\n")
			if len(texts) != len(lines) || len(texts) != 47 {
				t.Fatalf("%d inputs, %d outputs; want 47 each", len(texts), len(lines))
			}
			for i, text := range texts {
				want := parseIDs(t, lines[i])
				got := tok.Encode(text, false, false)
				if !slices.Equal(got, want) {
					t.Errorf("case %d %q:\n got %v\nwant %v", i, text, got, want)
				}
			}
		})
	}
}

func parseIDs(t *testing.T, line string) []int32 {
	t.Helper()
	ids := []int32{}
	for _, f := range strings.Fields(line) {
		v, err := strconv.ParseInt(f, 10, 32)
		if err != nil {
			t.Fatalf("bad id %q: %v", f, err)
		}
		ids = append(ids, int32(v))
	}
	return ids
}

type refFile struct {
	Vocab struct {
		AddBOS bool   `json:"add_bos"`
		AddEOS bool   `json:"add_eos"`
		BOS    int32  `json:"bos"`
		EOS    int32  `json:"eos"`
		NVocab int    `json:"n_vocab"`
		Type   string `json:"type"`
	} `json:"vocab"`
	Items []struct {
		Text        string   `json:"text"`
		IDsSpecial  []int32  `json:"ids_add_special"`
		IDsPlain    []int32  `json:"ids_no_special"`
		Pieces      []string `json:"pieces_add_special"`
		Detokenized string   `json:"detokenized"`
	} `json:"items"`
}

// TestReferences compares with llama.cpp's tokenization of strings.json:
// ids with and without special tokens, pieces and detokenization.
func TestReferences(t *testing.T) {
	cases := []struct {
		ref  string
		path func(t *testing.T) string
	}{
		{"ggml-vocab-llama-spm", func(*testing.T) string { return testutil.Path("vocab", "ggml-vocab-llama-spm.gguf") }},
		{"ggml-vocab-phi-3", func(*testing.T) string { return testutil.Path("vocab", "ggml-vocab-phi-3.gguf") }},
		{"ggml-vocab-gpt-2", func(*testing.T) string { return testutil.Path("vocab", "ggml-vocab-gpt-2.gguf") }},
		{"ggml-vocab-deepseek-coder", func(*testing.T) string { return testutil.Path("vocab", "ggml-vocab-deepseek-coder.gguf") }},
		{"ggml-vocab-bert-bge", func(t *testing.T) string {
			return testutil.Shared(t, "testdata", "vocab", "ggml-vocab-bert-bge.gguf")
		}},
		{"tok512-karpathy", func(*testing.T) string { return testutil.Path("models", "synth-llama-gqa-Q4_0.gguf") }},
		{"tok512-aidreams", func(t *testing.T) string { return testutil.Shared(t, "testdata", "models", "aidreams260K-F16.gguf") }},
	}
	for _, c := range cases {
		t.Run(c.ref, func(t *testing.T) {
			var ref refFile
			raw, err := os.ReadFile(testutil.Path("refs", "tokenizer", c.ref+".tokens.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &ref); err != nil {
				t.Fatal(err)
			}
			tok := openTokenizer(t, c.path(t))
			if tok.Len() != ref.Vocab.NVocab || tok.BOS() != ref.Vocab.BOS || tok.EOS() != ref.Vocab.EOS || tok.AddBOS() != ref.Vocab.AddBOS {
				t.Errorf("vocab: n %d bos %d eos %d add_bos %v; want %+v", tok.Len(), tok.BOS(), tok.EOS(), tok.AddBOS(), ref.Vocab)
			}
			if len(ref.Items) == 0 {
				t.Fatal("no items in reference")
			}
			for _, it := range ref.Items {
				if got := tok.Encode(it.Text, true, false); !slices.Equal(got, it.IDsSpecial) {
					t.Errorf("%q add_special:\n got %v\nwant %v", it.Text, got, it.IDsSpecial)
				}
				if got := tok.Encode(it.Text, false, false); !slices.Equal(got, it.IDsPlain) {
					t.Errorf("%q no special:\n got %v\nwant %v", it.Text, got, it.IDsPlain)
				}
				var pieces []string
				for _, id := range it.IDsSpecial {
					pieces = append(pieces, jsonString(tok.Piece(id, true)))
				}
				if !slices.Equal(pieces, it.Pieces) {
					t.Errorf("%q pieces:\n got %q\nwant %q", it.Text, pieces, it.Pieces)
				}
				if got := jsonString(tok.Decode(it.IDsSpecial, true, false)); got != it.Detokenized {
					t.Errorf("%q detokenized: got %q want %q", it.Text, got, it.Detokenized)
				}
			}
		})
	}
}

// jsonString coerces s to valid UTF-8 the way the reference harness's JSON
// encoder did: every byte that does not start a valid sequence becomes U+FFFD.
func jsonString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r)
		i += n
	}
	return b.String()
}

func TestFromGGUFNil(t *testing.T) {
	if _, err := FromGGUF(nil); err == nil {
		t.Error("nil file: no error")
	}
}

// TestConcurrent uses one Tokenizer from several goroutines (run with -race).
func TestConcurrent(t *testing.T) {
	tok := vocab(t, "gpt-2")
	texts := []string{"Hello world", "日本語のテキスト", "def foo(x):\n    return x", "   spaces   "}
	want := make([][]int32, len(texts))
	for i, s := range texts {
		want[i] = tok.Encode(s, true, true)
	}
	done := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			for k := 0; k < 50; k++ {
				i := (g + k) % len(texts)
				if got := tok.Encode(texts[i], true, true); !slices.Equal(got, want[i]) {
					done <- errors.New("concurrent Encode differs for " + strconv.Quote(texts[i]))
					return
				}
				_ = tok.Decode(want[i], true, false)
			}
			done <- nil
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestZooHeaders loads the vocabularies of released models' headers (real
// sizes and special-token keys, synthetic token strings) and round-trips
// text through them. Their SentencePiece vocabularies lack "▁", so the
// escaped spaces go through byte tokens and come back as "▁".
func TestZooHeaders(t *testing.T) {
	cases := []struct {
		file   string
		n      int
		addBOS bool
		spm    bool
	}{
		{"llama-3.1-8b-Q4_K_M", 128256, true, false},
		{"qwen2.5-0.5b-Q8_0", 151936, false, false},
		{"gemma-2-9b-Q4_K_M", 256000, true, true},
		{"mixtral-8x7b-Q4_K_M", 32000, true, true},
		{"deepseek-v3-Q2_K", 129280, false, false},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			path := testutil.Path("zoo", c.file+".header.gguf") // mixtral's is in the repository
			if _, err := os.Stat(path); err != nil {
				path = testutil.Shared(t, "zoo", c.file+".header.gguf")
			}
			tok := openTokenizer(t, path)
			if tok.Len() != c.n || tok.AddBOS() != c.addBOS || !tok.IsEOG(tok.EOS()) {
				t.Errorf("len %d add_bos %v eos %d EOG %v", tok.Len(), tok.AddBOS(), tok.EOS(), tok.EOG())
			}
			const text = "Hello, world!\n\tx = 42"
			want := text
			if c.spm {
				want = strings.ReplaceAll(" "+text, " ", "▁")
			}
			ids := tok.Encode(text, true, false)
			if got := tok.Decode(ids, true, false); got != want {
				t.Errorf("round trip: %q (ids %v)", got, ids)
			}
		})
	}
}
