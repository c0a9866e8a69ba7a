package planner

import (
	"errors"
	"fmt"

	"github.com/modelfit/modelfit/gguf"
)

// ErrUnmodeled is returned for a model whose memory the estimate cannot
// size (an RWKV file without its head size): a number would be a guess.
var ErrUnmodeled = errors.New("memory model not implemented for this architecture")

// ErrBadCacheType is returned for a KV cache type whose block size does not
// divide a layer's K or V row, which llama.cpp refuses.
var ErrBadCacheType = errors.New("cache type does not fit the row size")

// recurrentArch lists the architectures whose layers keep a Mamba-style
// recurrent state instead of a KV cache: all layers ("all"), or those with
// no KV heads (hybrids, as llama.cpp's recurrent_layer_arr marks them).
var recurrentArch = map[string]string{
	"mamba": "all", "mamba2": "all",
	"rwkv6": "rwkv", "rwkv6qwen2": "rwkv", "rwkv7": "rwkv", "arwkv7": "rwkv",
	"jamba": "hybrid", "granitehybrid": "hybrid", "nemotron_h": "hybrid", "lfm2": "hybrid",
	"qwen3next": "interval", "qwen35": "interval", "qwen35moe": "interval",
	// src/models/nemotron-h.cpp (nemotron_h_moe inherits its loader) and
	// lfm2moe.cpp: recurrent are the layers without KV heads.
	"nemotron_h_moe": "hybrid", "lfm2moe": "hybrid",
	// src/models/falcon-h1.cpp: every layer runs Mamba-2 and attention
	// side by side; llama_model::create_memory gives every layer both a
	// KV cache and a recurrent state (filter_attn and filter_recr true).
	"falcon-h1": "both",
}

// noMemoryArch lists the architectures llama.cpp runs without any cache:
// encoders and diffusion models attend over the ubatch alone
// (llama_model::create_memory returns no memory for them).
var noMemoryArch = map[string]bool{
	"bert": true, "jina-bert-v2": true, "jina-bert-v3": true, "nomic-bert": true, "nomic-bert-moe": true,
	"neo-bert": true, "eurobert": true, "wavtokenizer-dec": true, "modern-bert": true, "gemma-embedding": true,
	"dream": true, "llada": true, "llada-moe": true, "rnd1": true,
}

// attendsToo reports whether a recurrent layer also keeps a KV cache.
func (m *model) attendsToo() bool { return recurrentArch[m.h.Architecture] == "both" }

// mtpWithoutKV lists the architectures whose cache leaves the
// next-token-prediction layers out (a layer filter il < n_layer() in
// llama_model::create_memory, build 10587); the others (glm4moe,
// deepseek2, ...) still allocate KV for them.
var mtpWithoutKV = map[string]bool{
	"qwen3next": true, "qwen35": true, "qwen35moe": true, "minimax-01": true,
	"step35": true, "hy_v3": true, "glm-dsa": true, "mimo2": true, "deepseek32": true,
}

// mtpLayer reports whether layer il is a next-token-prediction layer.
func (m *model) mtpLayer(il int) bool {
	return il >= m.nLayer-int(min(m.h.NextNPredictLayers, uint64(m.nLayer)))
}

