package quant

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
)

func TestF16Conversion(t *testing.T) {
	t.Run("round trip every half", func(t *testing.T) {
		for h := 0; h < 1<<16; h++ {
			f := F16ToF32(uint16(h))
			if f != f {
				continue
			}
			if got := F32ToF16(f); got != uint16(h) {
				t.Fatalf("F32ToF16(F16ToF32(%#04x)=%g) = %#04x", h, f, got)
			}
		}
	})
	t.Run("nearest even", func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < 200000; i++ {
			f := math.Float32frombits(r.Uint32())
			if f != f || math.Abs(float64(f)) > 65504 {
				continue
			}
			h := F32ToF16(f)
			got := float64(F16ToF32(h))
			for _, nb := range []uint16{h - 1, h + 1} {
				if nb&0x7c00 == 0x7c00 || (nb^h)&0x8000 != 0 {
					continue
				}
				other := float64(F16ToF32(nb))
				e, eo := math.Abs(got-float64(f)), math.Abs(other-float64(f))
				if eo < e || (eo == e && h&1 == 1) {
					t.Fatalf("F32ToF16(%g) = %#04x (%g), but %#04x (%g) is nearer or even", f, h, got, nb, other)
				}
			}
		}
	})
	t.Run("specials", func(t *testing.T) {
		for _, c := range []struct {
			f float32
			h uint16
		}{{0, 0}, {1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {65520, 0x7c00}, {float32(math.Inf(-1)), 0xfc00}, {5.960464477539063e-08, 1}, {2.9802322387695312e-08, 0}} {
			if got := F32ToF16(c.f); got != c.h {
				t.Errorf("F32ToF16(%g) = %#04x, want %#04x", c.f, got, c.h)
			}
		}
		if h := F32ToF16(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
			t.Errorf("F32ToF16(NaN) = %#04x, not a NaN", h)
		}
	})
}

func TestBF16Conversion(t *testing.T) {
	for _, c := range []struct {
		f float32
		h uint16
	}{{1, 0x3f80}, {math.Float32frombits(0x3f808000), 0x3f80}, {math.Float32frombits(0x3f818000), 0x3f82}, {math.Float32frombits(0x3f808001), 0x3f81}} {
		if got := F32ToBF16(c.f); got != c.h {
			t.Errorf("F32ToBF16(%#08x) = %#04x, want %#04x", math.Float32bits(c.f), got, c.h)
		}
	}
}

func TestUnsupported(t *testing.T) {
	for _, ty := range []gguf.Type{gguf.TypeQ8_K, gguf.TypeIQ2_XXS, gguf.TypeMXFP4, gguf.Type(99)} {
		t.Run(ty.String(), func(t *testing.T) {
			if Supported(ty) {
				t.Fatal("Supported")
			}
			if _, err := ActType(ty); !errors.Is(err, ErrUnsupported) {
				t.Errorf("ActType error = %v", err)
			}
			if err := DequantizeRow(ty, make([]byte, 1024), make([]float32, 256)); !errors.Is(err, ErrUnsupported) {
				t.Errorf("DequantizeRow error = %v", err)
			}
			if err := QuantizeAct(ty, make([]float32, 256), make([]byte, 1024)); !errors.Is(err, ErrUnsupported) {
				t.Errorf("QuantizeAct error = %v", err)
			}
			if d := Dot(ty, make([]byte, 1024), make([]byte, 1024), 256); d == d {
				t.Errorf("Dot = %g, want NaN", d)
			}
		})
	}
}

func TestBadShapes(t *testing.T) {
	if err := QuantizeAct(gguf.TypeQ4_K, make([]float32, 100), make([]byte, 1000)); err == nil {
		t.Error("QuantizeAct accepted 100 values for q8_K")
	}
	if err := QuantizeAct(gguf.TypeQ4_0, make([]float32, 64), make([]byte, 67)); err == nil {
		t.Error("QuantizeAct accepted a short buffer")
	}
	if err := DequantizeRow(gguf.TypeQ6_K, make([]byte, 209), make([]float32, 256)); err == nil {
		t.Error("DequantizeRow accepted a short row")
	}
	if d := Dot(gguf.TypeQ8_0, make([]byte, 33), make([]byte, 34), 32); d == d {
		t.Errorf("Dot on a short row = %g, want NaN", d)
	}
	dst := make([]float32, 3)
	MatVec(gguf.TypeQ8_0, dst, make([]byte, 34*2), make([]byte, 34), 32)
	if dst[0] == dst[0] {
		t.Error("MatVec on too few rows did not give NaN")
	}
}

