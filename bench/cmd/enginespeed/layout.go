package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/quant"
)

// shape is a llama model's dimensions.
type shape struct {
	name               string
	nEmbd, nLayer, nFF int
	nHead, nHeadKV     int
	nVocab             int
	ropeBase           float32
}

// shapes are the layouts the benchmark writes: TinyLlama-1.1B's and
// Llama-3-8B's dimensions, both with the 32k SentencePiece vocabulary of
// llama.cpp's test vocab file (Llama 3's 128k one would add 0.5–1 GB of
// embeddings and output that neither model shape is about).
var shapes = map[string]shape{
	"1.1B": {name: "1.1B", nEmbd: 2048, nLayer: 22, nFF: 5632, nHead: 32, nHeadKV: 4, nVocab: 32000, ropeBase: 10000},
	"8B":   {name: "8B", nEmbd: 4096, nLayer: 32, nFF: 14336, nHead: 32, nHeadKV: 8, nVocab: 32000, ropeBase: 500000},
}

type tensorSpec struct {
	name  string
	typ   gguf.Type
	shape []uint64
}

func (s shape) tensors() []tensorSpec {
	hd := s.nEmbd / s.nHead
	kv := uint64(hd * s.nHeadKV)
	e, ff, v := uint64(s.nEmbd), uint64(s.nFF), uint64(s.nVocab)
	ts := []tensorSpec{{"token_embd.weight", gguf.TypeF16, []uint64{e, v}}}
	for i := range s.nLayer {
		p := fmt.Sprintf("blk.%d.", i)
		ts = append(ts,
			tensorSpec{p + "attn_norm.weight", gguf.TypeF32, []uint64{e}},
			tensorSpec{p + "attn_q.weight", gguf.TypeF16, []uint64{e, e}},
			tensorSpec{p + "attn_k.weight", gguf.TypeF16, []uint64{e, kv}},
			tensorSpec{p + "attn_v.weight", gguf.TypeF16, []uint64{e, kv}},
			tensorSpec{p + "attn_output.weight", gguf.TypeF16, []uint64{e, e}},
			tensorSpec{p + "ffn_norm.weight", gguf.TypeF32, []uint64{e}},
			tensorSpec{p + "ffn_gate.weight", gguf.TypeF16, []uint64{e, ff}},
			tensorSpec{p + "ffn_up.weight", gguf.TypeF16, []uint64{e, ff}},
			tensorSpec{p + "ffn_down.weight", gguf.TypeF16, []uint64{ff, e}},
		)
	}
	return append(ts,
		tensorSpec{"output_norm.weight", gguf.TypeF32, []uint64{e}},
		tensorSpec{"output.weight", gguf.TypeF16, []uint64{e, v}})
}

const align = 32

func pad(n uint64) uint64 { return (n + align - 1) / align * align }

