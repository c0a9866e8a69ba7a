package layouts

// Mamba-1, Qwen3-VL and Qwen3-Next as converted before January 2026, added
// for the compute model's recurrent graphs (planner/graph_recurrent.go,
// graph_deltanet.go). Their layouts follow convert_hf_to_gguf.py's
// MambaModel and Qwen3VLTextModel and the tensors src/models/mamba.cpp,
// qwen3vl.cpp and qwen3next.cpp load.

import (
	"fmt"
	"strings"
)

func init() {
	families["mamba"] = mamba1Model
	families["qwen3vl"] = qwen3vl
	families["qwen3vlmoe"] = qwen3vl
	next := families["qwen3next"]
	families["qwen3next"] = func(b *builder) error {
		if err := next(b); err != nil {
			return err
		}
		if strings.HasPrefix(b.s.ID, qwen3nextLegacyID) {
			qwen3nextLegacy(b)
		}
		return nil
	}
	models = append(models,
		// qwen3vl / qwen3vlmoe: the text model of Qwen3-VL (the vision
		// tower goes to the mmproj file), deepstack inputs for 3 layers.
		model{Spec{ID: "qwen3-vl-8b", Source: "Qwen/Qwen3-VL-8B-Instruct text_config (deepstack_visual_indexes 8, 16, 24)", Arch: "qwen3vl",
			Layers: 36, Embd: 4096, FF: 12288, Heads: 32, HeadsKV: 8, HeadDim: 128, Vocab: 151936, CtxTrain: 262144},
			[]FileType{Q4_K_M, Q8_0, IQ4_XS}},
		model{Spec{ID: "qwen3-vl-4b", Source: "Qwen/Qwen3-VL-4B-Instruct text_config (tied)", Arch: "qwen3vl",
			Layers: 36, Embd: 2560, FF: 9728, Heads: 32, HeadsKV: 8, HeadDim: 128, Vocab: 151936, CtxTrain: 262144, Tied: true},
			[]FileType{Q4_K_M, Q8_0}},
		model{Spec{ID: "qwen3-vl-30b-a3b", Source: "Qwen/Qwen3-VL-30B-A3B-Instruct text_config (128 experts top 8)", Arch: "qwen3vlmoe",
			Layers: 48, Embd: 2048, FF: 6144, Heads: 32, HeadsKV: 4, HeadDim: 128, Vocab: 151936, CtxTrain: 262144,
			Experts: 128, ExpertsUsed: 8, ExpertFF: 768},
			[]FileType{Q4_K_M}},
		// qwen3next as converted before PR 18683 (2026-01-11): one
		// ssm_in projection for Q, K, V and the gate (the files released
		// in late 2025), no MTP layer.
		model{Spec{ID: qwen3nextLegacyID, Source: "Qwen/Qwen3-Next-80B-A3B-Instruct config.json, converted before llama.cpp PR 18683 (ssm_in: mixed QKVZ, no MTP layer)", Arch: "qwen3next",
			Layers: 48, Embd: 2048, FF: 5120, Heads: 16, HeadsKV: 2, HeadDim: 256, RopeDim: 64, Vocab: 151936, CtxTrain: 262144,
			Experts: 512, ExpertsUsed: 10, ExpertFF: 512, SharedFF: 512, SSMConv: 4, SSMInner: 4096, SSMState: 128, SSMGroups: 16, SSMHeads: 32},
			[]FileType{Q4_K_M}},
		// mamba: Mamba-1 (selective scan over d_inner single-channel heads).
		model{Spec{ID: "falcon-mamba-7b", Source: "tiiuae/falcon-mamba-7b config.json (B/C/dt RMS norms: ssm.dt_b_c_rms)", Arch: "mamba",
			Layers: 64, Embd: 4096, Vocab: 65024, CtxTrain: 1 << 20, SSMConv: 4, SSMInner: 8192, SSMState: 16, SSMHeads: 256},
			[]FileType{Q4_K_M, Q8_0}},
		model{Spec{ID: "mamba-2.8b", Source: "state-spaces/mamba-2.8b-hf config.json (tied, time_step_rank 160)", Arch: "mamba",
			Layers: 64, Embd: 2560, Vocab: 50280, CtxTrain: 1 << 20, Tied: true, SSMConv: 4, SSMInner: 5120, SSMState: 16, SSMHeads: 160},
			[]FileType{Q8_0, F16, Q4_K_M}},
	)
}

