package llamacpp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/modelfit/modelfit/bench/llamacpp"
	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
)

// TestTypeTraits checks ggml's type table against modelfit's gguf one.
func TestTypeTraits(t *testing.T) {
	for _, typ := range gguf.Types() {
		t.Run(typ.String(), func(t *testing.T) {
			tr, err := llamacpp.TypeTraits(int(typ))
			if err != nil {
				t.Skip(err) // removed from ggml (q4_2, q4_3, the q4_0_4_4 family)
			}
			if tr.Name != typ.String() || uint64(tr.BlockSize) != typ.BlockSize() || uint64(tr.TypeSize) != typ.BlockBytes() {
				t.Errorf("ggml %s/%d/%d, gguf %s/%d/%d", tr.Name, tr.BlockSize, tr.TypeSize, typ, typ.BlockSize(), typ.BlockBytes())
			}
		})
	}
	if _, err := llamacpp.TypeTraits(-1); err == nil {
		t.Error("type -1 accepted")
	}
}

// TestGolden checks that testdata/dequant still reproduces with this
// build: dequantization, activation quantization and the dot product.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(testutil.Path("dequant", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var g struct {
				Type    string    `json:"type"`
				TypeID  int       `json:"type_id"`
				N       int       `json:"n"`
				Raw     []byte    `json:"raw"`
				Values  []float32 `json:"values"`
				X       []float32 `json:"x"`
				ActType string    `json:"act_type"`
				ActRaw  []byte    `json:"act_raw"`
				Dot     float32   `json:"dot"`
			}
			if err := json.Unmarshal(b, &g); err != nil {
				t.Fatal(err)
			}
			tr, err := llamacpp.TypeTraits(g.TypeID)
			if err != nil {
				t.Fatal(err)
			}
			at, err := llamacpp.TypeTraits(tr.VecDotType)
			if err != nil {
				t.Fatal(err)
			}
			if tr.Name != g.Type || at.Name != g.ActType {
				t.Fatalf("type %s act %s, ggml says %s act %s", g.Type, g.ActType, tr.Name, at.Name)
			}
			values, err := llamacpp.ToFloat(g.TypeID, g.Raw, g.N)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(values, g.Values) {
				t.Error("to_float differs")
			}
			act, err := llamacpp.FromFloat(at.ID, g.X)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(act, g.ActRaw) {
				t.Error("from_float differs")
			}
			dot, err := llamacpp.VecDot(g.TypeID, g.Raw, act, g.N)
			if err != nil {
				t.Fatal(err)
			}
			if dot != g.Dot {
				t.Errorf("vec_dot %v, golden %v", dot, g.Dot)
			}
			if _, err := llamacpp.VecDot(g.TypeID, g.Raw[:len(g.Raw)-1], act, g.N); err == nil {
				t.Error("short row accepted")
			}
		})
	}
}

// TestGreedyMatchesReference runs the reference prompt of
// testdata/refs/synth-llama-gqa-Q4_0.ref.json and checks the tokens and
// the greedy continuation recorded there.
func TestGreedyMatchesReference(t *testing.T) {
	b, err := os.ReadFile(testutil.Path("refs", "synth-llama-gqa-Q4_0.ref.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Evals struct {
			Once struct {
				PromptText   string  `json:"prompt_text"`
				PromptTokens []int32 `json:"prompt_tokens"`
				Greedy       struct {
					Tokens []int32 `json:"tokens"`
				} `json:"greedy"`
			} `json:"once_upon_a_time"`
		} `json:"evals"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	want := ref.Evals.Once
	m, err := llamacpp.Load(testutil.Path("models", "synth-llama-gqa-Q4_0.gguf"), llamacpp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	toks, err := m.Tokenize(want.PromptText)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(toks, want.PromptTokens) {
		t.Fatalf("tokens %v, want %v", toks, want.PromptTokens)
	}
	tm, err := m.Run(context.Background(), toks, len(want.Greedy.Tokens))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tm.Output, want.Greedy.Tokens) {
		t.Errorf("greedy %v, want %v", tm.Output, want.Greedy.Tokens)
	}
	if tm.PrefillTPS() <= 0 || tm.DecodeTPS() <= 0 {
		t.Errorf("speeds %v %v", tm.PrefillTPS(), tm.DecodeTPS())
	}
	if _, err := m.Run(context.Background(), toks, 1000); err == nil {
		t.Error("run past the context accepted")
	}
}

func ExampleToFloat() {
	// One q8_0 block: an f16 scale of 0.5, then 32 int8 quants.
	raw := []byte{0x00, 0x38}
	for i := range 32 {
		raw = append(raw, byte(int8(i-16)))
	}
	v, err := llamacpp.ToFloat(int(gguf.TypeQ8_0), raw, 32)
	if err != nil {
		panic(err)
	}
	fmt.Println(v[0], v[16], v[31])
	// Output: -8 0 7.5
}
