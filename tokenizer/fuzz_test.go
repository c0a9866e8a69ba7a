package tokenizer

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/modelfit/modelfit/internal/testutil"
)

// FuzzEncode checks that Encode never panics or returns an id outside the
// vocabulary, and that Decode(Encode(s)) gives s back for valid UTF-8 where
// llama.cpp's does too: vocabularies without space cleaning, and text
// without SentencePiece's own "▁", which decodes as a space.
func FuzzEncode(f *testing.F) {
	raw, err := os.ReadFile(testutil.Path("refs", "tokenizer", "strings.json"))
	if err != nil {
		f.Fatal(err)
	}
	var seeds []string
	if err := json.Unmarshal(raw, &seeds); err != nil {
		f.Fatal(err)
	}
	inp, err := os.ReadFile(testutil.Path("vocab", "ggml-vocab-gpt-2.gguf.inp"))
	if err != nil {
		f.Fatal(err)
	}
	seeds = append(seeds, strings.Split(string(inp), "\n__ggml_vocab_test__\n")...)
	seeds = append(seeds, "<s>x</s>", "<|endoftext|>", "\xff\xfe", "\xed\xa0\x80", "▁a", "õ[PAD32100]")
	for _, s := range seeds {
		f.Add(s)
	}
	type subject struct {
		tok       *Tokenizer
		roundTrip bool
	}
	var subjects []subject
	for _, v := range []struct {
		name      string
		roundTrip bool
	}{{"llama-spm", true}, {"phi-3", false}, {"gpt-2", false}, {"deepseek-coder", true}} {
		subjects = append(subjects, subject{vocab(f, v.name), v.roundTrip})
	}
	subjects = append(subjects, subject{openTokenizer(f, testutil.Path("models", "synth-llama-gqa-Q4_0.gguf")), true})
	if p, ok := testutil.SharedPath("testdata", "vocab", "ggml-vocab-bert-bge.gguf"); ok {
		subjects = append(subjects, subject{openTokenizer(f, p), false})
	}

	f.Fuzz(func(t *testing.T, s string) {
		for _, sub := range subjects {
			for _, special := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
				ids := sub.tok.Encode(s, special[0], special[1])
				for _, id := range ids {
					if !sub.tok.valid(id) {
						t.Fatalf("Encode(%q) gave id %d outside the vocabulary", s, id)
					}
				}
				_ = sub.tok.Decode(ids, special[0], special[1])
			}
			if sub.roundTrip && utf8.ValidString(s) && !strings.Contains(s, "▁") {
				ids := sub.tok.Encode(s, false, false)
				if got := sub.tok.Decode(ids, false, false); got != s {
					t.Errorf("round trip %q: got %q (ids %v)", s, got, ids)
				}
			}
		}
	})
}
