package zoo

import (
	"regexp"
	"strconv"
	"strings"
)

var (
	reNCtx      = regexp.MustCompile(`llama_context: n_ctx\s+= (\d+)`)
	reNCtxSeq   = regexp.MustCompile(`llama_context: n_ctx_seq\s+= (\d+)`)
	reOutput    = regexp.MustCompile(`llama_context:\s+\S+\s+output buffer size =\s+([\d.]+) MiB`)
	reCompute   = regexp.MustCompile(`sched_reserve:\s+CPU compute buffer size =\s+([\d.]+) MiB`)
	reKV        = regexp.MustCompile(`llama_kv_cache: size =\s+[\d.]+ MiB \(\s*(\d+) cells.*K \(\S+\):\s+([\d.]+) MiB, V \(\S+\):\s+([\d.]+) MiB`)
	reSWA       = regexp.MustCompile(`creating\s+(non-SWA|SWA) KV cache`)
	reRecurrent = regexp.MustCompile(`llama_memory_recurrent: size =.*R \(\S+\):\s+([\d.]+) MiB, S \(\S+\):\s+([\d.]+) MiB`)
	reRot       = regexp.MustCompile(`attn_rot_([kv]) = 1`)
	reBreakdown = regexp.MustCompile(`common_memory_breakdown_print: \|\s+- (\S+)\s+\|\s+(\d+) =\s+(\d+) \+\s+(\d+) \+\s+(\d+)`)
	reError     = regexp.MustCompile(`^[\d.]+ E (.*)$`)
)

// ParseLog reads llama-fit-params' debug log (-v): the context sizes, the
// KV cache summary per cache (full and sliding-window), the recurrent
// state, the output and compute buffers, the memory breakdown table's model
// and context columns, and the first error. complete reports whether the
// log reached the memory breakdown table: llama.cpp's logger writes from a
// thread of its own and can lose the last lines when the process exits.
func ParseLog(log string) (m Measured, complete bool) {
	swa := false
	for _, line := range strings.Split(log, "\n") {
		line = strings.TrimRight(line, "\r")
		if x := reNCtx.FindStringSubmatch(line); x != nil {
			m.Ctx = atoi(x[1])
		}
		if x := reNCtxSeq.FindStringSubmatch(line); x != nil {
			m.CtxSeq = atoi(x[1])
		}
		if x := reOutput.FindStringSubmatch(line); x != nil {
			m.Output = atof(x[1])
		}
		if x := reCompute.FindStringSubmatch(line); x != nil {
			m.Compute += atof(x[1])
		}
		if x := reSWA.FindStringSubmatch(line); x != nil {
			swa = x[1] == "SWA"
		}
		if x := reKV.FindStringSubmatch(line); x != nil {
			if swa {
				m.SWACells, m.KSWA, m.VSWA = atoi(x[1]), atof(x[2]), atof(x[3])
			} else {
				m.Cells, m.K, m.V = atoi(x[1]), atof(x[2]), atof(x[3])
			}
		}
		if x := reRecurrent.FindStringSubmatch(line); x != nil {
			m.R, m.S = atof(x[1]), atof(x[2])
		}
		if x := reRot.FindStringSubmatch(line); x != nil {
			if x[1] == "k" {
				m.AttnRotK = true
			} else {
				m.AttnRotV = true
			}
		}
		if x := reBreakdown.FindStringSubmatch(line); x != nil {
			switch x[1] {
			case "Host":
				m.HostModelMiB, m.ContextMiB = atoi(x[3]), atoi(x[4])
				complete = true
			case "CPU_REPACK":
				m.RepackModelMiB = atoi(x[3])
			}
		}
		if x := reError.FindStringSubmatch(line); x != nil && m.Error == "" {
			m.Error = strings.TrimSpace(x[1])
		}
	}
	return m, complete
}

func atoi(s string) int {
	v, _ := strconv.Atoi(s)
	return v
}

func atof(s string) float64 {
	v, _ := strconv.ParseFloat(s, 64)
	return v
}
