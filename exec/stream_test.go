package exec

import (
	"context"
	"math"
	"testing"

	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/planner"
)

// TestStreamingMatchesResident runs a model with some of its layers streamed
// (a memory budget that holds only part of the weights) and checks that
// every logit equals the plain mapped run's, bit for bit, over a prompt in
// two ubatches, decoded tokens and a reset.
func TestStreamingMatchesResident(t *testing.T) {
	path := testutil.Path("models", "synth-llama-gqa-Q4_K_M.gguf")
	s := planner.Settings{NCtx: 128, NUbatch: 16, CacheTypeK: "f16", CacheTypeV: "f16", MMap: true, Threads: 2}
	plain := openModel(t, path, s)
	if _, ok := plain.Streaming(); ok {
		t.Fatal("streaming without StreamWeights")
	}

	old := memoryBudget
	defer func() { memoryBudget = old }()
	var layerBytes, largest int64
	for il := range plain.layers {
		r, b, _ := layerRange(&plain.layers[il])
		layerBytes, largest = max(layerBytes, b), max(largest, r.N)
	}
	// Room for the output matrix, the ring and one and a half layers
	// besides the reserve: one layer stays resident, the others stream.
	memoryBudget = func(context.Context) (int64, error) {
		return plain.streamReserve() + int64(len(plain.output.data)) + streamSlots*(largest+3*4096) + layerBytes*3/2, nil
	}
	s.StreamWeights = true
	streamed := openModel(t, path, s)
	st, ok := streamed.Streaming()
	if !ok || st.StreamedLayers == 0 || st.ResidentLayers == 0 {
		t.Fatalf("want some layers streamed and some resident: %+v (ok %v)", st, ok)
	}
	t.Logf("%d resident, %d streamed layers; %d bytes streamed per pass; direct I/O %v", st.ResidentLayers, st.StreamedLayers, st.StreamedBytes, st.Direct)

	ctx := context.Background()
	prompt := benchPrompt(plain, 24)
	for round := range 2 {
		plain.Reset()
		streamed.Reset()
		want, err := plain.Eval(ctx, prompt)
		if err != nil {
			t.Fatal(err)
		}
		got, err := streamed.Eval(ctx, prompt)
		if err != nil {
			t.Fatal(err)
		}
		for step := range 4 {
			tok := []int32{argmax(want[len(want)-1])}
			w, err := plain.Eval(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			g, err := streamed.Eval(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			want, got = append(want, w...), append(got, g...)
			_ = step
		}
		for i := range want {
			for j := range want[i] {
				if math.Float32bits(want[i][j]) != math.Float32bits(got[i][j]) {
					t.Fatalf("round %d position %d logit %d: streamed %v, mapped %v", round, i, j, got[i][j], want[i][j])
				}
			}
		}
	}
	if st, _ := streamed.Streaming(); st.BytesRead < 2*st.StreamedBytes {
		t.Errorf("read %d bytes, want at least two passes of %d", st.BytesRead, st.StreamedBytes)
	}
}
