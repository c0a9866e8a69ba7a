package planner

import "github.com/modelfit/modelfit/gguf"

// repackTypes returns the weight types the target runtime copies into a
// CPU_REPACK buffer on this CPU.
func repackTypes(env Env) map[gguf.Type]bool {
	if env.Runtime == RuntimeOllama {
		return nil
	}
	has := func(f string) bool {
		for _, x := range env.CPUFeatures {
			if x == f {
				return true
			}
		}
		return false
	}
	switch env.CPUArch {
	case "arm64":
		r := map[gguf.Type]bool{}
		if has("dotprod") || has("neon") {
			r[gguf.TypeQ4_0], r[gguf.TypeIQ4_NL] = true, true
		}
		if has("i8mm") {
			r[gguf.TypeQ4_K] = true
		}
		return r
	default:
		if !has("avx2") {
			return nil
		}
		return map[gguf.Type]bool{gguf.TypeQ4_0: true, gguf.TypeIQ4_NL: true, gguf.TypeQ4_K: true, gguf.TypeQ2_K: true}
	}
}

// repackable mirrors the repack buffer's supports_op: weights of a plain
// matrix multiplication (2-D) or of the MoE expert multiplication (3-D
// …_exps), with rows in groups of 8; the token embedding is read by
// get_rows and never repacked.
func repackable(t *tinfo) bool {
	if t.name == "token_embd.weight" || len(t.shape) < 2 || t.shape[1]%8 != 0 {
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
