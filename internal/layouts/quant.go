package layouts

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/modelfit/modelfit/gguf"
)

// sourceType is the type convert_hf_to_gguf.py gives a tensor
// (conversion/base.py, prepare_tensors): f32 for 1-D tensors, norms,
// biases and the few matrices it never narrows (expert routers, Mamba's
// conv1d, LFM2's short convolution), else the output type (F16 or BF16;
// the quantizer reads an F16 file).
func sourceType(s *Spec, t tensor) gguf.Type {
	if nDims(t.shape) <= 1 || strings.HasSuffix(t.name, "_norm.weight") || !strings.HasSuffix(t.name, ".weight") ||
		strings.Contains(t.name, "ffn_gate_inp") || strings.Contains(t.name, "ssm_conv1d") ||
		strings.Contains(t.name, "shortconv.conv") || t.name == "position_embd.weight" ||
		strings.Contains(t.name, "altup_correct_coef") || strings.Contains(t.name, "altup_predict_coef") {
		return gguf.TypeF32
	}
	if s.Type == BF16 {
		return gguf.TypeBF16
	}
	return gguf.TypeF16
}

// nDims is ggml_n_dims: the dimensions up to the last one above 1.
func nDims(shape []uint64) int {
	n := 1
	for i, d := range shape {
		if d > 1 {
			n = i + 1
		}
	}
	return n
}

// allowsQuantization mirrors tensor_allows_quantization (src/llama-quant.cpp)
// for the tensors of the zoo's architectures.
func allowsQuantization(t tensor) bool {
	n := t.name
	if nDims(t.shape) < 2 || !strings.HasSuffix(n, "weight") || strings.Contains(n, "_norm.weight") {
		return false
	}
	for _, no := range []string{"ffn_gate_inp.weight", "ffn_gate_inp_shexp.weight", "ssm_conv1d", "shortconv.conv.weight", "per_layer_model_proj", "altup", "laurel"} {
		if strings.Contains(n, no) {
			return false
		}
	}
	return n != "position_embd.weight" && n != "token_types.weight"
}

// category is tensor_category in src/llama-quant.cpp.
type category int

const (
	catOther category = iota
	catOutput
	catTokenEmbd
	catAttnQKV
	catAttnKVB
	catAttnV
	catAttnK
	catAttnQ
	catAttnOutput
	catFFNUp
	catFFNGate
	catFFNDown
)

// categoryOf mirrors tensor_get_category: substring matches, first wins.
func categoryOf(name string) category {
	switch {
	case name == "output.weight":
		return catOutput
	case name == "token_embd.weight" || name == "per_layer_token_embd.weight":
		return catTokenEmbd
	}
	for _, c := range []struct {
		sub string
		cat category
	}{
		{"attn_qkv.weight", catAttnQKV}, {"attn_kv_b.weight", catAttnKVB}, {"attn_v.weight", catAttnV},
		{"attn_k.weight", catAttnK}, {"attn_q.weight", catAttnQ}, {"attn_output.weight", catAttnOutput},
		{"ffn_up", catFFNUp}, {"ffn_gate", catFFNGate}, {"ffn_down", catFFNDown},
	} {
		if strings.Contains(name, c.sub) {
			return c.cat
		}
	}
	return catOther
}

func (c category) attnVLike() bool { return c == catAttnV || c == catAttnQKV || c == catAttnKVB }

// defaultType is llama_ftype_get_default_type.
func (t FileType) defaultType() gguf.Type {
	switch t {
	case Q8_0:
		return gguf.TypeQ8_0
	case Q2_K:
		return gguf.TypeQ2_K
	case Q4_K_M:
		return gguf.TypeQ4_K
	case IQ4_XS:
		return gguf.TypeIQ4_XS
	case MXFP4MoE:
		return gguf.TypeMXFP4
	case BF16:
		return gguf.TypeBF16
	}
	return gguf.TypeF16
}

// is70B reports llama.cpp's LLM_TYPE_70B for the quantizer's attn_v rule:
// 80-layer llama with grouped KV heads (src/models/llama.cpp) and 80-layer
// qwen2 (src/models/qwen2.cpp).
func (s *Spec) is70B() bool {
	switch s.Arch {
	case "llama":
		return s.Experts != 8 && s.Layers == 80 && s.Heads != s.headsKV(0)
	case "qwen2":
		return s.Layers == 80
	}
	return false
}