// mamba1Keys writes MambaModel's ssm.* keys (no group count).
func (b *builder) mamba1Keys() {
	s := b.s
	b.akv("ssm.conv_kernel", uint32(s.SSMConv))
	b.akv("ssm.inner_size", uint32(s.SSMInner))
	b.akv("ssm.state_size", uint32(s.SSMState))
	b.akv("ssm.time_step_rank", uint32(s.SSMHeads))
}

// mamba1Mixer adds a Mamba-1 mixer (src/models/mamba.cpp).
func (b *builder) mamba1Mixer(il int) {
	s := b.s
	b.l(il, "ssm_in.weight", s.Embd, 2*s.SSMInner)
	b.l(il, "ssm_conv1d.weight", s.SSMConv, s.SSMInner)
	b.l(il, "ssm_conv1d.bias", s.SSMInner)
	b.l(il, "ssm_x.weight", s.SSMInner, s.SSMHeads+2*s.SSMState)
	b.l(il, "ssm_dt.weight", s.SSMHeads, s.SSMInner)
	b.l(il, "ssm_dt.bias", s.SSMInner)
	b.l(il, "ssm_a", s.SSMState, s.SSMInner)
	b.l(il, "ssm_d", s.SSMInner)
	b.l(il, "ssm_out.weight", s.SSMInner, s.Embd)
}

// mamba1Model is Mamba-1 and Falcon-Mamba (src/models/mamba.cpp): the
// converter marks Falcon-Mamba's B/C/dt RMS norms with ssm.dt_b_c_rms.
func mamba1Model(b *builder) error {
	s := b.s
	b.rmsEps()
	b.mamba1Keys()
	if !s.Tied {
		b.akv("ssm.dt_b_c_rms", true)
	}
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		b.mamba1Mixer(il)
	}
	b.output()
	return nil
}

// qwen3nextLegacyID prefixes the Qwen3-Next layout of the older converter.
const qwen3nextLegacyID = "qwen3-next-80b-a3b-2025"

// qwen3nextLegacy turns the linear-attention layers' attn_qkv and
// attn_gate into the single ssm_in (mixed QKVZ) the converter wrote before
// PR 18683; qwen3next.cpp still loads it (build_qkvz's legacy path).
func qwen3nextLegacy(b *builder) {
	s := b.s
	keyDim, valueDim := s.SSMState*s.SSMGroups, s.SSMState*s.SSMHeads
	out := b.tensors[:0]
	for _, t := range b.tensors {
		il, err := layerOf(t.name)
		switch {
		case err == nil && strings.HasSuffix(t.name, ".attn_qkv.weight"):
			t = tensor{fmt.Sprintf("blk.%d.ssm_in.weight", il), []uint64{uint64(s.Embd), uint64(2*keyDim + 2*valueDim)}}
		case err == nil && strings.HasSuffix(t.name, ".attn_gate.weight"):
			continue
		}
		out = append(out, t)
	}
	b.tensors = out
}

// qwen3vl is the text model of Qwen3-VL and Qwen3-VL-MoE
// (src/models/qwen3vl.cpp, qwen3vlmoe.cpp): Qwen3's tensors, imrope
// sections and the deepstack layer count (Qwen3VLTextModel in the
// converter).
func qwen3vl(b *builder) error {
	b.akv("rope.dimension_sections", []int32{24, 20, 20, 0})
	b.akv("n_deepstack_layers", uint32(3))
	return qwen3(b)
}