// testModel is a model file whose rows the tests run through the kernels.
type testModel struct {
	name   string
	shared bool // in the shared data directory (skipped when absent)
}

func (m testModel) path(t *testing.T) string {
	if m.shared {
		return testutil.Shared(t, "testdata", "models", m.name+".gguf")
	}
	return testutil.Path("models", m.name+".gguf")
}

// testModels covers every supported type but iq4_nl with real rows: the
// repository's models, plus the shared ones for f16, bf16, f32, q4_1, q5_0
// and q5_1.
var testModels = []testModel{
	{"synth-llama-gqa-Q2_K", false}, {"synth-llama-gqa-Q3_K_M", false}, {"synth-llama-gqa-Q4_0", false},
	{"synth-llama-gqa-Q4_K_M", false}, {"synth-llama-gqa-Q5_K_M", false}, {"synth-llama-gqa-Q6_K", false},
	{"synth-llama-gqa-Q8_0", false},
	{"synth-llama-gqa-F16", true}, {"synth-llama-gqa-Q4_1", true}, {"synth-llama-gqa-Q5_0", true},
	{"synth-llama-gqa-Q5_1", true}, {"aidreams260K-BF16", true}, {"aidreams260K-F32", true},
}

// dequantAct converts an activation row back to float32 (for the checks).
func dequantAct(a gguf.Type, b []byte, n int) []float32 {
	out := make([]float32, n)
	switch a {
	case gguf.TypeQ8_0:
		dequantQ8_0(b, out)
	case gguf.TypeQ8_1:
		for i := 0; i < n/32; i++ {
			d := f16(b[36*i:])
			for j := 0; j < 32; j++ {
				out[32*i+j] = d * float32(int8(b[36*i+4+j]))
			}
		}
	case gguf.TypeQ8_K:
		for i := 0; i < n/256; i++ {
			d, qs, _ := q8K(b, i)
			for j := 0; j < 256; j++ {
				out[256*i+j] = d * float32(int8(qs[j]))
			}
		}
	default:
		dequant[a](b, out)
	}
	return out
}

// randRow returns random bytes for nb blocks of type t with finite, modest
// scales so that dot products are meaningful.
func randRow(r *rand.Rand, t gguf.Type, n int) []byte {
	rb := rowBytes(t, n)
	b := make([]byte, rb)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	half := func(off int) { putU16(b[off:], F32ToF16(float32(r.NormFloat64()*0.01))) }
	bs := int(t.BlockBytes())
	for blk := 0; blk < rb/bs; blk++ {
		o := blk * bs
		switch t {
		case gguf.TypeF32:
			putU32(b[o:], math.Float32bits(float32(r.NormFloat64())))
		case gguf.TypeF16:
			half(o)
		case gguf.TypeBF16:
			putU16(b[o:], F32ToBF16(float32(r.NormFloat64())))
		case gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ5_0, gguf.TypeIQ4_NL:
			half(o)
		case gguf.TypeQ4_1, gguf.TypeQ5_1, gguf.TypeQ4_K, gguf.TypeQ5_K:
			half(o)
			half(o + 2)
		case gguf.TypeQ2_K:
			half(o + 80)
			half(o + 82)
		case gguf.TypeQ3_K:
			half(o + 108)
		case gguf.TypeQ6_K:
			half(o + 208)
		}
	}
	return b
}

