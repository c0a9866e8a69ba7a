package cluster

import (
	"path/filepath"
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/synthllama"
	"github.com/modelfit/modelfit/internal/testutil"
)

// synth1B is a llama layout of about a billion weights (Llama-3.2-1B's
// widths, 16 layers).
var synth1B = synthllama.Shape{Embd: 2048, Layers: 16, FF: 8192, Heads: 32, KVHeads: 8}

// synthModel returns the synthetic model of shape s quantized to typ, built
// in /tmp/rpc-synth (kept between runs), and the word it repeats.
func synthModel(t *testing.T, bin string, s synthllama.Shape, typ string) (path, word string) {
	t.Helper()
	vocab, err := gguf.Open(testutil.Path("models", "synth-llama-gqa-Q8_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer vocab.Close()
	path, word, err = synthllama.Build(filepath.Join(bin, "llama-quantize"), "/tmp/rpc-synth", s, typ, vocab)
	if err != nil {
		t.Fatal(err)
	}
	return path, word
}
