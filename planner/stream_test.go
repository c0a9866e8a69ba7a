package planner

import (
	"context"
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/probe"
)

// TestStreamingPrediction plans an 8B Q4_K_M model on a machine with 2 GiB
// of memory: paged on demand every token reads the whole model from disk;
// with the engine's streaming policy only the part that does not fit.
// Measured with bench/cmd/pagingbench (2 GiB cgroup v1, the file's page
// cache dropped first, this project's 8B Q4_K_M layout with a 32k
// vocabulary, 4.37 GB; bench/results/paging-8b-q4km-2gib.txt): llama.cpp
// --no-repack 0.23 tok/s, the engine paging on demand 0.18, the engine
// streaming 1.53 (3.0 GB read per token by direct reads at 4.5 GB/s, the
// virtual disk answering from the host's cache; the issue measured 0.30 for
// llama.cpp with the disk at about 1.3 GB/s). The prediction here assumes
// 1.5 GB/s for both.
func TestStreamingPrediction(t *testing.T) {
	f, err := gguf.Open(testutil.Shared(t, "zoo", "llama-3.1-8b-Q4_K_M.header.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	snap := probe.Describe(probe.Description{RAMBytes: 2 << 30, Cores: 2,
		Features: []string{"avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "f16c", "fma"}})
	predict := func(stream bool) Prediction {
		req := Request{Settings: Settings{NCtx: 256, Threads: 2, MMap: true, NoRepack: true, StreamWeights: stream},
			Pinned: Pins{NCtx: true, Threads: true, MMap: true, NoRepack: true}, DiskBandwidth: 1.5e9,
			HostMarginBytes: 256 << 20} // the engine keeps 256 MiB for itself
		p, err := Make(context.Background(), f, snap, req)
		if err != nil {
			t.Fatal(err)
		}
		if p.Settings.StreamWeights != stream {
			t.Errorf("StreamWeights %v became %v", stream, p.Settings.StreamWeights)
		}
		return p.Predicted
	}
	demand, stream := predict(false), predict(true)
	t.Logf("demand paging %.3f tok/s (%s), streaming %.3f tok/s (%s)", demand.DecodeTokensPerSecond, demand.DecodeBound,
		stream.DecodeTokensPerSecond, stream.DecodeBound)
	if demand.DecodeBound != "disk reads (paging)" || stream.DecodeBound != "disk reads (streaming)" {
		t.Errorf("bounds %q, %q", demand.DecodeBound, stream.DecodeBound)
	}
	// The disk's share the verdict reports: paged on demand, every host
	// weight a token reads; streamed, only what does not stay in RAM.
	if demand.DiskShare != 1 || demand.DiskBytesPerToken < 4e9 {
		t.Errorf("demand paging reads %.0f B/token from disk (share %v), want every host weight (share 1)", demand.DiskBytesPerToken, demand.DiskShare)
	}
	if stream.DiskShare <= 0 || stream.DiskShare >= 1 || stream.DiskBytesPerToken >= demand.DiskBytesPerToken {
		t.Errorf("streaming reads %.0f B/token from disk (share %v), want part of the %.0f B paging reads", stream.DiskBytesPerToken, stream.DiskShare, demand.DiskBytesPerToken)
	}
	// The whole 4.9 GB at 1.5 GB/s: about 0.3 tok/s.
	if d := demand.DecodeTokensPerSecond; d < 0.25 || d > 0.4 {
		t.Errorf("demand paging %.3f tok/s, want 0.25–0.4 (the whole model from disk each token)", d)
	}
	if s := stream.DecodeTokensPerSecond; s < 1.4*demand.DecodeTokensPerSecond || s > 0.8 {
		t.Errorf("streaming %.3f tok/s, want ≥1.4× demand paging and below 0.8 (most of the model still streams)", s)
	}
}