// quantize returns each tensor's stored type: the converter's, then for a
// quantized file type llama-quantize's choice, a port of
// llama_tensor_get_type and llama_tensor_get_type_impl (src/llama-quant.cpp
// at build 10587) for the file types of this package, without an
// importance matrix.
func quantize(s *Spec, ts []tensor) ([]gguf.Type, error) {
	out := make([]gguf.Type, len(ts))
	ftype := s.Type
	def := ftype.defaultType()
	quantized := def.BlockSize() > 1
	tied := true
	nAttnV := 0
	for _, t := range ts {
		c := categoryOf(t.name)
		if c == catOutput {
			tied = false
		}
		if c.attnVLike() {
			nAttnV++
		}
	}
	nExpert := max(1, s.Experts)
	nGQA := 0
	if kv := s.headsKV(0); kv > 0 {
		nGQA = s.Heads / kv
	}
	iAttnV, iFFNDown := 0, 0
	// n_ffn_down counts every block, MTP layers included (n_layer_all in
	// init_quantize_state_counters).
	nLayer := s.Layers + s.NextN
	useMoreBits := func(i, n int) bool { return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2 }
	for i, t := range ts {
		out[i] = sourceType(s, t)
		if !quantized || !allowsQuantization(t) {
			continue
		}
		c := categoryOf(t.name)
		nt := def
		switch {
		case c == catOutput || tied && c == catTokenEmbd:
			switch {
			case ftype == MXFP4MoE:
				nt = gguf.TypeQ8_0
			case s.Arch == "falcon" || t.shape[0]%def.BlockSize() != 0:
				nt = gguf.TypeQ8_0
			case nt != gguf.TypeQ8_0:
				nt = gguf.TypeQ6_K
			}
		case ftype == MXFP4MoE:
			// Expert tensors (3-D) MXFP4, the rest Q8_0.
			if len(t.shape) > 2 && t.shape[2] > 1 {
				nt = gguf.TypeMXFP4
			} else {
				nt = gguf.TypeQ8_0
			}
		case c == catTokenEmbd:
			// Unchanged for the file types here.
		case c.attnVLike():
			switch {
			case ftype == Q2_K:
				nt = gguf.TypeQ3_K
				if nGQA >= 4 {
					nt = gguf.TypeQ4_K
				}
			case ftype == IQ4_XS && nGQA >= 4:
				nt = gguf.TypeQ5_K
			case ftype == Q4_K_M && useMoreBits(iAttnV, nAttnV):
				nt = gguf.TypeQ6_K
			}
			if s.is70B() && (nt == gguf.TypeQ3_K || nt == gguf.TypeQ4_K) {
				nt = gguf.TypeQ5_K
			}
			if s.Experts == 8 {
				nt = gguf.TypeQ8_0
			}
			iAttnV++
		case c == catAttnK:
			if s.Experts == 8 {
				nt = gguf.TypeQ8_0
			}
		case c == catFFNDown:
			il, n := iFFNDown, nLayer
			if nExpert > 1 {
				var err error
				if il, err = layerOf(t.name); err != nil {
					return nil, err
				}
			}
			switch {
			case ftype == Q2_K:
				nt = gguf.TypeQ3_K
			case ftype == Q4_K_M && s.Arch == "falcon":
				switch {
				case il < n/16:
					nt = gguf.TypeQ6_K
				case useMoreBits(il, n):
					nt = gguf.TypeQ5_K
				}
			case ftype == Q4_K_M:
				if useMoreBits(il, n) {
					nt = gguf.TypeQ6_K
				}
			case ftype == IQ4_XS && il < n/8:
				nt = gguf.TypeQ5_K
			}
			iFFNDown++
		case c == catAttnOutput && s.Arch == "falcon":
			// Unchanged for the file types here.
		case c == catAttnOutput:
			if s.Experts == 8 {
				if ftype == Q2_K || ftype == Q4_K_M || ftype == IQ4_XS {
					nt = gguf.TypeQ5_K
				}
			} else if ftype == Q2_K {
				nt = gguf.TypeQ3_K
			}
		case c == catAttnQKV:
			if ftype == Q4_K_M {
				nt = gguf.TypeQ5_K
			}
		}
		out[i] = fallback(t, nt)
	}
	return out, nil
}

// fallback mirrors tensor_type_fallback: a row length the type's block does
// not divide takes a type with 32-element blocks, or F16.
func fallback(t tensor, typ gguf.Type) gguf.Type {
	if t.shape[0]%typ.BlockSize() == 0 {
		return typ
	}
	switch typ {
	case gguf.TypeIQ4_XS:
		typ = gguf.TypeIQ4_NL
	case gguf.TypeQ2_K, gguf.TypeQ3_K:
		typ = gguf.TypeQ4_0
	case gguf.TypeQ4_K:
		typ = gguf.TypeQ5_0
	case gguf.TypeQ5_K:
		typ = gguf.TypeQ5_1
	case gguf.TypeQ6_K:
		typ = gguf.TypeQ8_0
	}
	if t.shape[0]%typ.BlockSize() != 0 {
		return gguf.TypeF16
	}
	return typ
}

func layerOf(name string) (int, error) {
	rest, ok := strings.CutPrefix(name, "blk.")
	if ok {
		if n, _, ok := strings.Cut(rest, "."); ok {
			if il, err := strconv.Atoi(n); err == nil {
				return il, nil
			}
		}
	}
	return 0, fmt.Errorf("failed to determine layer for tensor %s", name)
}
