// Package layouts generates GGUF headers laid out as llama.cpp's converter
// (convert_hf_to_gguf.py) and quantizer (llama-quantize) would write them
// for a model of given dimensions: every tensor named, shaped and typed as
// the architecture's loader in llama.cpp expects, and the metadata keys it
// reads. The data section is not written: a header followed by a hole up to
// the full size is a model llama.cpp can plan memory for without reading
// weights. The planner's ground truth (planner/internal/groundtruth) and
// its tests regenerate every layout from its Spec in memory.
package layouts

import (
	"fmt"
	"slices"
	"strings"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/ggufwrite"
)

// FileType is a llama_ftype (include/llama.h) the generator can produce.
type FileType int

// The file types of the zoo: the converter's F16 and BF16 outputs and the
// quantizer's mixes.
const (
	F16      FileType = 1
	Q8_0     FileType = 7
	Q2_K     FileType = 10
	Q4_K_M   FileType = 15
	IQ4_XS   FileType = 30
	BF16     FileType = 32
	MXFP4MoE FileType = 38 // LLAMA_FTYPE_MOSTLY_MXFP4_MOE: experts MXFP4, the rest Q8_0
)

var fileTypeNames = map[FileType]string{F16: "F16", Q8_0: "Q8_0", Q2_K: "Q2_K", Q4_K_M: "Q4_K_M",
	IQ4_XS: "IQ4_XS", BF16: "BF16", MXFP4MoE: "MXFP4_MOE"}

func (t FileType) String() string {
	if n, ok := fileTypeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("ftype(%d)", int(t))
}

// Spec is one model layout: the architecture, its dimensions and the file
// type. Fields an architecture does not use stay zero. Counts are plain
// ints: the zoo's specs are Go code, not input.
type Spec struct {
	ID     string // unique, file-name safe: "llama-3.1-8b-q4_k_m"
	Source string // where the dimensions come from
	Arch   string // general.architecture
	Type   FileType

	Layers  int
	Embd    int
	FF      int   // feed_forward_length (dense layers)
	FFArr   []int // per-layer feed_forward_length, when it varies
	Heads   int
	HeadsKV int
	// HeadsKVArr is a per-layer head_count_kv (0 marks a recurrent layer
	// in hybrids); it replaces HeadsKV when set.
	HeadsKVArr []int
	HeadDim    int // key_length = value_length when not n_embd/n_head; 0 = derived
	HeadDimV   int // value_length when it differs from HeadDim
	// HeadDimSWA is key/value_length_swa: the head size of sliding-window
	// layers where it differs (Gemma 4).
	HeadDimSWA int
	Vocab      int
	CtxTrain   int
	Tied       bool // no output.weight: the token embedding is the output projection
	// RopeFreqs adds Llama-3.1's rope_freqs tensor (rope scaling type
	// "llama3" in the converter).
	RopeFreqs bool
	RopeDim   int  // rope.dimension_count when not the head dimension
	QKVBias   bool // Q/K/V projection biases where the family has them optionally

	// Sliding window attention.
	SWA int // attention.sliding_window
	// SharedKV is attention.shared_kv_layers (Gemma 4: the last layers
	// reuse earlier layers' caches); EmbdPerLayer its per-layer embedding
	// width.
	SharedKV, EmbdPerLayer int
	SWAPattern             int // attention.sliding_window_pattern (period) where the arch reads one

	// Mixture of experts.
	Experts       int
	ExpertsUsed   int
	ExpertFF      int // expert_feed_forward_length
	SharedExperts int // expert_shared_count
	SharedFF      int // expert_shared_feed_forward_length (0: ExpertFF × SharedExperts)
	LeadingDense  int // leading_dense_block_count
	ExpertGroups  int
	GroupsUsed    int

	// Multi-head latent attention (DeepSeek-V2/V3).
	QLora, KVLora, QKNope, QKRope, VHead int
	// LegacyMLA writes DeepSeek's attention as converters before MLA-aware
	// conversion did (early 2025): per-head key/value lengths, one
	// attn_kv_b, no *_length_mla keys.
	LegacyMLA bool

	// NextN is the number of next-token-prediction layers the converter
	// appends after Layers (block_count counts them).
	NextN int

	// Recurrent (Mamba-2 style) layers.
	SSMConv, SSMInner, SSMState, SSMGroups, SSMHeads int

	// Extra holds architecture-specific metadata beyond the above.
	Extra []ggufwrite.KV
}

// Layout is a generated file: its metadata, tensors and sizes.
type Layout struct {
	Spec    *Spec
	KVs     []ggufwrite.KV
	Tensors []ggufwrite.TensorInfo
}

// tensor is a tensor as the converter emits it before quantization.
type tensor struct {
	name  string
	shape []uint64
}