// recurrent reports whether layer il keeps a recurrent state.
func (m *model) recurrent(il int) bool {
	switch recurrentArch[m.h.Architecture] {
	case "all", "rwkv", "both":
		return true
	case "interval":
		// Qwen3-Next/3.5: attention.recurrent_layers, or every
		// full_attention_interval-th (default 4) main layer attends, the
		// rest are gated-DeltaNet layers (src/models/qwen3next.cpp,
		// load_arch_hparams); MTP layers attend.
		if m.mtpLayer(il) {
			return false
		}
		if m.h.RecurrentLayers != nil {
			return il < len(m.h.RecurrentLayers) && m.h.RecurrentLayers[il]
		}
		n := int(m.h.FullAttentionInterval)
		if n == 0 {
			n = 4
		}
		return (il+1)%n != 0
	case "hybrid":
		if m.h.Architecture == "nemotron_h" || m.h.Architecture == "nemotron_h_moe" {
			// Nemotron-H's MLP layers have neither KV heads nor a state:
			// recurrent are the layers without KV heads and without a
			// feed-forward width (src/models/nemotron-h.cpp,
			// load_arch_hparams; filter_recr in llama_model::create_memory).
			return m.h.HeadCountKV.At(il) == 0 && m.h.FeedForwardLength.At(il) == 0
		}
		return m.h.HeadCountKV.At(il) == 0
	}
	return false
}

// stateFloats is one sequence's recurrent state of one layer in floats:
// the conv state, (d_conv−1) × (d_inner + 2·n_group·d_state), plus the SSM
// state, d_state × d_inner. llama.cpp keeps both in f32.
//
// RWKV keeps the token shifts (token_shift_count × n_embd) and the WKV
// state (n_embd × head size).
//
// LFM2's short convolutions keep n_embd × (L_cache − 1) floats and no SSM
// state (llama_hparams::n_embd_r and n_embd_s in src/llama-hparams.cpp).
func (m *model) stateFloats() uint64 {
	h := &m.h
	if recurrentArch[h.Architecture] == "rwkv" {
		return m.rwkvShifts*h.EmbeddingLength + h.EmbeddingLength*m.rwkvHeadSize
	}
	if h.ShortConvLCache > 0 {
		return h.EmbeddingLength * (h.ShortConvLCache - 1)
	}
	conv := uint64(0)
	if h.SSMConvKernel > 0 {
		conv = (h.SSMConvKernel - 1) * (h.SSMInnerSize + 2*h.SSMGroupCount*h.SSMStateSize)
	}
	return conv + h.SSMStateSize*h.SSMInnerSize
}

// isMLA is llama_hparams::is_mla: the file gives the per-head K and V
// lengths of multi-head latent attention (MLA-aware DeepSeek conversion).
func (m *model) isMLA() bool { return m.h.KeyLengthMLA > 0 && m.h.ValueLengthMLA > 0 }

// vLess reports whether the runtime keeps no V cache for this model: an MLA
// model's V is the latent already in K, and current llama.cpp stores none
// (PR 19067, "kv-cache : support V-less cache", January 2026; has_v =
// !is_mla in llama_kv_cache's constructor). Older builds kept it.
func (m *model) vLess(rt Runtime) bool { return m.isMLA() && rt.profile().has(changeVLess) }

// kvRows returns the bytes one cache cell of layer il takes in K and in V:
// n_head_kv(il) × key/value length, in the cache types' row sizes.
// Without flash attention the V cache is stored transposed and every
// layer's V row is padded to the widest layer's (n_embd_v_gqa_max, see
// TAG_V_CACHE_VARIABLE in src/llama-kv-cache.cpp).
func (m *model) kvRows(il int, kt, vt gguf.Type, fa bool, rt Runtime) (k, v uint64, err error) {
	h := &m.h
	nkv := h.HeadCountKV.At(il)
	kh, vh := h.KeyLength, h.ValueLength
	if h.IsSWA(il) {
		// n_embd_head_k(il) is the sliding-window head size on window
		// layers (llama_hparams::n_embd_head_k, Gemma 4).
		kh, vh = h.KeyLengthSWA, h.ValueLengthSWA
	}
	// DeepSeek files from before MLA-aware conversion (attn_kv_b, no
	// key_length_mla) are not MLA to llama.cpp (llama_hparams::is_mla):
	// they take the plain path, a full multi-head cache of n_head_kv ×
	// key/value_length per token (measured on the generated zoo: 128 heads
	// × 192 for DeepSeek-V3), not the compressed latent.
	kn, vn := nkv*kh, nkv*vh
	if !fa && nkv > 0 {
		vn = m.vRowMax()
	}
	if m.vLess(rt) {
		vn = 0
	}
	k, okK := kt.RowBytes(kn)
	v, okV := vt.RowBytes(vn)
	// With flash attention llama.cpp refuses a quantized cache type whose
	// block does not divide a head (llama_init_from_model); without it
	// only whole rows must hold whole blocks (ggml's tensor layout).
	if !okK || !okV || fa && (kh%kt.BlockSize() != 0 || vn > 0 && vh%vt.BlockSize() != 0) {
		return 0, 0, fmt.Errorf("planner: layer %d: K cache %s (rows of %d) or V cache %s (rows of %d): %w", il, kt, kn, vt, vn, ErrBadCacheType)
	}
	return k, v, nil
}

