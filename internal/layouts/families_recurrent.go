package layouts

// Mamba-1, Jamba and Qwen3-Next as converted before January 2026, added
// for the compute model's recurrent graphs (planner/graph_recurrent.go,
// graph_deltanet.go). Their layouts follow convert_hf_to_gguf.py's
// MambaModel and JambaModel and the tensors src/models/mamba.cpp, jamba.cpp
// and qwen3next.cpp load.

import (
	"fmt"
	"strings"
)

func init() {
	families["mamba"] = mamba1Model
	families["jamba"] = jamba
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
			[]FileType{Q8_0, F16}},
		// jamba: Mamba-1 layers with attention every 8th (offset 4) and
		// experts every 2nd (offset 1).
		model{Spec{ID: "jamba-v0.1", Source: "ai21labs/Jamba-v0.1 config.json (Jamba-Mini-1.7 has the same shape)", Arch: "jamba",
			Layers: 32, Embd: 4096, FF: 14336, Heads: 32, HeadsKV: 8, HeadsKVArr: every(32, 8, 4, 8), Vocab: 65536, CtxTrain: 262144,
			Experts: 16, ExpertsUsed: 2, ExpertFF: 14336, SSMConv: 4, SSMInner: 8192, SSMState: 16, SSMHeads: 256},
			[]FileType{Q4_K_M, IQ4_XS}},
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

// mamba1 adds a Mamba-1 mixer (src/models/mamba.cpp, jamba.cpp); norms
// adds Jamba's dt/B/C RMS norm weights.
func (b *builder) mamba1(il int, norms bool) {
	s := b.s
	b.l(il, "ssm_in.weight", s.Embd, 2*s.SSMInner)
	b.l(il, "ssm_conv1d.weight", s.SSMConv, s.SSMInner)
	b.l(il, "ssm_conv1d.bias", s.SSMInner)
	b.l(il, "ssm_x.weight", s.SSMInner, s.SSMHeads+2*s.SSMState)
	if norms {
		b.l(il, "ssm_dt_norm.weight", s.SSMHeads)
	}
	b.l(il, "ssm_dt.weight", s.SSMHeads, s.SSMInner)
	b.l(il, "ssm_dt.bias", s.SSMInner)
	if norms {
		b.l(il, "ssm_b_norm.weight", s.SSMState)
		b.l(il, "ssm_c_norm.weight", s.SSMState)
	}
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
		b.mamba1(il, false)
	}
	b.output()
	return nil
}

// jamba is Jamba (src/models/jamba.cpp): Mamba-1 layers with dt/B/C norm
// weights, attention layers without rope, every layer followed by a dense
// or MoE FFN.
func jamba(b *builder) error {
	s := b.s
	b.rmsEps()
	b.mamba1Keys()
	b.embed()
	for il := range s.Layers {
		b.norm(il, "attn_norm")
		if s.headsKV(il) > 0 {
			b.qkv(il, false)
		} else {
			b.mamba1(il, true)
		}
		b.norm(il, "ffn_norm")
		if il%2 == 1 {
			b.experts(il, s.ExpertFF)
		} else {
			b.mlp(il, s.FF)
		}
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
