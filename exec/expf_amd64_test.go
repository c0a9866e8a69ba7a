//go:build !purego

package exec

import (
	"math"
	"math/rand/v2"
	"testing"
)

// expInputs are values across exp's range: normal ones, the overflow and
// underflow cut-offs (|n| > 192), subnormal results, infinities and NaN.
func expInputs(r *rand.Rand) []float32 {
	x := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 88.7, 88.8, 89, -87.3, -103, -104, -133, -134, 133, 134,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-30, -1e-30, 3e38, -3e38}
	for len(x)%16 != 0 || len(x) < 1<<16 {
		switch len(x) % 3 {
		case 0:
			x = append(x, float32(r.NormFloat64()))
		case 1:
			x = append(x, float32(r.NormFloat64()*30))
		default:
			x = append(x, float32((r.Float64()-0.5)*400))
		}
	}
	return x
}

// TestExpAsmMatchesLanes checks the AVX-512 exp and SwiGLU kernels against
// the Go lane emulation of ggml's AVX-512 code (vexpf512) bit for bit.
func TestExpAsmMatchesLanes(t *testing.T) {
	if vecLanes != 16 {
		t.Skip("no AVX-512")
	}
	r := rand.New(rand.NewPCG(41, 42))
	x := expInputs(r)
	const mx = 0.75
	got := append([]float32(nil), x...)
	if n := expSubAsm(got, mx); n != len(x) {
		t.Fatalf("expSubAsm did %d of %d", n, len(x))
	}
	for i, v := range x {
		if want := vexpf512(v - mx); math.Float32bits(got[i]) != math.Float32bits(want) && !(isNaN32(got[i]) && isNaN32(want)) {
			t.Errorf("exp(%g - %g): asm %g (%#x), lanes %g (%#x)", v, mx, got[i], math.Float32bits(got[i]), want, math.Float32bits(want))
		}
	}
	u := make([]float32, len(x))
	for i := range u {
		u[i] = float32(r.NormFloat64())
	}
	g := append([]float32(nil), x...)
	lo, hi := 16, len(x)-5 // a partial last vector stays for the Go loop
	if end := swigluAsm(g, u, lo, hi); end != lo+(hi-lo)&^15 {
		t.Fatalf("swigluAsm stopped at %d", end)
	}
	for i := range x {
		want := x[i]
		if i >= lo && i < lo+(hi-lo)&^15 {
			want = x[i] / (1 + vexpf512(0-x[i])) * u[i]
		}
		if math.Float32bits(g[i]) != math.Float32bits(want) && !(isNaN32(g[i]) && isNaN32(want)) {
			t.Errorf("swiglu(%g, %g): asm %g, lanes %g", x[i], u[i], g[i], want)
		}
	}
}

func isNaN32(v float32) bool { return v != v }
