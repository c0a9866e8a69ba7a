package planner

import (
	"bytes"
	"errors"
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/ggufwrite"
	"github.com/modelfit/modelfit/internal/testutil"
)

// meta is one metadata entry of a synthetic, tensor-less GGUF: a string,
// a uint32 or a []uint32.
type meta struct {
	key string
	val any
}

// synthModel writes a GGUF v3 with only metadata and parses it: enough for
// the cache and state sizes, which depend on hyperparameters alone.
func synthModel(t *testing.T, kvs ...meta) *gguf.File {
	t.Helper()
	enc := make([]ggufwrite.KV, len(kvs))
	for i, e := range kvs {
		enc[i] = ggufwrite.KV{Key: e.key, Value: e.val}
	}
	raw, err := ggufwrite.Encode(enc, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestCacheCells(t *testing.T) {
	tests := []struct {
		name                   string
		nCtx, nSeq, ub, window int
		want                   cells
	}{
		{"padded to 256", 4000, 1, 512, 0, cells{nCtx: 4096, seq: 4096}},
		{"exact", 8192, 1, 512, 0, cells{nCtx: 8192, seq: 8192}},
		{"per-sequence streams", 8192, 4, 512, 0, cells{nCtx: 8192, seq: 2048}},
		// pad(10000) = 10240; 10240/3 = 3413 → 3584 per sequence.
		{"per-sequence padding", 10000, 3, 512, 0, cells{nCtx: 10752, seq: 3584}},
		// Gemma-2 at 32k: window 4096 + ubatch 512 (llama.cpp: 4608 cells).
		{"window plus ubatch", 32768, 1, 512, 4096, cells{nCtx: 32768, seq: 32768, swa: 4608, swaSeq: 4608}},
		{"window larger than context", 2048, 1, 512, 4096, cells{nCtx: 2048, seq: 2048, swa: 2048, swaSeq: 2048}},
		{"window per stream", 65536, 2, 256, 4096, cells{nCtx: 65536, seq: 32768, swa: 2 * 4352, swaSeq: 4352}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := gguf.HParams{SlidingWindow: uint64(tt.window)}
			if got := cacheCells(h, tt.nCtx, tt.nSeq, tt.ub); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestKVPerLayer(t *testing.T) {
	llama := []meta{{"general.architecture", "llama"}, {"llama.block_count", uint32(4)},
		{"llama.embedding_length", uint32(1024)}, {"llama.attention.head_count", uint32(16)},
		{"llama.attention.head_count_kv", []uint32{8, 4, 2, 1}}}
	f := synthModel(t, llama...)
	s := DefaultSettings()
	s.NCtx = 1000 // → 1024 cells
	b, err := Estimate(f, s, Env{})
	if err != nil {
		t.Fatal(err)
	}
	var total uint64
	for il, l := range b.Layers {
		// head_count_kv(il) × 64 (head dim) × 2 bytes (f16) per cell.
		want := uint64(1024 * []int{8, 4, 2, 1}[il] * 64 * 2)
		if l.KVCells != 1024 || l.KBytes != want || l.VBytes != want {
			t.Errorf("layer %d: %d cells, K %d V %d, want %d each", il, l.KVCells, l.KBytes, l.VBytes, want)
		}
		total += l.KBytes + l.VBytes
	}
	if b.Devices[0].KVBytes != total {
		t.Errorf("CPU KV %d, layers %d", b.Devices[0].KVBytes, total)
	}

	// K and V types apart: q8_0 K (34 bytes per 32), f16 V.
	s.CacheTypeK = "q8_0"
	b, _ = Estimate(f, s, Env{})
	if l := b.Layers[0]; l.KBytes != 1024*8*64/32*34 || l.VBytes != 1024*8*64*2 {
		t.Errorf("q8_0 K: K %d V %d", l.KBytes, l.VBytes)
	}

	// With no-KV-offload the cache of GPU layers stays on the host.
	s = DefaultSettings()
	s.NGPULayers, s.NoKVOffload = 99, true
	env := Env{GPUs: []string{"CUDA0"}, GPUFree: []uint64{8 << 30}}
	b, _ = Estimate(f, s, env)
	if b.Devices[1].KVBytes != 0 || b.Devices[0].KVBytes == 0 || b.Layers[3].Device != 1 || b.Layers[3].KVDevice != 0 {
		t.Errorf("no-kv-offload: CPU KV %d, GPU KV %d, layer 3 on %d with KV on %d", b.Devices[0].KVBytes, b.Devices[1].KVBytes, b.Layers[3].Device, b.Layers[3].KVDevice)
	}
	s.NoKVOffload = false
	b, _ = Estimate(f, s, env)
	if b.Devices[0].KVBytes != 0 || b.Devices[1].KVBytes == 0 {
		t.Errorf("offloaded KV: CPU %d, GPU %d", b.Devices[0].KVBytes, b.Devices[1].KVBytes)
	}

	// A q4_0 cache on rows of 24 floats cannot be built: llama.cpp refuses.
	odd := synthModel(t, meta{"general.architecture", "llama"}, meta{"llama.block_count", uint32(1)},
		meta{"llama.embedding_length", uint32(96)}, meta{"llama.attention.head_count", uint32(4)})
	s = DefaultSettings()
	s.CacheTypeK = "q4_0"
	if _, err := Estimate(odd, s, Env{}); !errors.Is(err, ErrBadCacheType) {
		t.Errorf("q4_0 K on 24-float rows: %v", err)
	}
}

func TestSlidingWindowLayers(t *testing.T) {
	f, ok := openRef("gemma-2-9b-Q4_K_M.header.gguf")
	if !ok {
		t.Skip("gemma-2 zoo header not available (shared data)")
	}
	s := DefaultSettings()
	s.NCtx, s.NParallel = 32768, 2
	b, err := Estimate(f, s, Env{})
	if err != nil {
		t.Fatal(err)
	}
	// Two streams of 16384; the window's share per stream is 4096 + 512.
	for il, l := range b.Layers {
		want := 32768
		if il%2 == 0 { // gemma2: even layers use the window
			want = 2 * 4608
		}
		if l.KVCells != want {
			t.Fatalf("layer %d: %d cells, want %d", il, l.KVCells, want)
		}
	}
}

func TestRecurrentState(t *testing.T) {
	mamba := synthModel(t, meta{"general.architecture", "mamba2"}, meta{"mamba2.block_count", uint32(3)},
		meta{"mamba2.embedding_length", uint32(768)}, meta{"mamba2.ssm.conv_kernel", uint32(4)},
		meta{"mamba2.ssm.inner_size", uint32(1536)}, meta{"mamba2.ssm.state_size", uint32(128)},
		meta{"mamba2.ssm.group_count", uint32(1)})
	s := DefaultSettings()
	s.NParallel = 2
	b, err := Estimate(mamba, s, Env{})
	if err != nil {
		t.Fatal(err)
	}
	// Per sequence and layer: conv 3 × (1536 + 2·128) + SSM 128 × 1536 floats.
	perLayer := uint64(2 * 4 * (3*(1536+2*128) + 128*1536))
	cpu := b.Devices[0]
	if cpu.KVBytes != 0 || cpu.StateBytes != 3*perLayer || b.Layers[0].StateBytes != perLayer {
		t.Errorf("mamba2: KV %d, state %d (layer 0 %d), want state %d", cpu.KVBytes, cpu.StateBytes, b.Layers[0].StateBytes, 3*perLayer)
	}
	if cpu.TotalBytes < cpu.StateBytes {
		t.Error("state not in the total")
	}

	// A hybrid: layers without KV heads are recurrent, the others cache.
	jamba := synthModel(t, meta{"general.architecture", "jamba"}, meta{"jamba.block_count", uint32(2)},
		meta{"jamba.embedding_length", uint32(512)}, meta{"jamba.attention.head_count", uint32(8)},
		meta{"jamba.attention.head_count_kv", []uint32{0, 2}}, meta{"jamba.ssm.conv_kernel", uint32(4)},
		meta{"jamba.ssm.inner_size", uint32(1024)}, meta{"jamba.ssm.state_size", uint32(16)})
	b, err = Estimate(jamba, DefaultSettings(), Env{})
	if err != nil {
		t.Fatal(err)
	}
	if l := b.Layers[0]; l.StateBytes != 4*(3*1024+16*1024) || l.KBytes != 0 {
		t.Errorf("jamba layer 0: state %d K %d", l.StateBytes, l.KBytes)
	}
	if l := b.Layers[1]; l.StateBytes != 0 || l.KBytes != 4096*2*64*2 {
		t.Errorf("jamba layer 1: state %d K %d", l.StateBytes, l.KBytes)
	}

	// RWKV: token shifts (2 × n_embd) and the WKV state (n_embd × head size).
	rwkv := synthModel(t, meta{"general.architecture", "rwkv6"}, meta{"rwkv6.block_count", uint32(2)},
		meta{"rwkv6.embedding_length", uint32(2048)}, meta{"rwkv6.wkv.head_size", uint32(64)})
	b, err = Estimate(rwkv, DefaultSettings(), Env{})
	if err != nil {
		t.Fatal(err)
	}
	if cpu := b.Devices[0]; cpu.KVBytes != 0 || cpu.StateBytes != 2*4*(2*2048+2048*64) {
		t.Errorf("rwkv6: KV %d state %d", cpu.KVBytes, cpu.StateBytes)
	}
	noHead := synthModel(t, meta{"general.architecture", "rwkv7"}, meta{"rwkv7.block_count", uint32(2)})
	if _, err := Estimate(noHead, DefaultSettings(), Env{}); !errors.Is(err, ErrUnmodeled) {
		t.Errorf("rwkv7 without a head size: %v", err)
	}
}

// The MLA cache of DeepSeek-V3: one latent (kv_lora_rank 512) plus the rope
// part (64) per token and layer for K; current llama.cpp keeps no V (the
// latent is in K, PR 19067), older builds kept the latent again as V.
func TestMLACache(t *testing.T) {
	f, err := gguf.Open(testutil.Path("zoo", "deepseek-v3-Q2_K.header.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range []Runtime{RuntimeLlamaCpp, RuntimeLlamaCppB6529, RuntimeOllama} {
		b, err := Estimate(f, DefaultSettings(), Env{Runtime: rt})
		if err != nil {
			t.Fatal(err)
		}
		v := uint64(4096 * 512 * 2)
		if rt == RuntimeLlamaCpp {
			v = 0
		}
		for il, l := range b.Layers {
			if l.KBytes != 4096*576*2 || l.VBytes != v {
				t.Fatalf("%s: layer %d: K %d V %d", rt, il, l.KBytes, l.VBytes)
			}
		}
	}
	s := DefaultSettings()
	s.CacheTypeK = "q8_0"
	if _, err := Estimate(f, s, Env{}); !errors.Is(err, ErrBadCacheType) {
		t.Errorf("MLA with K q8_0 and V f16: %v", err)
	}
}
