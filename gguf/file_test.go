package gguf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/internal/testutil"
)

// refGGUF is the "gguf" section of testdata/refs/*.ref.json: what ggml's own
// gguf reader reported for the same file.
type refGGUF struct {
	FileSize    int64          `json:"file_size"`
	Version     uint32         `json:"gguf_version"`
	Alignment   uint64         `json:"alignment"`
	DataOffset  int64          `json:"data_offset"`
	NKV         int            `json:"n_kv"`
	NTensors    int            `json:"n_tensors"`
	TensorBytes int64          `json:"tensor_bytes"`
	TypeCounts  map[string]int `json:"tensor_type_counts"`
	Tensors     []struct {
		Name   string   `json:"name"`
		Type   string   `json:"type"`
		Ne     []uint64 `json:"ne"`
		Offset int64    `json:"offset"`
		Size   int64    `json:"size"`
	} `json:"tensors"`
}

func TestModelsMatchGGML(t *testing.T) {
	refs, _ := filepath.Glob(testutil.Path("refs", "*.ref.json"))
	if len(refs) == 0 {
		t.Fatal("no reference files in testdata/refs")
	}
	for _, refPath := range refs {
		name := strings.TrimSuffix(filepath.Base(refPath), ".ref.json")
		t.Run(name, func(t *testing.T) {
			var ref struct {
				GGUF refGGUF `json:"gguf"`
			}
			readJSON(t, refPath, &ref)
			f, err := Open(testutil.Path("models", name+".gguf"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			g := ref.GGUF
			if f.Version != g.Version || f.Alignment != g.Alignment || f.DataOffset != g.DataOffset {
				t.Errorf("version/alignment/data_offset = %d/%d/%d, ggml says %d/%d/%d", f.Version, f.Alignment, f.DataOffset, g.Version, g.Alignment, g.DataOffset)
			}
			if f.Metadata.Len() != g.NKV || len(f.Tensors) != g.NTensors {
				t.Errorf("n_kv/n_tensors = %d/%d, ggml says %d/%d", f.Metadata.Len(), len(f.Tensors), g.NKV, g.NTensors)
			}
			if f.TensorBytes() != g.TensorBytes {
				t.Errorf("tensor bytes = %d, ggml says %d", f.TensorBytes(), g.TensorBytes)
			}
			counts := map[string]int{}
			for _, tt := range f.Tensors {
				counts[tt.Type.String()]++
			}
			if fmt.Sprint(counts) != fmt.Sprint(g.TypeCounts) {
				t.Errorf("type counts = %v, ggml says %v", counts, g.TypeCounts)
			}
			for _, rt := range g.Tensors {
				tt, ok := f.Tensor(rt.Name)
				if !ok {
					t.Errorf("tensor %q missing", rt.Name)
					continue
				}
				if tt.Type.String() != rt.Type || fmt.Sprint(tt.Shape) != fmt.Sprint(rt.Ne) || tt.Offset != rt.Offset+g.DataOffset || tt.Size != rt.Size {
					t.Errorf("tensor %q = %s %v @%d %d bytes, ggml says %s %v @%d %d bytes", rt.Name, tt.Type, tt.Shape, tt.Offset, tt.Size, rt.Type, rt.Ne, rt.Offset+g.DataOffset, rt.Size)
				}
			}
			if !f.DataPresent() || f.MissingBytes() != 0 || f.CheckData() != nil {
				t.Errorf("complete file reported missing %d bytes", f.MissingBytes())
			}
			if f.Parts[0].Size != g.FileSize {
				t.Errorf("part size %d, want %d", f.Parts[0].Size, g.FileSize)
			}
		})
	}
}

// zooJSON is llama.cpp's parse of a zoo header (testdata/zoo/*.gguf.json).
type zooJSON struct {
	Version     uint32 `json:"version"`
	Alignment   uint64 `json:"alignment"`
	DataOffset  int64  `json:"data_offset"`
	FileSize    int64  `json:"file_size"`
	NKV         int    `json:"n_kv"`
	NTensors    int    `json:"n_tensors"`
	TensorBytes int64  `json:"tensor_bytes"`
	KV          []struct {
		Key   string          `json:"key"`
		Type  string          `json:"type"`
		Value json.RawMessage `json:"value"`
	} `json:"kv"`
	Tensors []struct {
		Name      string   `json:"name"`
		Type      string   `json:"type"`
		TypeID    uint32   `json:"type_id"`
		Ne        []uint64 `json:"ne"`
		AbsOffset int64    `json:"abs_offset"`
		Size      int64    `json:"size"`
	} `json:"tensors"`
}

// zooFiles lists the zoo headers in testdata, plus those only in the shared
// data directory when it is there.
func zooFiles(t testing.TB) []string {
	var files []string
	for _, m := range []string{"mixtral-8x7b-Q4_K_M", "deepseek-v3-Q2_K", "gemma-2-9b-Q4_K_M", "llama-3.1-8b-Q4_K_M", "llama-3.1-8b-Q8_0", "qwen2.5-0.5b-Q8_0"} {
		if p := testutil.Path("zoo", m+".header.gguf"); fileExists(p) {
			files = append(files, p)
		} else if p, ok := testutil.SharedPath("zoo", m+".header.gguf"); ok {
			files = append(files, p)
		} else {
			t.Logf("zoo header %s not available; skipping it", m)
		}
	}
	return files
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func TestZooMatchesGGML(t *testing.T) {
	for _, path := range zooFiles(t) {
		name := strings.TrimSuffix(filepath.Base(path), ".header.gguf")
		t.Run(name, func(t *testing.T) {
			var ref zooJSON
			readJSON(t, strings.TrimSuffix(path, ".header.gguf")+".gguf.json", &ref)
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Version != ref.Version || f.Alignment != ref.Alignment || f.DataOffset != ref.DataOffset || f.Metadata.Len() != ref.NKV || len(f.Tensors) != ref.NTensors || f.TensorBytes() != ref.TensorBytes {
				t.Errorf("header = v%d align %d data@%d kv %d tensors %d bytes %d; ggml: v%d align %d data@%d kv %d tensors %d bytes %d",
					f.Version, f.Alignment, f.DataOffset, f.Metadata.Len(), len(f.Tensors), f.TensorBytes(),
					ref.Version, ref.Alignment, ref.DataOffset, ref.NKV, ref.NTensors, ref.TensorBytes)
			}
			for i, rt := range ref.Tensors {
				tt := f.Tensors[i]
				if tt.Name != rt.Name || uint32(tt.Type) != rt.TypeID || tt.Type.String() != rt.Type || fmt.Sprint(tt.Shape) != fmt.Sprint(rt.Ne) || tt.Offset != rt.AbsOffset || tt.Size != rt.Size {
					t.Errorf("tensor %d = %q %s %v @%d %d; ggml: %q %s %v @%d %d", i, tt.Name, tt.Type, tt.Shape, tt.Offset, tt.Size, rt.Name, rt.Type, rt.Ne, rt.AbsOffset, rt.Size)
				}
			}
			for i, kv := range ref.KV {
				got := f.Metadata.KVs[i]
				if got.Key != kv.Key || got.Value.Type.String() != kv.Type {
					t.Errorf("kv %d = %q %s, ggml: %q %s", i, got.Key, got.Value.Type, kv.Key, kv.Type)
					continue
				}
				checkValue(t, kv.Key, got.Value, kv.Value)
			}
			// A header-only file: every tensor byte is missing, and the planner can still use it.
			if f.DataPresent() || f.MissingBytes() != ref.TensorBytes || f.CheckData() == nil {
				t.Errorf("header-only: present=%v missing=%d, want false %d", f.DataPresent(), f.MissingBytes(), ref.TensorBytes)
			}
		})
	}
}

// checkValue compares a parsed value with ggml's JSON rendering of it.
func checkValue(t *testing.T, key string, v Value, raw json.RawMessage) {
	t.Helper()
	if a, ok := v.Array(); ok {
		var ra struct {
			Type   string            `json:"array_type"`
			N      int               `json:"n"`
			Values []json.RawMessage `json:"values"`
		}
		if err := json.Unmarshal(raw, &ra); err != nil {
			t.Errorf("%s: %v", key, err)
			return
		}
		if a.Elem.String() != ra.Type || a.Len() != ra.N {
			t.Errorf("%s = [%d × %s], ggml: [%d × %s]", key, a.Len(), a.Elem, ra.N, ra.Type)
		}
		if ss, ok := a.Values.([]string); ok {
			for i, rv := range ra.Values {
				var s string
				json.Unmarshal(rv, &s)
				if ss[i] != s {
					t.Errorf("%s[%d] = %q, ggml: %q", key, i, ss[i], s)
				}
			}
		}
		return
	}
	var want any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Errorf("%s: %v", key, err)
		return
	}
	switch w := want.(type) {
	case string:
		if s, _ := v.Str(); s != w {
			t.Errorf("%s = %q, ggml: %q", key, s, w)
		}
	case bool:
		if b, _ := v.Bool(); b != w {
			t.Errorf("%s = %v, ggml: %v", key, b, w)
		}
	case float64:
		if f, _ := v.Float(); float32(f) != float32(w) {
			t.Errorf("%s = %v, ggml: %v", key, f, w)
		}
	}
}

func TestHParams(t *testing.T) {
	type want struct {
		arch                            string
		blocks                          int
		ctx, embd, ff0, heads, kv, k, v uint64
		experts, used, vocab            uint64
		swa                             uint64
		swa0, swa1                      bool
		kvLora                          uint64
	}
	tests := map[string]want{
		"mixtral-8x7b-Q4_K_M": {"llama", 32, 32768, 4096, 14336, 32, 8, 128, 128, 8, 2, 32000, 0, false, false, 0},
		"llama-3.1-8b-Q4_K_M": {"llama", 32, 131072, 4096, 14336, 32, 8, 128, 128, 0, 0, 128256, 0, false, false, 0},
		"gemma-2-9b-Q4_K_M":   {"gemma2", 42, 8192, 3584, 14336, 16, 8, 256, 256, 0, 0, 256000, 4096, true, false, 0},
		"deepseek-v3-Q2_K":    {"deepseek2", 61, 163840, 7168, 18432, 128, 1, 576, 512, 256, 8, 129280, 0, false, false, 512},
		"qwen2.5-0.5b-Q8_0":   {"qwen2", 24, 32768, 896, 4864, 14, 2, 64, 64, 0, 0, 151936, 0, false, false, 0},
	}
	for _, path := range zooFiles(t) {
		name := strings.TrimSuffix(filepath.Base(path), ".header.gguf")
		w, ok := tests[name]
		if !ok {
			continue
		}
		t.Run(name, func(t *testing.T) {
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			h := f.HParams()
			got := want{h.Architecture, h.BlockCount, h.ContextLength, h.EmbeddingLength, h.FeedForwardLength.At(0),
				h.HeadCount.At(0), h.HeadCountKV.At(5), h.KeyLength, h.ValueLength, h.ExpertCount, h.ExpertUsedCount,
				h.VocabSize, h.SlidingWindow, h.IsSWA(0), h.IsSWA(1), h.KVLoraRank}
			if got != w {
				t.Errorf("hparams\n got %+v\nwant %+v", got, w)
			}
			if !h.Has("block_count") || h.Has("no_such_key") {
				t.Error("Has does not tell present keys from absent ones")
			}
		})
	}
}

func TestTinyModel(t *testing.T) {
	kvs, ts := tinyModel()
	data := build(kvs, ts, -1)
	f, err := Parse(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	h := f.HParams()
	if h.HeadCountKV.At(0) != 2 || h.HeadCountKV.At(1) != 1 || h.HeadCountKV.Max() != 2 || h.KeyLength != 16 || h.VocabSize != 4 {
		t.Errorf("per-layer hparams wrong: %+v", h)
	}
	groups := map[string]Group{"token_embd.weight": GroupInput, "blk.0.attn_q.weight": GroupLayer, "output.weight": GroupOutput, "output_norm.weight": GroupOutput}
	for name, g := range groups {
		tt, _ := f.Tensor(name)
		if tt.Group() != g {
			t.Errorf("%s group %v, want %v", name, tt.Group(), g)
		}
	}
	if tt, _ := f.Tensor("blk.1.attn_q.weight"); tt.Layer != 1 || tt.Size != 64*64*2 {
		t.Errorf("blk.1: layer %d size %d", tt.Layer, tt.Size)
	}
	v, _ := f.Metadata.Get("nested")
	a, _ := v.Array()
	inner := a.Values.([]Array)
	if len(inner) != 2 || inner[0].Len() != 2 || inner[1].Values.([]string)[0] != "x" {
		t.Errorf("array of arrays = %#v", a)
	}
	if x, _ := f.Metadata.Float("f64"); x != 2.5 {
		t.Errorf("f64 = %v", x)
	}
	if i, _ := f.Metadata.Get("i64"); fmt.Sprint(i.Any()) != "-7" {
		t.Errorf("i64 = %v", i.Any())
	}
	if _, ok := f.Metadata.Uint("i64"); ok {
		t.Error("negative int read as uint")
	}
}

func TestTruncatedData(t *testing.T) {
	kvs, ts := tinyModel()
	full := build(kvs, ts, -1)
	f, err := Parse(bytes.NewReader(full), int64(len(full)))
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int64{1, 100, f.TensorBytes() - 1} {
		data := full[:int64(len(full))-cut]
		g, err := Parse(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if g.DataPresent() || g.MissingBytes() != cut {
			t.Errorf("cut %d: present=%v missing=%d", cut, g.DataPresent(), g.MissingBytes())
		}
		err = g.CheckData()
		var fe *FormatError
		if !errors.As(err, &fe) || !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "runs past the end") {
			t.Errorf("cut %d: CheckData = %v", cut, err)
		}
	}
}

func TestBadInput(t *testing.T) {
	kvs, ts := tinyModel()
	good := build(kvs, ts, 0)
	withTensor := func(mut func(*testTensor)) []byte {
		kvs, ts := tinyModel()
		mut(&ts[1])
		return build(kvs, ts, 0)
	}
	withKV := func(kv testKV) []byte {
		kvs, ts := tinyModel()
		return build(append(kvs, kv), ts, 0)
	}
	le := func(b []byte, off int, v uint64) []byte {
		b = bytes.Clone(b)
		for i := 0; i < 8; i++ {
			b[off+i] = byte(v >> (8 * i))
		}
		return b
	}
	tests := []struct {
		name   string
		data   []byte
		is     error
		substr string
	}{
		{"empty", nil, ErrTruncated, "header.magic"},
		{"bad magic", append([]byte("GGML"), good[4:]...), ErrBadMagic, "bad magic"},
		{"v1", append([]byte("GGUF\x01\x00\x00\x00"), good[8:]...), ErrUnsupportedVersion, "version 1"},
		{"v4", append([]byte("GGUF\x04\x00\x00\x00"), good[8:]...), ErrUnsupportedVersion, "version 4"},
		{"big-endian", append([]byte("GGUF\x00\x00\x00\x03"), good[8:]...), ErrBigEndian, "big-endian"},
		{"huge tensor count", le(good, 8, 1<<60), nil, "header.tensor_count"},
		{"huge kv count", le(good, 16, 1<<40), nil, "header.kv_count"},
		{"huge key length", le(good, 24, 1<<62), ErrTruncated, "kv[0].key"},
		{"unknown type", withTensor(func(t *testTensor) { t.typ = 4 }), ErrUnknownType, `tensor "blk.0.attn_q.weight".type: type id 4`},
		{"partial block", withTensor(func(t *testTensor) { t.shape = []uint64{48, 64} }), nil, "not a multiple of the q4_0 block size 32"},
		{"5 dims", withTensor(func(t *testTensor) { t.shape = []uint64{32, 1, 1, 1, 1} }), nil, "5 dimensions"},
		{"misaligned", withTensor(func(t *testTensor) { t.off = 290 }), nil, "not a multiple of the alignment"},
		{"overlap", withTensor(func(t *testTensor) { t.off = 256 }), nil, "overlaps tensor \"token_embd.weight\""},
		{"overflowing shape", withTensor(func(t *testTensor) { t.shape = []uint64{1 << 40, 1 << 40} }), nil, "overflows"},
		{"bad alignment", withKV(testKV{"general.alignment", ValueUint32, uint32(48)}), nil, "power of two"},
		{"bad value type", withKV(testKV{"x", 13, uint8(0)}), nil, "value type 13"},
		{"bad bool", badBool(), nil, "bool byte 7"},
		{"duplicate key", withKV(testKV{"general.architecture", ValueString, "x"}), nil, "duplicate key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(bytes.NewReader(tt.data), int64(len(tt.data)))
			if err == nil {
				t.Fatal("no error")
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FormatError", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.substr) || !strings.HasPrefix(err.Error(), "gguf: ") {
				t.Errorf("error %q does not mention %q", err, tt.substr)
			}
		})
	}
}

// badBool is a header whose only value is a bool byte of 7.
func badBool() []byte {
	var w testWriter
	w.WriteString("GGUF")
	w.u32(3)
	w.u64(0)
	w.u64(1)
	w.str("b")
	w.u32(uint32(ValueBool))
	w.WriteByte(7)
	return w.Bytes()
}

// Every prefix of a real header must give an error or a result, never a panic.
func TestEveryPrefix(t *testing.T) {
	data, err := os.ReadFile(testutil.Path("models", "synth-llama-gqa-Q4_K_M.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for n := int64(0); n < f.DataOffset; n++ {
		g, err := Parse(bytes.NewReader(data[:n]), n)
		if n < f.DataOffset-f.DataOffset%32-32 && err == nil {
			t.Fatalf("prefix %d of a %d-byte header parsed without error: %d tensors", n, f.DataOffset, len(g.Tensors))
		}
	}
}

// A header's counts must not drive allocation beyond the file's own size.
func TestHostileCountsAllocateLittle(t *testing.T) {
	var w testWriter
	w.WriteString("GGUF")
	w.u32(3)
	w.u64(0)
	w.u64(1)
	w.str("a")
	w.u32(uint32(ValueArray))
	w.u32(uint32(ValueArray))
	w.u64(1 << 58) // claims 2^58 nested arrays
	data := w.Bytes()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Parse(bytes.NewReader(data), int64(len(data)))
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "exceeds what the remaining") {
		t.Fatalf("err = %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("parsing a %d-byte hostile header allocated %d bytes", len(data), grew)
	}
}

func TestTypeTable(t *testing.T) {
	tests := []struct {
		ty           Type
		name         string
		block, bytes uint64
	}{
		{TypeF32, "f32", 1, 4}, {TypeF16, "f16", 1, 2}, {TypeBF16, "bf16", 1, 2}, {TypeF64, "f64", 1, 8},
		{TypeI8, "i8", 1, 1}, {TypeI16, "i16", 1, 2}, {TypeI32, "i32", 1, 4}, {TypeI64, "i64", 1, 8},
		{TypeQ4_0, "q4_0", 32, 18}, {TypeQ4_1, "q4_1", 32, 20}, {TypeQ5_0, "q5_0", 32, 22}, {TypeQ5_1, "q5_1", 32, 24},
		{TypeQ8_0, "q8_0", 32, 34}, {TypeQ8_1, "q8_1", 32, 36},
		{TypeQ2_K, "q2_K", 256, 84}, {TypeQ3_K, "q3_K", 256, 110}, {TypeQ4_K, "q4_K", 256, 144},
		{TypeQ5_K, "q5_K", 256, 176}, {TypeQ6_K, "q6_K", 256, 210}, {TypeQ8_K, "q8_K", 256, 292},
		{TypeIQ1_S, "iq1_s", 256, 50}, {TypeIQ1_M, "iq1_m", 256, 56}, {TypeIQ2_XXS, "iq2_xxs", 256, 66},
		{TypeIQ2_XS, "iq2_xs", 256, 74}, {TypeIQ2_S, "iq2_s", 256, 82}, {TypeIQ3_XXS, "iq3_xxs", 256, 98},
		{TypeIQ3_S, "iq3_s", 256, 110}, {TypeIQ4_NL, "iq4_nl", 32, 18}, {TypeIQ4_XS, "iq4_xs", 256, 136},
		{TypeTQ1_0, "tq1_0", 256, 54}, {TypeTQ2_0, "tq2_0", 256, 66}, {TypeMXFP4, "mxfp4", 32, 17},
	}
	if len(tests) != len(Types()) {
		t.Errorf("table has %d types, Types() %d", len(tests), len(Types()))
	}
	for _, tt := range tests {
		if tt.ty.String() != tt.name || tt.ty.BlockSize() != tt.block || tt.ty.BlockBytes() != tt.bytes {
			t.Errorf("%d: %s %d %d, want %s %d %d", tt.ty, tt.ty, tt.ty.BlockSize(), tt.ty.BlockBytes(), tt.name, tt.block, tt.bytes)
		}
		if p, ok := ParseType(strings.ToUpper(tt.name)); !ok || p != tt.ty {
			t.Errorf("ParseType(%q) = %v %v", strings.ToUpper(tt.name), p, ok)
		}
	}
	for _, id := range []Type{4, 5, 31, 32, 33, 36, 37, 38, 40, 1 << 31} {
		if id.Known() || id.BlockSize() != 0 {
			t.Errorf("type %d should be unknown", id)
		}
	}
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestSummaryMatchesManifest(t *testing.T) {
	manifest, ok := testutil.SharedPath("zoo", "manifest.json")
	if !ok {
		t.Skip("shared zoo manifest not available")
	}
	var entries []struct {
		File          string           `json:"file"`
		BytesByType   map[string]int64 `json:"bytes_by_type"`
		NonLayerBytes map[string]int64 `json:"non_layer_bytes"`
		LayerBytes    []int64          `json:"layer_bytes"`
	}
	readJSON(t, manifest, &entries)
	for _, e := range entries {
		t.Run(e.File, func(t *testing.T) {
			f, err := Open(strings.TrimSuffix(manifest, "manifest.json") + e.File + ".header.gguf")
			if err != nil {
				t.Fatal(err)
			}
			byType := map[string]int64{}
			for _, s := range f.TypeStats() {
				byType[strings.ToUpper(s.Type.String())] = s.Bytes
			}
			if fmt.Sprint(byType) != fmt.Sprint(e.BytesByType) {
				t.Errorf("bytes by type %v, manifest %v", byType, e.BytesByType)
			}
			if fmt.Sprint(f.LayerBytes()) != fmt.Sprint(e.LayerBytes) {
				t.Errorf("layer bytes differ from the manifest")
			}
			var nonLayer int64
			for _, n := range e.NonLayerBytes {
				nonLayer += n
			}
			if got := f.GroupBytes(GroupInput) + f.GroupBytes(GroupOutput); got != nonLayer {
				t.Errorf("non-layer bytes %d, manifest %d", got, nonLayer)
			}
		})
	}
}