// writeF16 writes the shape as an F16 GGUF with random weights (uniform, of
// standard deviation 1/sqrt(row length), so activations stay bounded) and
// the tokenizer of vocab.
func writeF16(path string, s shape, vocab *gguf.File) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 4<<20)
	le := func(v any) { binary.Write(w, binary.LittleEndian, v) }
	str := func(x string) { le(uint64(len(x))); w.WriteString(x) }

	var kvs []func()
	kv := func(key string, typ gguf.ValueType, v any) {
		kvs = append(kvs, func() { str(key); le(uint32(typ)); le(v) })
	}
	kvs = append(kvs, func() { str("general.architecture"); le(uint32(gguf.ValueString)); str("llama") })
	kvs = append(kvs, func() { str("general.name"); le(uint32(gguf.ValueString)); str("modelfit-bench-llama-" + s.name) })
	kv("general.file_type", gguf.ValueUint32, uint32(1)) // MOSTLY_F16
	kv("llama.context_length", gguf.ValueUint32, uint32(4096))
	kv("llama.embedding_length", gguf.ValueUint32, uint32(s.nEmbd))
	kv("llama.block_count", gguf.ValueUint32, uint32(s.nLayer))
	kv("llama.feed_forward_length", gguf.ValueUint32, uint32(s.nFF))
	kv("llama.attention.head_count", gguf.ValueUint32, uint32(s.nHead))
	kv("llama.attention.head_count_kv", gguf.ValueUint32, uint32(s.nHeadKV))
	kv("llama.rope.dimension_count", gguf.ValueUint32, uint32(s.nEmbd/s.nHead))
	kv("llama.rope.freq_base", gguf.ValueFloat32, s.ropeBase)
	kv("llama.attention.layer_norm_rms_epsilon", gguf.ValueFloat32, float32(1e-5))
	for _, e := range vocab.Metadata.KVs {
		if !strings.HasPrefix(e.Key, "tokenizer.") {
			continue
		}
		e := e
		kvs = append(kvs, func() { str(e.Key); writeValue(w, le, str, e.Value) })
	}
	ts := s.tensors()
	w.WriteString(gguf.Magic)
	le(uint32(3))
	le(uint64(len(ts)))
	le(uint64(len(kvs)))
	for _, k := range kvs {
		k()
	}
	var off uint64
	for _, t := range ts {
		str(t.name)
		le(uint32(len(t.shape)))
		for _, d := range t.shape {
			le(d)
		}
		le(uint32(t.typ))
		le(off)
		off += pad(size(t))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	pos, _ := f.Seek(0, 1)
	w.Reset(f)
	zeros := make([]byte, align)
	w.Write(zeros[:pad(uint64(pos))-uint64(pos)])
	rng := uint64(0x9e3779b97f4a7c15) ^ uint64(s.nEmbd)
	for _, t := range ts {
		n := size(t)
		if t.typ == gguf.TypeF32 { // norms: around 1
			for range t.shape[0] {
				rng = xorshift(rng)
				le(math.Float32bits(1 + float32(int32(rng>>40)&0xffff-0x8000)/0x8000*0.1))
			}
		} else {
			table := uniformF16(1 / math.Sqrt(float64(t.shape[0])))
			var buf [8]byte
			for i := uint64(0); i < n; i += 8 {
				rng = xorshift(rng)
				for k := range 4 {
					binary.LittleEndian.PutUint16(buf[2*k:], table[uint16(rng>>(16*k))])
				}
				w.Write(buf[:])
			}
		}
		w.Write(zeros[:pad(n)-n])
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func size(t tensorSpec) uint64 {
	n := uint64(1)
	for _, d := range t.shape {
		n *= d
	}
	if t.typ == gguf.TypeF32 {
		return 4 * n
	}
	return 2 * n
}

func xorshift(x uint64) uint64 {
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	return x
}

// uniformF16 is 65536 f16 values spread uniformly over ±sqrt(3)·std.
func uniformF16(std float64) *[65536]uint16 {
	var t [65536]uint16
	a := math.Sqrt(3) * std
	for i := range t {
		t[i] = quant.F32ToF16(float32((float64(i)+0.5)/32768*a - a))
	}
	return &t
}

// writeValue re-encodes a metadata value read from another file.
func writeValue(w *bufio.Writer, le func(any), str func(string), v gguf.Value) {
	le(uint32(v.Type))
	if a, ok := v.Array(); ok {
		le(uint32(a.Elem))
		le(uint64(a.Len()))
		switch x := a.Values.(type) {
		case []string:
			for _, s := range x {
				str(s)
			}
		case []bool:
			for _, b := range x {
				le(b)
			}
		default:
			le(x)
		}
		return
	}
	if s, ok := v.Str(); ok {
		str(s)
		return
	}
	le(v.Any())
}

// ensureLayout returns the path of shape s quantized to typ under dir,
// writing the F16 file and quantizing it with llama-quantize when missing.
func ensureLayout(dir, bin string, s shape, typ string, vocab *gguf.File) (string, error) {
	out := filepath.Join(dir, fmt.Sprintf("llama-%s-%s.gguf", s.name, typ))
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	f16 := filepath.Join(dir, fmt.Sprintf("llama-%s-F16.gguf", s.name))
	if _, err := os.Stat(f16); err != nil {
		logf("writing %s", f16)
		tmp := f16 + ".part"
		if err := writeF16(tmp, s, vocab); err != nil {
			os.Remove(tmp)
			return "", fmt.Errorf("writing %s: %w", f16, err)
		}
		if err := os.Rename(tmp, f16); err != nil {
			return "", err
		}
	}
	logf("quantizing %s to %s", f16, typ)
	tmp := out + ".part"
	cmd := exec.Command(filepath.Join(bin, "llama-quantize"), f16, tmp, typ, "2")
	if b, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("llama-quantize %s %s: %w\n%s", f16, typ, err, tail(b))
	}
	return out, os.Rename(tmp, out)
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