// vRowMax is llama_hparams::n_embd_v_gqa_max: the widest V row of any
// layer (window layers with their own head size included).
func (m *model) vRowMax() uint64 {
	h := &m.h
	var w uint64
	for il := range m.nLayer {
		vh := h.ValueLength
		if h.IsSWA(il) {
			vh = h.ValueLengthSWA
		}
		w = max(w, h.HeadCountKV.At(il)*vh)
	}
	return w
}

// hasKV mirrors llama_hparams::has_kv: Gemma 3n keeps a cache for its
// first 20 layers and Gemma 4 for all but its attention.shared_kv_layers
// last ones; the others reuse those caches (load_arch_hparams in
// src/models/gemma3n.cpp and gemma4.cpp; the reuse callback in
// llama_model::create_memory).
func (m *model) hasKV(il int) bool {
	if noMemoryArch[m.h.Architecture] {
		return false
	}
	switch m.h.Architecture {
	case "gemma3n":
		return il < 20
	case "gemma4":
		return il < m.nLayer-int(min(m.h.SharedKVLayers, uint64(m.nLayer)))
	}
	return true
}

// cells is how llama.cpp sizes the caches for a context.
type cells struct {
	nCtx   int // n_ctx as padded: the cells of a full-attention layer, all sequences
	seq    int // cells one sequence's stream attends (n_ctx_seq)
	swa    int // cells of a sliding-window layer, all streams
	swaSeq int // cells of a sliding-window layer one stream attends
}

// cacheCells pads n_ctx as current llama.cpp does (to 256, and with more
// than one sequence each sequence's share to 256 too) and sizes the
// sliding-window cache to the window plus a ubatch, padded, per stream.
// One sequence uses one stream; more use one stream each (llama-server's
// default when -np is given, the only mode the planner renders), so a
// sequence attends n_ctx/n_seq cells.
//
// With a unified cache (kv_unified) there is one stream of n_ctx cells
// that every sequence attends, and the sliding-window cache holds a
// window per sequence plus a ubatch in that one stream
// (llama_kv_cache_iswa: n_swa × n_seq_max + n_ubatch, capped at the base
// size, padded to 256).
func cacheCells(h gguf.HParams, nCtx, nSeq, ub int) cells {
	return streamCells(h, nCtx, nSeq, ub, false)
}

// streamCells is cacheCells with the cache unified or not.
func streamCells(h gguf.HParams, nCtx, nSeq, ub int, unified bool) cells {
	c := cells{nCtx: padTo(nCtx, 256)}
	c.seq = c.nCtx
	streams := 1
	if nSeq > 1 && !unified {
		c.seq = padTo(max(c.nCtx/nSeq, 1), 256)
		c.nCtx = c.seq * nSeq
		streams = nSeq
	}
	if h.SlidingWindow > 0 {
		w := int(min(h.SlidingWindow, 1<<30))
		if unified {
			w *= nSeq
		}
		c.swaSeq = min(c.seq, padTo(w+ub, 256))
		c.swa = c.swaSeq * streams
	}
	return c
}
