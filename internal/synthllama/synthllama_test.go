package synthllama

import (
	"bytes"
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
)

func TestWrite(t *testing.T) {
	vocab, err := gguf.Open(testutil.Path("models", "synth-llama-gqa-Q8_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer vocab.Close()
	var b bytes.Buffer
	s := Shape{Embd: 64, Layers: 2, FF: 128, Heads: 4, KVHeads: 2}
	word, err := Write(&b, s, vocab)
	if err != nil || len(word) < 5 || word[0] != ' ' {
		t.Fatalf("word %q, err %v", word, err)
	}
	f, err := gguf.Parse(bytes.NewReader(b.Bytes()), int64(b.Len()))
	if err != nil {
		t.Fatal(err)
	}
	h := f.HParams()
	if h.BlockCount != 2 || h.EmbeddingLength != 64 || h.VocabSize != 512 || len(f.Tensors) != 3+2*9 || !f.DataPresent() {
		t.Errorf("hparams %+v, %d tensors, data present %v", h, len(f.Tensors), f.DataPresent())
	}
	// 2 bytes per weight plus the f32 norms, every tensor aligned.
	want := 2*(2*64*512+2*(2*64*64+2*64*32+3*64*128)) + 4*64*(1+2*2)
	if f.TensorBytes() != int64(want) {
		t.Errorf("tensor bytes %d, want %d", f.TensorBytes(), want)
	}
	if _, err := Write(&b, Shape{Embd: 64, Layers: 1, FF: 1, Heads: 3, KVHeads: 1}, vocab); err == nil {
		t.Error("heads that do not divide n_embd: no error")
	}
}