func randVec(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// checkDotAgainstDequant checks that Dot equals the float dot product of the
// dequantized weight row with the dequantized activations.
func checkDotAgainstDequant(t *testing.T, ty gguf.Type, row []byte, x []float32) {
	t.Helper()
	n := len(x)
	a, _ := ActType(ty)
	act := make([]byte, rowBytes(a, n))
	if err := QuantizeAct(ty, x, act); err != nil {
		t.Fatal(err)
	}
	w := make([]float32, n)
	if err := DequantizeRow(ty, row, w); err != nil {
		t.Fatal(err)
	}
	xa := dequantAct(a, act, n)
	var want, mag float64
	for i := range w {
		p := float64(w[i]) * float64(xa[i])
		want += p
		mag += math.Abs(p)
	}
	if a == gguf.TypeQ8_1 {
		// The dot uses the block sum s stored in f16: allow its rounding.
		for i := 0; i < n/32; i++ {
			mag += float64(absMax(w[32*i:32*i+32])) * math.Abs(float64(f16(act[36*i+2:]))) / 1024 / 1e-5
		}
	}
	for name, got := range map[string]float32{"ref": DotRef(ty, row, act, n), "dot": Dot(ty, row, act, n)} {
		if math.Abs(float64(got)-want) > 1e-5*mag+1e-30 {
			t.Errorf("%v %s n=%d: Dot = %g, dequantized dot = %g (sum|p| %g)", ty, name, n, got, want, mag)
		}
	}
}

func TestDotMatchesDequant(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, ty := range SupportedTypes() {
		t.Run(ty.String(), func(t *testing.T) {
			bs := int(ty.BlockSize())
			for _, nb := range []int{1, 2, 3, 8, 11} {
				n := nb * bs
				if bs == 1 {
					n = nb * 37
				}
				checkDotAgainstDequant(t, ty, randRow(r, ty, n), randVec(r, n))
			}
		})
	}
}

func TestActRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, ty := range []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ4_0, gguf.TypeQ4_1, gguf.TypeQ4_K} {
		a, _ := ActType(ty)
		t.Run(a.String(), func(t *testing.T) {
			x := randVec(r, 512)
			x[7] = 0
			copy(x[256:288], make([]float32, 32)) // an all-zero block
			act := make([]byte, rowBytes(a, len(x)))
			if err := QuantizeAct(ty, x, act); err != nil {
				t.Fatal(err)
			}
			y := dequantAct(a, act, len(x))
			bs := int(a.BlockSize())
			for i := 0; i < len(x); i += bs {
				amax := float64(absMax(x[i : i+bs]))
				tol := amax / 127 * 0.5 * 1.01 // half a quantization step
				switch a {
				case gguf.TypeF32:
					tol = 0
				case gguf.TypeF16:
					tol = math.Abs(float64(x[i])) / 2048
				case gguf.TypeBF16:
					tol = math.Abs(float64(x[i])) / 256
				}
				for j := i; j < i+bs; j++ {
					if d := math.Abs(float64(y[j] - x[j])); d > tol+amax*1e-3*float64(bs/32) && d > tol {
						t.Fatalf("element %d: %g -> %g (tolerance %g)", j, x[j], y[j], tol)
					}
				}
			}
			if a == gguf.TypeQ8_1 {
				// s must be d times the sum of the quants.
				for i := 0; i < len(x)/32; i++ {
					var s int32
					for j := 0; j < 32; j++ {
						s += int32(int8(act[36*i+4+j]))
					}
					// ggml multiplies the unrounded f32 scale, so allow the
					// f16 rounding of d on top of that of s.
					want := f16(act[36*i:]) * float32(s)
					if got := f16(act[36*i+2:]); math.Abs(float64(got-want)) > math.Abs(float64(want))/512 {
						t.Fatalf("block %d: s = %g, want %g", i, got, want)
					}
				}
			}
			if a == gguf.TypeQ8_K {
				for i := 0; i < len(x)/256; i++ {
					_, qs, bs := q8K(act, i)
					for j := 0; j < 16; j++ {
						var s int32
						for _, q := range qs[16*j : 16*j+16] {
							s += int32(int8(q))
						}
						if bsum(bs, j) != s {
							t.Fatalf("block %d bsums[%d] = %d, want %d", i, j, bsum(bs, j), s)
						}
					}
				}
			}
		})
	}
}

