// Command gendequant writes testdata/dequant/<type>.json: golden
// dequantization, activation quantization and dot-product data produced by
// the real ggml (the llama.cpp vendored in github.com/ollama/ollama), for
// the quant package's tests.
//
// For a type stored in one of the synth-llama-gqa-* models it takes the
// first elements of the first tensor of that type, straight from the file;
// for the others it quantizes a deterministic pseudo-random f32 row with
// ggml_quantize_chunk.
//
//	go run ./cmd/gendequant -out ../testdata/dequant -models ../testdata/models,/work/shared/testdata/models
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/modelfit/modelfit/bench/llamacpp"
	"github.com/modelfit/modelfit/gguf"
)

// Golden is the schema of one testdata/dequant/<type>.json file.
type Golden struct {
	Type    string    `json:"type"`     // ggml type name
	TypeID  int       `json:"type_id"`  // ggml type id
	N       int       `json:"n"`        // elements
	Source  string    `json:"source"`   // where raw came from
	Raw     []byte    `json:"raw"`      // n elements of type (base64)
	Values  []float32 `json:"values"`   // ggml to_float(raw)
	X       []float32 `json:"x"`        // activation row
	ActType string    `json:"act_type"` // CPU vec_dot_type of type
	ActRaw  []byte    `json:"act_raw"`  // CPU from_float(x) into act_type (base64)
	Dot     float32   `json:"dot"`      // CPU vec_dot(raw, act_raw)
}

// targets are the types written, by ggml type id.
var targets = []gguf.Type{
	gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ4_1,
	gguf.TypeQ5_0, gguf.TypeQ5_1, gguf.TypeIQ4_NL, gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ4_K,
	gguf.TypeQ5_K, gguf.TypeQ6_K,
}

func main() {
	out := flag.String("out", "../testdata/dequant", "output directory")
	models := flag.String("models", "../testdata/models", "comma-separated directories searched for synth-llama-gqa-*.gguf")
	flag.Parse()
	if err := run(context.Background(), *out, strings.Split(*models, ",")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out string, dirs []string) error {
	var files []string
	for _, d := range dirs {
		m, err := filepath.Glob(filepath.Join(d, "synth-llama-gqa-*.gguf"))
		if err != nil {
			return fmt.Errorf("gendequant: %w", err)
		}
		sort.Strings(m)
		files = append(files, m...)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("gendequant: %w", err)
	}
	for _, t := range targets {
		if err := ctx.Err(); err != nil {
			return err
		}
		g, err := golden(t, files)
		if err != nil {
			return fmt.Errorf("gendequant: %s: %w", t, err)
		}
		b, err := json.Marshal(g)
		if err != nil {
			return fmt.Errorf("gendequant: %s: %w", t, err)
		}
		name := filepath.Join(out, g.Type+".json")
		if err := os.WriteFile(name, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("gendequant: %w", err)
		}
		fmt.Printf("%-7s n=%-4d act=%-5s dot=%-12g %s\n", g.Type, g.N, g.ActType, g.Dot, g.Source)
	}
	return nil
}

// elements picks 4 blocks of 32-element types, 2 of 256-element ones and
// 64 values of the float types.
func elements(t gguf.Type) int {
	switch bs := int(t.BlockSize()); {
	case bs == 1:
		return 64
	case bs >= 256:
		return 2 * bs
	default:
		return 4 * bs
	}
}

func golden(t gguf.Type, files []string) (*Golden, error) {
	tr, err := llamacpp.TypeTraits(int(t))
	if err != nil {
		return nil, err
	}
	// Cross-check the two type tables before trusting either.
	if tr.Name != t.String() || uint64(tr.BlockSize) != t.BlockSize() || uint64(tr.TypeSize) != t.BlockBytes() {
		return nil, fmt.Errorf("ggml says %s/%d/%d, gguf says %s/%d/%d", tr.Name, tr.BlockSize, tr.TypeSize, t, t.BlockSize(), t.BlockBytes())
	}
	n := elements(t)
	raw, source, err := fromModels(t, n, files)
	if err != nil {
		return nil, err
	}
	if raw == nil {
		seed := uint64(1000 + tr.ID)
		rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
		w := make([]float32, n)
		for i := range w {
			w[i] = float32(rng.NormFloat64() * 0.05)
		}
		if raw, err = llamacpp.Quantize(tr.ID, w, n); err != nil {
			return nil, err
		}
		source = fmt.Sprintf("ggml_quantize_chunk of %d values 0.05*N(0,1), math/rand/v2 PCG(%d, 0x9e3779b97f4a7c15)", n, seed)
	}
	values, err := llamacpp.ToFloat(tr.ID, raw, n)
	if err != nil {
		return nil, err
	}
	for i, v := range values {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("value %d is %v", i, v)
		}
	}
	// x is N(0,1) rounded to 3 decimals so the JSON stays short.
	rng := rand.New(rand.NewPCG(uint64(2000+tr.ID), 0x2545f4914f6cdd1d))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(math.Round(rng.NormFloat64()*1000) / 1000)
	}
	at, err := llamacpp.TypeTraits(tr.VecDotType)
	if err != nil {
		return nil, err
	}
	act, err := llamacpp.FromFloat(at.ID, x)
	if err != nil {
		return nil, err
	}
	dot, err := llamacpp.VecDot(tr.ID, raw, act, n)
	if err != nil {
		return nil, err
	}
	return &Golden{
		Type: tr.Name, TypeID: tr.ID, N: n, Source: source,
		Raw: raw, Values: values, X: x, ActType: at.Name, ActRaw: act, Dot: dot,
	}, nil
}

// fromModels returns the first n elements of the first tensor of type t in
// files, or nil when no file has one that large.
func fromModels(t gguf.Type, n int, files []string) ([]byte, string, error) {
	size, ok := t.RowBytes(uint64(n))
	if !ok {
		return nil, "", errors.New("row size overflows")
	}
	for _, path := range files {
		raw, name, err := firstBytes(path, t, n, int64(size))
		if err != nil {
			return nil, "", err
		}
		if raw != nil {
			return raw, fmt.Sprintf("%s: first %d elements of %s", filepath.Base(path), n, name), nil
		}
	}
	return nil, "", nil
}

func firstBytes(path string, t gguf.Type, n int, size int64) ([]byte, string, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	for _, ti := range f.Tensors {
		if ti.Type != t || ti.Elements() < uint64(n) || ti.Size < size {
			continue
		}
		r, err := os.Open(f.Parts[ti.Part].Path)
		if err != nil {
			return nil, "", err
		}
		defer r.Close()
		raw := make([]byte, size)
		if _, err := r.ReadAt(raw, ti.Offset); err != nil && !(errors.Is(err, io.EOF) && int64(len(raw)) == size) {
			return nil, "", fmt.Errorf("%s: %s: %w", path, ti.Name, err)
		}
		return raw, ti.Name, nil
	}
	return nil, "", nil
}
