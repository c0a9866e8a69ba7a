package gguf

import "strings"

// PerLayer is a hyperparameter that GGUF stores either as one scalar for all
// layers or as an array with one value per layer.
type PerLayer []uint64

// At returns the value for layer il: the scalar when one value is stored,
// 0 when the layer is out of range or nothing is stored.
func (p PerLayer) At(il int) uint64 {
	switch {
	case len(p) == 1:
		return p[0]
	case il >= 0 && il < len(p):
		return p[il]
	}
	return 0
}

// Max returns the largest value over all layers.
func (p PerLayer) Max() uint64 {
	var m uint64
	for _, v := range p {
		m = max(m, v)
	}
	return m
}

// HParams are the typed hyperparameters of a model, read from the keys under
// its general.architecture prefix. A key that is absent leaves its field
// zero; Has tells absent from zero.
type HParams struct {
	Architecture      string
	FileType          uint64 // general.file_type (llama_ftype)
	BlockCount        int    // layers
	ContextLength     uint64 // training context
	EmbeddingLength   uint64 // n_embd
	FeedForwardLength PerLayer
	HeadCount         PerLayer
	HeadCountKV       PerLayer // defaults to HeadCount when absent, as llama.cpp does
	KeyLength         uint64   // attention.key_length; n_embd/n_head when absent
	ValueLength       uint64   // attention.value_length; n_embd/n_head when absent
	// KeyLengthSWA and ValueLengthSWA are the head sizes of sliding-window
	// layers (attention.key/value_length_swa, Gemma 4); KeyLength and
	// ValueLength when absent.
	KeyLengthSWA, ValueLengthSWA uint64
	// SharedKVLayers is attention.shared_kv_layers: the last layers reuse
	// earlier layers' caches (Gemma 4).
	SharedKVLayers uint64
	RMSEpsilon     float64 // attention.layer_norm_rms_epsilon
	NormEpsilon    float64 // attention.layer_norm_epsilon

	// SlidingWindow is the window llama.cpp applies (tokens): the
	// attention.sliding_window key or the architecture's default, 0 where
	// llama.cpp ignores the key (see swaRules); Has tells whether the file
	// has the key.
	SlidingWindow        uint64
	SlidingWindowPattern []bool // per layer: true where the layer uses the window

	RopeDimensionCount uint64
	RopeFreqBase       float64
	RopeScalingType    string
	RopeScalingFactor  float64
	RopeOrigContext    uint64 // rope.scaling.original_context_length

	ExpertCount             uint64
	ExpertUsedCount         uint64
	ExpertSharedCount       uint64
	ExpertFeedForwardLength uint64
	LeadingDenseBlockCount  uint64

	QLoraRank         uint64 // MLA (DeepSeek-V2/V3)
	KVLoraRank        uint64
	KeyLengthMLA      uint64
	ValueLengthMLA    uint64
	SSMConvKernel     uint64 // recurrent (Mamba-style) state dimensions
	SSMInnerSize      uint64
	SSMStateSize      uint64
	SSMGroupCount     uint64
	AttnSoftcap       float64
	FinalLogitSoftcap float64
	ShortConvLCache   uint64 // shortconv.l_cache (LFM2's convolution length)

	// NextNPredictLayers counts the next-token-prediction (MTP) layers at
	// the end of block_count (nextn_predict_layers).
	NextNPredictLayers uint64
	// FullAttentionInterval is full_attention_interval (Qwen3-Next/3.5:
	// every n-th layer attends, the others are recurrent); RecurrentLayers
	// the per-layer attention.recurrent_layers array that replaces it.
	FullAttentionInterval uint64
	RecurrentLayers       []bool

	VocabSize uint64 // vocab_size, or the length of tokenizer.ggml.tokens

	present map[string]bool
}

// Has reports whether the key (without the architecture prefix, e.g.
// "attention.head_count_kv"; or "vocab_size") was present in the file.
func (h *HParams) Has(key string) bool { return h.present[key] }

// HeadDimK is the per-head key length for layer-independent shapes.
func (h *HParams) HeadDimK() uint64 { return h.KeyLength }

// IsSWA reports whether layer il uses the sliding window.
func (h *HParams) IsSWA(il int) bool {
	if h.SlidingWindow == 0 || il < 0 || il >= len(h.SlidingWindowPattern) {
		return false
	}
	return h.SlidingWindowPattern[il]
}