// Build returns the layout the converter and quantizer would write for s.
func Build(s *Spec) (*Layout, error) {
	b := &builder{s: s}
	fam, ok := families[s.Arch]
	if !ok {
		return nil, fmt.Errorf("layouts: %s: architecture %q not modelled", s.ID, s.Arch)
	}
	b.common()
	if err := fam(b); err != nil {
		return nil, fmt.Errorf("layouts: %s: %w", s.ID, err)
	}
	b.kv("general.file_type", uint32(s.Type))
	b.kv("general.quantization_version", uint32(2))
	// A minimal tokenizer: llama-vocab.cpp accepts the model "none" and
	// then takes the vocabulary size from {arch}.vocab_size (dummy tokens).
	b.kv("tokenizer.ggml.model", "none")
	b.kv(s.Arch+".vocab_size", uint32(s.Vocab))
	types, err := quantize(s, b.tensors)
	if err != nil {
		return nil, fmt.Errorf("layouts: %s: %w", s.ID, err)
	}
	l := &Layout{Spec: s, KVs: b.kvs}
	for i, t := range b.tensors {
		l.Tensors = append(l.Tensors, ggufwrite.TensorInfo{Name: t.name, Type: types[i], Shape: t.shape})
	}
	return l, nil
}

// Header encodes the layout's GGUF header and returns it with the size of
// the data section that follows it in the full file.
func (l *Layout) Header() ([]byte, uint64, error) {
	return ggufwrite.EncodeHeader(l.KVs, l.Tensors)
}

// File returns the layout parsed as the planner reads it (header only).
func (l *Layout) File() (*gguf.File, error) {
	hdr, _, err := l.Header()
	if err != nil {
		return nil, err
	}
	return gguf.Parse(strings.NewReader(string(hdr)), int64(len(hdr)))
}

// builder collects the metadata and tensors of one layout.
type builder struct {
	s       *Spec
	kvs     []ggufwrite.KV
	tensors []tensor
}

func (b *builder) kv(key string, v any) {
	for i := range b.kvs {
		if b.kvs[i].Key == key {
			b.kvs[i].Value = v
			return
		}
	}
	b.kvs = append(b.kvs, ggufwrite.KV{Key: key, Value: v})
}

// akv sets a key under the architecture prefix.
func (b *builder) akv(key string, v any) { b.kv(b.s.Arch+"."+key, v) }

// t adds a tensor; dims are in ggml order (row length first).
func (b *builder) t(name string, dims ...int) {
	shape := make([]uint64, len(dims))
	for i, d := range dims {
		shape[i] = uint64(d)
	}
	b.tensors = append(b.tensors, tensor{name, shape})
}

// l adds a layer tensor "blk.<il>.<name>".
func (b *builder) l(il int, name string, dims ...int) {
	b.t(fmt.Sprintf("blk.%d.%s", il, name), dims...)
}

// common writes the keys every architecture's loader reads
// (llama_model_base::load_hparams).
func (b *builder) common() {
	s := b.s
	b.kv("general.architecture", s.Arch)
	b.kv("general.name", s.ID)
	b.akv("context_length", uint32(s.CtxTrain))
	b.akv("embedding_length", uint32(s.Embd))
	b.akv("block_count", uint32(s.Layers))
	if s.FFArr != nil {
		b.akv("feed_forward_length", u32s(s.FFArr))
	} else {
		b.akv("feed_forward_length", uint32(s.FF))
	}
	b.akv("attention.head_count", uint32(s.Heads))
	if s.HeadsKVArr != nil {
		b.akv("attention.head_count_kv", u32s(s.HeadsKVArr))
	} else {
		b.akv("attention.head_count_kv", uint32(s.HeadsKV))
	}
	if s.HeadDim > 0 {
		b.akv("attention.key_length", uint32(s.HeadDim))
		b.akv("attention.value_length", uint32(cmp(s.HeadDimV, s.HeadDim)))
	}
	if s.Heads > 0 {
		b.akv("rope.dimension_count", uint32(cmp(s.RopeDim, s.headDim())))
		b.akv("rope.freq_base", float32(10000))
	}
	if s.Experts > 0 {
		b.akv("expert_count", uint32(s.Experts))
		b.akv("expert_used_count", uint32(s.ExpertsUsed))
	}
	for _, e := range s.Extra {
		b.kv(e.Key, e.Value)
	}
}

// headDim is the per-head key length.
func (s *Spec) headDim() int {
	if s.HeadDim > 0 {
		return s.HeadDim
	}
	return s.Embd / s.Heads
}

func (s *Spec) headDimV() int { return cmp(s.HeadDimV, s.headDim()) }

// headsKV returns layer il's KV head count.
func (s *Spec) headsKV(il int) int {
	if s.HeadsKVArr != nil {
		return s.HeadsKVArr[il]
	}
	return s.HeadsKV
}

func (s *Spec) ff(il int) int {
	if s.FFArr != nil {
		return s.FFArr[il]
	}
	return s.FF
}

// cmp returns a unless it is zero, else b (cmp.Or for ints).
func cmp(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

func u32s(xs []int) []uint32 {
	out := make([]uint32, len(xs))
	for i, x := range xs {
		out[i] = uint32(x)
	}
	return out
}

// families maps an architecture to the function that adds its tensors and
// architecture-specific keys.
var families = map[string]func(*builder) error{}

// Archs lists the architectures the generator knows.
func Archs() []string {
	var out []string
	for a := range families {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}
