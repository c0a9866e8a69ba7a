package gguf_test

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/ggufwrite"
	"github.com/modelfit/modelfit/internal/testutil"
)

func TestCheckShapes(t *testing.T) {
	data, err := os.ReadFile(testutil.Path("models", "synth-llama-gqa-Q8_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	// synth-llama-gqa: n_embd 256, 8 heads of 32, 4 KV heads, n_ff 512, 4 layers, 512 tokens.
	tests := []struct {
		tensor string
		dim    int
		v      uint64
		want   string // in the error; "" = no error
	}{
		{"blk.0.attn_q.weight", 0, 256, ""},
		{"blk.0.attn_q.weight", 1, 128, `"blk.0.attn_q.weight" has shape [256 128], want [256 256]`},
		{"blk.0.attn_q.weight", 0, 0, "want no dimension of 0"},
		{"blk.1.attn_k.weight", 1, 64, "want [256 128]"},
		{"blk.2.attn_output.weight", 0, 128, "want [256 256]"},
		{"blk.3.ffn_down.weight", 0, 256, "want [512 256]"},
		{"blk.3.ffn_up.weight", 1, 1 << 40, "has shape [256 1099511627776], want [256 512]"}, // the last tensor: its data may grow
		{"blk.0.attn_norm.weight", 0, 255, "want [256]"},
		{"token_embd.weight", 1, 511, "want [256 512]"},
		{"output.weight", 0, 128, "want [256 512]"},
		{"output_norm.weight", 0, 1, "want [256]"},
	}
	for _, tt := range tests {
		bad, err := ggufwrite.PatchDim(data, tt.tensor, tt.dim, tt.v)
		if err != nil {
			t.Fatal(err)
		}
		f, err := gguf.Parse(bytes.NewReader(bad), int64(len(bad)))
		if err != nil {
			t.Fatalf("%s[%d]=%d: parse: %v", tt.tensor, tt.dim, tt.v, err)
		}
		err = f.CheckShapes()
		var se *gguf.ShapeError
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s[%d]=%d: %v", tt.tensor, tt.dim, tt.v, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, gguf.ErrShape) || !errors.As(err, &se) || se.Tensor != tt.tensor):
			t.Errorf("%s[%d]=%d: error %v, want one containing %q", tt.tensor, tt.dim, tt.v, err, tt.want)
		}
	}
}

// TestCheckShapesZoo: every real layout the tests have passes.
func TestCheckShapesZoo(t *testing.T) {
	for _, p := range []string{testutil.Path("zoo", "deepseek-v3-Q2_K.header.gguf"), testutil.Path("zoo", "mixtral-8x7b-Q4_K_M.header.gguf"),
		testutil.Path("models", "synth-llama-gqa-Q4_K_M.gguf")} {
		f, err := gguf.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.CheckShapes(); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		f.Close()
	}
	for _, name := range []string{"gemma-2-9b-Q4_K_M", "llama-3.1-8b-Q4_K_M", "qwen2.5-0.5b-Q8_0"} {
		p, ok := testutil.SharedPath("zoo", name+".header.gguf")
		if !ok {
			continue
		}
		f, err := gguf.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.CheckShapes(); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		f.Close()
	}
}