// TestRealRows dequantizes the first rows of every tensor of the test models
// and checks that the values are sane and Dot agrees with them.
func TestRealRows(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	seen := map[gguf.Type]bool{}
	for _, m := range testModels {
		t.Run(m.name, func(t *testing.T) {
			eachTensor(t, m.path(t), 4, func(tn gguf.Tensor, buf []byte, rb int) {
				if !Supported(tn.Type) {
					t.Errorf("%s: unsupported type %v", tn.Name, tn.Type)
					return
				}
				seen[tn.Type] = true
				n := int(tn.Shape[0])
				rows := len(buf) / rb
				vals := make([]float32, n)
				var sum, sq float64
				for k := 0; k < rows; k++ {
					row := buf[k*rb : (k+1)*rb]
					if err := DequantizeRow(tn.Type, row, vals); err != nil {
						t.Fatal(err)
					}
					for _, v := range vals {
						if v != v || math.IsInf(float64(v), 0) || math.Abs(float64(v)) > 1e3 {
							t.Fatalf("%s: value %g", tn.Name, v)
						}
						sum += float64(v)
						sq += float64(v) * float64(v)
					}
					checkDotAgainstDequant(t, tn.Type, row, randVec(r, n))
				}
				cnt := float64(rows * n)
				if std := math.Sqrt(sq/cnt - (sum/cnt)*(sum/cnt)); std == 0 && tn.Shape[1] > 1 {
					t.Errorf("%s (%v): constant rows", tn.Name, tn.Type)
				}
				// MatVec over the rows equals Dot row by row.
				a, _ := ActType(tn.Type)
				act := make([]byte, rowBytes(a, n))
				if err := QuantizeAct(tn.Type, randVec(r, n), act); err != nil {
					t.Fatal(err)
				}
				mv := make([]float32, rows)
				MatVec(tn.Type, mv, buf, act, n)
				for k := range mv {
					if d := Dot(tn.Type, buf[k*rb:(k+1)*rb], act, n); d != mv[k] {
						t.Fatalf("%s row %d: MatVec %g != Dot %g", tn.Name, k, mv[k], d)
					}
				}
				// MatMul over five tokens (a four-token group and one more)
				// equals Dot too.
				const nTok = 5
				ab := len(act)
				acts := make([]byte, nTok*ab)
				for k := 0; k < nTok; k++ {
					if err := QuantizeAct(tn.Type, randVec(r, n), acts[k*ab:(k+1)*ab]); err != nil {
						t.Fatal(err)
					}
				}
				mm := make([]float32, rows*nTok)
				MatMul(tn.Type, mm, buf, acts, n, nTok)
				for k := 0; k < nTok; k++ {
					for j := 0; j < rows; j++ {
						if d := Dot(tn.Type, buf[j*rb:(j+1)*rb], acts[k*ab:(k+1)*ab], n); d != mm[k*rows+j] {
							t.Fatalf("%s token %d row %d: MatMul %g != Dot %g", tn.Name, k, j, mm[k*rows+j], d)
						}
					}
				}
			})
		})
	}
	t.Logf("types seen in test models: %v", seen)
}

// eachTensor calls fn with the first rows (at most maxRows) of every tensor
// of the model file at path, read straight from the file, and the row size.
func eachTensor(t *testing.T, path string, maxRows int, fn func(tn gguf.Tensor, rows []byte, rowSize int)) {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	for _, tn := range f.Tensors {
		rb := rowBytes(tn.Type, int(tn.Shape[0]))
		buf := make([]byte, rb*min(maxRows, int(tn.Size)/rb))
		if _, err := fh.ReadAt(buf, tn.Offset); err != nil {
			t.Fatal(err)
		}
		fn(tn, buf, rb)
	}
}

func TestMatMul(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, ty := range SupportedTypes() {
		t.Run(ty.String(), func(t *testing.T) {
			n := 2 * int(max(ty.BlockSize(), 32))
			a, _ := ActType(ty)
			for _, c := range []struct{ nTok, rows int }{{1, 5}, {3, 5}, {4, 5}, {5, 5}, {9, 5}, {17, 21}} {
				nTok, rows := c.nTok, c.rows
				rb, ab := rowBytes(ty, n), rowBytes(a, n)
				w := randRow(r, ty, n*rows)
				acts := make([]byte, ab*nTok)
				for k := 0; k < nTok; k++ {
					if err := QuantizeAct(ty, randVec(r, n), acts[k*ab:(k+1)*ab]); err != nil {
						t.Fatal(err)
					}
				}
				dst := make([]float32, rows*nTok)
				MatMul(ty, dst, w, acts, n, nTok)
				for k := 0; k < nTok; k++ {
					for j := 0; j < rows; j++ {
						want := Dot(ty, w[j*rb:(j+1)*rb], acts[k*ab:(k+1)*ab], n)
						if tileFn[ty] != nil && k < nTok&^(gemmTokens-1) {
							// Matrix-matrix kernels compute in the scalar
							// reference's order (TestGemmMatchesRef).
							want = dotRef[ty](w[j*rb:(j+1)*rb], acts[k*ab:(k+1)*ab], n/int(ty.BlockSize()))
						}
						if dst[k*rows+j] != want {
							t.Fatalf("%d tokens: token %d row %d: %g, want %g", nTok, k, j, dst[k*rows+j], want)
						}
					}
				}
			}
		})
	}
}

func TestRoundEven(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	cases := []float32{0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, -127.49999, 127, -127}
	for i := 0; i < 100000; i++ {
		cases = append(cases, float32(r.NormFloat64()*60))
	}
	for _, v := range cases {
		if got, want := roundEven(v), int32(math.RoundToEven(float64(v))); got != want {
			t.Fatalf("roundEven(%g) = %d, want %d", v, got, want)
		}
	}
}