// swaRule is how an architecture's loader in llama.cpp reads the sliding
// window (load_arch_hparams in src/models/<arch>.cpp, build 10587).
// Architectures without a rule ignore the key: their loaders never read it
// (llama, qwen2, ...), or read it and turn the window off (phi3, since PR
// 13676: Phi-3 files carry sliding_window 2047, every layer still caches
// the whole context).
type swaRule struct {
	// period is set_swa_pattern's default: of every period layers the
	// first period-1 use the window (0: every layer). A pattern key in the
	// file overrides it.
	period int
	// window applies when the file has no key (gemma2: 4096; llama4's
	// chunked attention: 8192); 0 = no window without the key.
	window uint64
	// needKey: only a key > 0 turns the window on (gemma3, olmo2, lfm2).
	needKey bool
	// fixed: llama4 uses window whatever the key says, unless it is 0.
	fixed bool
	// attention: the window applies to every layer with KV heads (lfm2,
	// whose other layers are convolutions).
	attention bool
	// arrayOnly: only a per-layer pattern array marks window layers; no
	// default period (gemma4).
	arrayOnly bool
	// layers: the rule applies only to models of this many layers
	// (n_layer() without next-token-prediction layers); others never
	// slide (exaone4: only the 32B, 64 layers, has a window).
	layers int
}

var swaRules = map[string]swaRule{
	"gemma2":  {period: 2, window: 4096},
	"gemma3":  {period: 6, needKey: true},
	"gemma3n": {period: 5},
	"gemma4":  {arrayOnly: true},
	"cohere2": {period: 4},
	"gpt-oss": {period: 2},
	"olmo2":   {period: 4, needKey: true},
	"llama4":  {period: 4, window: 8192, fixed: true},
	"lfm2":    {needKey: true, attention: true},
	"mellum":  {period: 4, needKey: true},
	"afmoe":   {period: 4, needKey: true},
	// src/models/exaone4.cpp: n_layer() == 64 sets a 4096 window on three
	// of every four layers; sliding_window, when present, replaces the
	// size. The pattern key is read as a scalar period.
	"exaone4": {period: 4, window: 4096, layers: 64},
}

