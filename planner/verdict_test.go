package planner

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/ggufwrite"
	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/probe"
)

// TestVerdict: the verdict follows the prediction; paging is a running
// verdict with the disk's share of every token.
func TestVerdict(t *testing.T) {
	f, err := gguf.Open(testutil.Path("zoo", "deepseek-v3-Q2_K.header.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h100 := probe.GPU{Name: "H100", TotalBytes: 80 << 30, BandwidthBytes: 3350e9}
	tests := []struct {
		ram     uint64
		req     Request
		verdict Verdict
	}{
		{200 << 30, Request{}, VerdictFits},
		{64 << 30, Request{}, VerdictPaging},
		{64 << 30, Request{Settings: Settings{MMap: false}, Pinned: Pins{MMap: true}}, VerdictNoFit},
	}
	for _, tt := range tests {
		snap := probe.Describe(probe.Description{RAMBytes: tt.ram, Cores: 32, GPUs: []probe.GPU{h100}})
		p, err := Make(context.Background(), f, snap, tt.req)
		var nf *NoFitError
		if (tt.verdict == VerdictNoFit) != errors.As(err, &nf) {
			t.Fatalf("%d GiB: err %v", tt.ram>>30, err)
		}
		pr := p.Predicted
		if p.Verdict != tt.verdict || p.Fits != (tt.verdict != VerdictNoFit) ||
			(tt.verdict == VerdictPaging) != (pr.DiskBytesPerToken > 0 && pr.DiskShare > 0 && pr.DecodeBound == "disk reads (paging)") {
			t.Errorf("%d GiB: verdict %s fits %v, disk %v B/token (%v)", tt.ram>>30, p.Verdict, p.Fits, pr.DiskBytesPerToken, pr.DiskShare)
		}
		if tt.verdict == VerdictNoFit && !strings.Contains(p.NoFit.Nearest, "runs paging from disk") {
			t.Errorf("the nearest plan does not say it pages: %s", p.NoFit.Nearest)
		}
	}
}

// TestMakeRefusesBadShapes: a shape the hyperparameters contradict is an
// error, not a plan of 144 TiB.
func TestMakeRefusesBadShapes(t *testing.T) {
	data, err := os.ReadFile(testutil.Path("models", "synth-llama-gqa-Q8_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	bad, err := ggufwrite.PatchDim(data, "blk.3.ffn_up.weight", 1, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(bytes.NewReader(bad), int64(len(bad)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Make(context.Background(), f, probe.Describe(probe.Description{RAMBytes: 8 << 30}), Request{})
	if p != nil || !errors.Is(err, gguf.ErrShape) {
		t.Errorf("plan %v, err %v", p != nil, err)
	}
}

// TestInvalidRequest: settings no runtime takes wrap ErrInvalidRequest.
func TestInvalidRequest(t *testing.T) {
	f, err := gguf.Open(testutil.Path("models", "synth-llama-gqa-Q8_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	snap := probe.Describe(probe.Description{RAMBytes: 8 << 30})
	for _, req := range []Request{
		{Settings: Settings{NCtx: -5}},
		{Settings: Settings{NCtx: MaxContext + 1}},
		{Settings: Settings{NParallel: -1}},
		{Pinned: Pins{NBatch: true}},
		{Settings: Settings{Overrides: []Override{{Pattern: "blk.(0", Device: "CPU"}}}},
		{Settings: Settings{TensorSplit: []float64{1, -1}}},
	} {
		if _, err := Make(context.Background(), f, snap, req); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%+v: %v", req, err)
		}
	}
}
