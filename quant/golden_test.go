package quant

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
)

// golden is one file of testdata/dequant: ggml's own results on one row,
// produced through the real ggml (see testdata/README.md).
type golden struct {
	Type   string    `json:"type"`    // ggml type name
	TypeID uint32    `json:"type_id"` // ggml type id
	N      int       `json:"n"`       // elements
	Raw    []byte    `json:"raw"`     // weight blocks
	Values []float64 `json:"values"`  // ggml to_float(raw)
	X      []float64 `json:"x"`       // activation row
	ActRaw []byte    `json:"act_raw"` // ggml from_float(x) in the vec_dot_type
	Dot    float64   `json:"dot"`     // ggml vec_dot(raw, act_raw)
}

// TestGolden checks dequantization block by block, the activation
// quantizer byte for byte and the dot product against ggml itself.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob(testutil.Path("dequant", "*.json"))
	if len(files) == 0 {
		t.Skip("no testdata/dequant/*.json")
	}
	seen := map[gguf.Type]bool{}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var g golden
			if err := json.Unmarshal(b, &g); err != nil {
				t.Fatal(err)
			}
			ty := gguf.Type(g.TypeID)
			if ty.String() != g.Type {
				t.Fatalf("type %q has id %d, gguf says %v", g.Type, g.TypeID, ty)
			}
			if !Supported(ty) {
				t.Skipf("%v not supported", ty)
			}
			seen[ty] = true
			bs := int(ty.BlockSize())
			if len(g.Values) != g.N || len(g.X) != g.N || rowBytes(ty, g.N) != len(g.Raw) {
				t.Fatalf("inconsistent file: n=%d values=%d x=%d raw=%d", g.N, len(g.Values), len(g.X), len(g.Raw))
			}

			// Dequantization, exact, block by block.
			got := make([]float32, g.N)
			if err := DequantizeRow(ty, g.Raw, got); err != nil {
				t.Fatal(err)
			}
			bad := 0
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(float32(g.Values[i])) {
					if bad < 5 {
						t.Errorf("block %d element %d: %g, ggml %g", i/bs, i%bs, got[i], g.Values[i])
					}
					bad++
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d values differ", bad, g.N)
			}

			// Activation quantization, exact bytes.
			a, _ := ActType(ty)
			x := make([]float32, g.N)
			for i, v := range g.X {
				x[i] = float32(v)
			}
			act := make([]byte, rowBytes(a, g.N))
			if err := QuantizeAct(ty, x, act); err != nil {
				t.Fatal(err)
			}
			if len(g.ActRaw) != len(act) {
				t.Fatalf("act_raw is %d bytes, want %d", len(g.ActRaw), len(act))
			}
			ab := int(a.BlockBytes())
			for blk := 0; blk < len(act)/ab; blk++ {
				mine, theirs := act[blk*ab:(blk+1)*ab], g.ActRaw[blk*ab:(blk+1)*ab]
				if a == gguf.TypeQ8_K && math.Float32frombits(u32(theirs)) == 0 {
					// ggml leaves bsums unwritten for an all-zero block.
					mine, theirs = mine[:260], theirs[:260]
				}
				if !bytes.Equal(mine, theirs) {
					t.Errorf("%v block %d differs from ggml:\n mine %x\n ggml %x", a, blk, mine, theirs)
					break
				}
			}

			// Dot on ggml's own activation bytes.
			// The files come from ggml built with -march=native on an AVX-512
			// machine. Its quantized dots are its AVX2 code, which the AVX2
			// kernels reproduce bit for bit; its f32 and f16 dots use 16-lane
			// registers, which the AVX-512 kernels reproduce. bf16 went through
			// VDPBF16PS, which has no kernel here.
			quantized := ty.BlockSize() > 1
			wantExact := (quantized && hasAVX2) || ((ty == gguf.TypeF32 || ty == gguf.TypeF16) && hasAVX512)
			for _, k := range []struct {
				name string
				d    float32
			}{{"fast", Dot(ty, g.Raw, g.ActRaw, g.N)}, {"ref", DotRef(ty, g.Raw, g.ActRaw, g.N)}} {
				name, d := k.name, k.d
				want := float32(g.Dot)
				diff := math.Abs(float64(d - want))
				switch mag := magnitude(ty, g.Raw, g.ActRaw, g.N); {
				case name == "fast" && wantExact && d != want:
					t.Errorf("fast dot %g, ggml %g: the kernel should reproduce ggml exactly", d, want)
				case d == want:
					t.Logf("%s dot %g: exact", name, d)
				case diff <= 1e-6*math.Abs(float64(want)):
					t.Logf("%s dot %g, ggml %g: within 1e-6 relative", name, d, want)
				case diff <= fastTol*mag:
					// Cancellation: a different summation order (the reference
					// sums blocks in order, ggml in lanes) moves a small result
					// by a few ulps of the terms, not of the result.
					t.Logf("%s dot %g, ggml %g: within %g of sum|products| %g", name, d, want, fastTol, mag)
				default:
					t.Errorf("%s dot %g, ggml %g (diff %g, sum|products| %g)", name, d, want, diff, mag)
				}
			}
		})
	}
	for _, ty := range SupportedTypes() {
		if !seen[ty] {
			t.Logf("no golden file for %v", ty)
		}
	}
}
