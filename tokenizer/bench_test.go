package tokenizer

import (
	"os"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/internal/testutil"
)

// benchText is a few KB of mixed text: llama.cpp's tokenizer test inputs.
func benchText(b *testing.B) string {
	raw, err := os.ReadFile(testutil.Path("vocab", "ggml-vocab-llama-spm.gguf.inp"))
	if err != nil {
		b.Fatal(err)
	}
	s := strings.ReplaceAll(string(raw), "\n__ggml_vocab_test__\n", "\n")
	return strings.Repeat(s, max(1, 4096/len(s)+1))
}

func BenchmarkEncode(b *testing.B) {
	text := benchText(b)
	for _, name := range vocabs {
		b.Run(name, func(b *testing.B) {
			tok := vocab(b, name)
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				tok.Encode(text, true, false)
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	text := benchText(b)
	for _, name := range vocabs {
		b.Run(name, func(b *testing.B) {
			tok := vocab(b, name)
			ids := tok.Encode(text, true, false)
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				tok.Decode(ids, true, false)
			}
		})
	}
}

func BenchmarkFromGGUF(b *testing.B) {
	for _, name := range []string{"llama-spm", "gpt-2"} {
		b.Run(name, func(b *testing.B) {
			f := openFile(b, testutil.Path("vocab", "ggml-vocab-"+name+".gguf"))
			for b.Loop() {
				if _, err := FromGGUF(f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