// HParams reads the typed hyperparameters.
func (f *File) HParams() HParams {
	md := &f.Metadata
	arch := f.Architecture()
	h := HParams{Architecture: arch, present: map[string]bool{}}
	pfx := arch + "."
	u := func(key string) uint64 {
		v, ok := md.Uint(pfx + key)
		if ok {
			h.present[key] = true
		}
		return v
	}
	fl := func(key string) float64 {
		v, ok := md.Float(pfx + key)
		if ok {
			h.present[key] = true
		}
		return v
	}
	per := func(key string) PerLayer {
		v, ok := md.Get(pfx + key)
		if !ok {
			return nil
		}
		us, ok := v.Uints()
		if !ok {
			return nil
		}
		h.present[key] = true
		return us
	}
	h.FileType, _ = md.Uint("general.file_type")
	h.BlockCount = int(min(u("block_count"), 1<<20))
	h.ContextLength = u("context_length")
	h.EmbeddingLength = u("embedding_length")
	h.FeedForwardLength = per("feed_forward_length")
	h.HeadCount = per("attention.head_count")
	h.HeadCountKV = per("attention.head_count_kv")
	if h.HeadCountKV == nil {
		h.HeadCountKV = h.HeadCount
	}
	h.KeyLength = u("attention.key_length")
	h.ValueLength = u("attention.value_length")
	if nh := h.HeadCount.Max(); nh > 0 {
		if h.KeyLength == 0 {
			h.KeyLength = h.EmbeddingLength / nh
		}
		if h.ValueLength == 0 {
			h.ValueLength = h.EmbeddingLength / nh
		}
	}
	h.KeyLengthSWA, h.ValueLengthSWA = h.KeyLength, h.ValueLength
	if v := u("attention.key_length_swa"); v > 0 {
		h.KeyLengthSWA = v
	}
	if v := u("attention.value_length_swa"); v > 0 {
		h.ValueLengthSWA = v
	}
	h.SharedKVLayers = u("attention.shared_kv_layers")
	h.RMSEpsilon = fl("attention.layer_norm_rms_epsilon")
	h.NormEpsilon = fl("attention.layer_norm_epsilon")

	h.SlidingWindow = h.slidingWindow(md, arch)

	h.RopeDimensionCount = u("rope.dimension_count")
	h.RopeFreqBase = fl("rope.freq_base")
	if s, ok := md.Get(pfx + "rope.scaling.type"); ok {
		h.RopeScalingType, _ = s.Str()
		h.present["rope.scaling.type"] = true
	}
	h.RopeScalingFactor = fl("rope.scaling.factor")
	h.RopeOrigContext = u("rope.scaling.original_context_length")

	h.ExpertCount = u("expert_count")
	h.ExpertUsedCount = u("expert_used_count")
	h.ExpertSharedCount = u("expert_shared_count")
	h.ExpertFeedForwardLength = u("expert_feed_forward_length")
	h.LeadingDenseBlockCount = u("leading_dense_block_count")
	h.QLoraRank = u("attention.q_lora_rank")
	h.KVLoraRank = u("attention.kv_lora_rank")
	h.KeyLengthMLA = u("attention.key_length_mla")
	h.ValueLengthMLA = u("attention.value_length_mla")
	h.SSMConvKernel = u("ssm.conv_kernel")
	h.SSMInnerSize = u("ssm.inner_size")
	h.SSMStateSize = u("ssm.state_size")
	h.SSMGroupCount = u("ssm.group_count")
	h.ShortConvLCache = u("shortconv.l_cache")
	h.NextNPredictLayers = u("nextn_predict_layers")
	h.FullAttentionInterval = u("full_attention_interval")
	if v, ok := md.Get(pfx + "attention.recurrent_layers"); ok {
		if a, ok := v.Array(); ok {
			if bs, ok := a.Values.([]bool); ok {
				h.RecurrentLayers = bs
				h.present["attention.recurrent_layers"] = true
			}
		}
	}
	h.AttnSoftcap = fl("attn_logit_softcapping")
	h.FinalLogitSoftcap = fl("final_logit_softcapping")

	h.VocabSize = u("vocab_size")
	if !h.present["vocab_size"] {
		if v, ok := md.Get("tokenizer.ggml.tokens"); ok {
			if a, ok := v.Array(); ok {
				h.VocabSize = uint64(a.Len())
			}
		}
	}
	return h
}

// ArchKey returns the full key for a key under the architecture prefix.
func (f *File) ArchKey(key string) string {
	return f.Architecture() + "." + strings.TrimPrefix(key, ".")
}

// slidingWindow applies the architecture's rule (swaRules) to the file's
// sliding_window and sliding_window_pattern keys and fills
// SlidingWindowPattern.
func (h *HParams) slidingWindow(md *Metadata, arch string) uint64 {
	pfx := arch + "."
	key, hasKey := md.Uint(pfx + "attention.sliding_window")
	if hasKey {
		h.present["attention.sliding_window"] = true
	}
	rule, ok := swaRules[arch]
	var w uint64
	nextn, _ := md.Uint(pfx + "nextn_predict_layers")
	switch {
	case !ok:
		return 0
	case rule.layers > 0 && uint64(h.BlockCount) != uint64(rule.layers)+nextn:
		return 0
	case rule.fixed:
		if hasKey && key == 0 {
			return 0
		}
		w = rule.window
	case hasKey:
		w = key
	case !rule.needKey:
		w = rule.window
	}
	if w == 0 || h.BlockCount <= 0 {
		return 0
	}
	h.SlidingWindowPattern = make([]bool, h.BlockCount)
	if rule.attention {
		for il := range h.SlidingWindowPattern {
			h.SlidingWindowPattern[il] = h.HeadCountKV.At(il) > 0
		}
		return w
	}
	v, ok := md.Get(pfx + "attention.sliding_window_pattern")
	switch a, isArr := v.Array(); {
	case ok && isArr:
		h.present["attention.sliding_window_pattern"] = true
		if bs, ok := a.Values.([]bool); ok {
			copy(h.SlidingWindowPattern, bs)
		}
	case rule.arrayOnly:
		return 0
	default:
		n := rule.period
		if ok {
			if p, isInt := v.Uint(); isInt {
				h.present["attention.sliding_window_pattern"] = true
				n = int(min(p, 1<<20))
			}
		}
		for il := range h.SlidingWindowPattern {
			h.SlidingWindowPattern[il] = n == 0 || il%n < n-1
		}
	}
	return w
}
