package tokenizer

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/modelfit/modelfit/gguf"
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

// FuzzFromGGUF builds tokenizers from arbitrary small vocabularies and checks
// that loading, encoding and decoding never panic.
func FuzzFromGGUF(f *testing.F) {
	f.Add(uint8(0), "default", "<unk>\x00<s>\x00</s>\x00▁a\x00a\x00<0x62>", []byte{2, 3, 3, 1, 1, 6}, "", "ab a", uint32(1), true)
	f.Add(uint8(1), "llama3", "a\x00b\x00ab\x00Ġ\x00<|eot_id|>", []byte{1, 1, 1, 1, 3}, "a b\nab a", "ab ab<|eot_id|>", uint32(4), false)
	f.Add(uint8(2), "", "[UNK]\x00[CLS]\x00[SEP]\x00▁x\x00y", []byte{2, 3, 3, 1, 1}, "", "X y, z", uint32(1), true)
	f.Add(uint8(1), "qwen2", "<|im_end|>\x00<|end|>\x00<|return|>\x00<|call|>\x00x", []byte{1, 1, 3, 3, 1}, "x x", "x<|end|>", uint32(99), true)
	models := []string{"llama", "gpt2", "bert"}
	pres := []string{"", "default", "gpt-2", "llama3", "qwen2", "qwen35", "tekken", "gpt-4o", "deepseek-coder", "deepseek-llm",
		"deepseek-v3", "kimi-k2", "seed-coder", "exaone-moe", "jais-2", "bloom", "viking", "falcon", "starcoder", "glm4"}
	f.Fuzz(func(t *testing.T, model uint8, pre, tokens string, types []byte, merges, text string, bos uint32, addBOS bool) {
		toks := strings.Split(tokens, "\x00")
		if len(toks) > 64 {
			toks = toks[:64]
		}
		tt := make([]int32, len(types))
		for i, x := range types {
			tt[i] = int32(x % 8)
		}
		kvs := []kv{
			{"tokenizer.ggml.model", models[int(model)%len(models)]},
			{"tokenizer.ggml.tokens", toks},
			{"tokenizer.ggml.token_type", tt},
			{"tokenizer.ggml.merges", strings.Split(merges, "\n")},
			{"tokenizer.ggml.bos_token_id", bos},
			{"tokenizer.ggml.add_bos_token", addBOS},
			{"general.name", pre},
		}
		if pre != "" {
			kvs = append(kvs, kv{"tokenizer.ggml.pre", pres[len(pre)%len(pres)]})
		}
		raw := synthBytes(t, kvs...)
		file, err := gguf.Parse(bytes.NewReader(raw), int64(len(raw)))
		if err != nil {
			return
		}
		tok, err := FromGGUF(file)
		if err != nil {
			return
		}
		for _, special := range []bool{false, true} {
			ids := tok.Encode(text, special, special)
			for _, id := range ids {
				if !tok.valid(id) {
					t.Fatalf("id %d outside a vocabulary of %d", id, tok.Len())
				}
				_ = tok.Piece(id, special)
			}
			_ = tok.Decode(ids, special, special)
		}
		_ = tok.Decode([]int32{-5, 0, int32(tok.Len()), 1 << 30}, true, true)
	})
}
