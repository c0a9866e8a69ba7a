package planner

import (
	"slices"

	"github.com/modelfit/modelfit/gguf"
)

// repackRule is one line of ggml-cpu's choice of a repacked layout
// (ggml_repack_get_optimal_repack_type in ggml/src/ggml-cpu/repack.cpp):
// weights of type typ are repacked when the CPU has every feature in need
// and their row count is a multiple of rows. since is the upstream PR that
// added the line: a build repacks by it only when it contains that PR.
type repackRule struct {
	typ   gguf.Type
	need  []string
	rows  uint64
	since change
}

// The PRs that added repacked layouts, found with `git log -S` on the
// returned traits in ggml-cpu/repack.cpp (ggml-cpu-aarch64.cpp before).
var (
	prRepackQ4_0     = change{10446, "19d8762ab", "2024-12-07", "Q4_0 (AVX2 8x8, NEON 4x8/4x4) and IQ4_NL (NEON 4x4)"}
	prRepackQ4_K     = change{12332, "3d82dbcbc", "2025-03-20", "Q4_K 8x8 on AVX2"}
	prRepackQ2_K     = change{14373, "baad94885", "2025-08-01", "Q2_K 8x8 on AVX-512"}
	prRepackIQ4NLx8  = change{14904, "00f35d509", "2025-08-13", "IQ4_NL 8x8 on AVX2"}
	prRepackQ4_KI8mm = change{16739, "dbb852b54", "2025-11-24", "Q4_K 8x8 on ARM i8mm"}
	prRepackQ4_KDot  = change{17494, "cd8370b40", "2025-11-27", "Q4_K 8x4 on ARM dotprod"}
	prRepackQ8_0     = change{18096, "669696e00", "2025-12-17", "Q8_0 on ARM i8mm/dotprod"}
	prRepackQ5_KI8mm = change{18860, "091a46cb8", "2026-01-23", "Q5_K 8x8 on ARM i8mm"}
	prRepackQ6_KI8mm = change{18888, "be8890e72", "2026-01-27", "Q6_K 8x8 on ARM i8mm"}
	prRepackQ6_KDot  = change{19360, "c03a5a46f", "2026-02-10", "Q6_K 8x4 on ARM dotprod"}
	prRepackQ5_KDot  = change{19356, "bc160d358", "2026-02-23", "Q5_K 8x4 on ARM dotprod"}
	prRepackMXFP4    = change{19738, "d903f30e2", "2026-02-27", "MXFP4 (AVX2 8x8, NEON dotprod 4x4)"}
)

// repackRules mirror ggml_repack_get_optimal_repack_type, first match per
// type winning. x86 features are probe's "avx2"/"avx512f"; arm64's "neon",
// "dotprod", "i8mm", and "sve256" for SVE with a 256-bit vector length
// (ggml_cpu_get_sve_cnt() == QK8_0, e.g. Graviton3), which takes Q4_0's 8x8
// layout (that path came with PR 9921, before PR 10446). RISC-V layouts are
// left out: the probe does not report the vector length there.
var repackRules = map[string][]repackRule{
	"amd64": {
		{typ: gguf.TypeQ4_0, need: []string{"avx2"}, rows: 8, since: prRepackQ4_0},
		{typ: gguf.TypeQ4_K, need: []string{"avx2"}, rows: 8, since: prRepackQ4_K},
		{typ: gguf.TypeQ2_K, need: []string{"avx512f"}, rows: 8, since: prRepackQ2_K},
		{typ: gguf.TypeIQ4_NL, need: []string{"avx2"}, rows: 8, since: prRepackIQ4NLx8},
		{typ: gguf.TypeMXFP4, need: []string{"avx2"}, rows: 8, since: prRepackMXFP4},
	},
	"arm64": {
		{typ: gguf.TypeQ4_0, need: []string{"sve256", "i8mm"}, rows: 8, since: prRepackQ4_0},
		{typ: gguf.TypeQ4_0, need: []string{"neon", "i8mm"}, rows: 4, since: prRepackQ4_0},
		{typ: gguf.TypeQ4_0, need: []string{"neon", "dotprod"}, rows: 4, since: prRepackQ4_0},
		{typ: gguf.TypeQ4_K, need: []string{"neon", "i8mm"}, rows: 8, since: prRepackQ4_KI8mm},
		{typ: gguf.TypeQ4_K, need: []string{"neon", "dotprod"}, rows: 8, since: prRepackQ4_KDot},
		{typ: gguf.TypeQ5_K, need: []string{"neon", "i8mm"}, rows: 8, since: prRepackQ5_KI8mm},
		{typ: gguf.TypeQ5_K, need: []string{"neon", "dotprod"}, rows: 8, since: prRepackQ5_KDot},
		{typ: gguf.TypeQ6_K, need: []string{"neon", "i8mm"}, rows: 8, since: prRepackQ6_KI8mm},
		{typ: gguf.TypeQ6_K, need: []string{"neon", "dotprod"}, rows: 8, since: prRepackQ6_KDot},
		{typ: gguf.TypeIQ4_NL, need: []string{"neon", "dotprod"}, rows: 4, since: prRepackQ4_0},
		{typ: gguf.TypeMXFP4, need: []string{"neon", "dotprod"}, rows: 4, since: prRepackMXFP4},
		{typ: gguf.TypeQ8_0, need: []string{"neon", "i8mm"}, rows: 4, since: prRepackQ8_0},
		{typ: gguf.TypeQ8_0, need: []string{"neon", "dotprod"}, rows: 4, since: prRepackQ8_0},
	},
}

// repackRows returns, per weight type the target runtime copies into a
// CPU_REPACK buffer on this CPU, the row multiple the repacked layout needs.
// Ollama's builds do not repack.
func repackRows(env Env) map[gguf.Type]uint64 {
	p := env.Runtime.profile()
	if !p.repacks {
		return nil
	}
	arch := env.CPUArch
	if arch == "" {
		arch = "amd64"
	}
	out := map[gguf.Type]uint64{}
	for _, r := range repackRules[arch] {
		if _, done := out[r.typ]; done || !p.hasGGML(r.since) {
			continue
		}
		ok := true
		for _, f := range r.need {
			ok = ok && slices.Contains(env.CPUFeatures, f)
		}
		if ok {
			out[r.typ] = r.rows
		}
	}
	return out
}

// repackTypes returns the weight types the target runtime repacks on this
// CPU.
func repackTypes(env Env) map[gguf.Type]bool {
	out := map[gguf.Type]bool{}
	for t := range repackRows(env) {
		out[t] = true
	}
	return out
}

// repackable reports whether a weight can live in CPU_REPACK with rows in
// groups of 8 (every x86 layout; see repackableRows).
func repackable(t *tinfo) bool { return repackableRows(t, 8) }

// repackableRows mirrors the repack buffer's supports_op: weights of a
// plain matrix multiplication (2-D) or of the MoE expert multiplication
// (3-D …_exps) whose row count is a multiple of rows; the token embedding
// is read by get_rows and never repacked.
func repackableRows(t *tinfo, rows uint64) bool {
	if rows == 0 || t.name == "token_embd.weight" || len(t.shape) < 2 || t.shape[1]%rows != 0 {
		return false
	}
	switch len(t.shape) {
	case 2:
		return true
	case 3:
		return t.exps
	}
	return false
}
