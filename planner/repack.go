package planner

import (
	"slices"

	"github.com/modelfit/modelfit/gguf"
)

// repackRule is one line of ggml-cpu's choice of a repacked layout: weights
// of type typ are repacked when the CPU has every feature in need and their
// row count is a multiple of rows. since marks rules only current upstream
// has (not build 6529).
type repackRule struct {
	typ     gguf.Type
	need    []string
	rows    uint64
	current bool
}

// repackRules mirror ggml_repack_get_optimal_repack_type, first match per
// type winning. x86 features are probe's "avx2"/"avx512f"; arm64's "neon",
// "dotprod", "i8mm", and "sve256" for SVE with a 256-bit vector length
// (ggml_cpu_get_sve_cnt() == QK8_0: Graviton3), which takes Q4_0's 8x8
// layout.
var repackRules = map[string][]repackRule{
	"amd64": {
		{typ: gguf.TypeQ4_0, need: []string{"avx2"}, rows: 8},
		{typ: gguf.TypeQ4_K, need: []string{"avx2"}, rows: 8},
		{typ: gguf.TypeQ2_K, need: []string{"avx512f"}, rows: 8},
		{typ: gguf.TypeIQ4_NL, need: []string{"avx2"}, rows: 8},
		{typ: gguf.TypeMXFP4, need: []string{"avx2"}, rows: 8},
	},
	"arm64": {
		{typ: gguf.TypeQ4_0, need: []string{"sve256", "i8mm"}, rows: 8},
		{typ: gguf.TypeQ4_0, need: []string{"neon", "i8mm"}, rows: 4},
		{typ: gguf.TypeQ4_0, need: []string{"neon", "dotprod"}, rows: 4},
		{typ: gguf.TypeQ4_K, need: []string{"neon", "i8mm"}, rows: 8},
		{typ: gguf.TypeQ4_K, need: []string{"neon", "dotprod"}, rows: 8},
		{typ: gguf.TypeQ5_K, need: []string{"neon", "i8mm"}, rows: 8, current: true},
		{typ: gguf.TypeQ5_K, need: []string{"neon", "dotprod"}, rows: 8, current: true},
		{typ: gguf.TypeQ6_K, need: []string{"neon", "i8mm"}, rows: 8, current: true},
		{typ: gguf.TypeQ6_K, need: []string{"neon", "dotprod"}, rows: 8, current: true},
		{typ: gguf.TypeIQ4_NL, need: []string{"neon"}, rows: 4},
		{typ: gguf.TypeMXFP4, need: []string{"neon", "dotprod"}, rows: 4},
		{typ: gguf.TypeQ8_0, need: []string{"neon", "i8mm"}, rows: 4, current: true},
		{typ: gguf.TypeQ8_0, need: []string{"neon", "dotprod"}, rows: 4, current: true},
	},
}

// repackRows returns, per weight type the target runtime copies into a
// CPU_REPACK buffer on this CPU, the row multiple the repacked layout needs.
// Ollama's build does not repack.
func repackRows(env Env) map[gguf.Type]uint64 {
	if env.Runtime == RuntimeOllama {
		return nil
	}
	arch := env.CPUArch
	if arch == "" {
		arch = "amd64"
	}
	out := map[gguf.Type]uint64{}
	for _, r := range repackRules[arch] {
		if _, done := out[r.typ]; done || r.current && env.Runtime == RuntimeLlamaCppB6529 {
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
