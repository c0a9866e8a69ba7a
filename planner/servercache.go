package planner

import "fmt"

// llama-server's host memory outside llama.cpp's buffers (build 10587
// defaults, common/common.h): the prompt cache, which keeps the states of
// earlier prompts in RAM up to --cache-ram MiB, and each slot's context
// checkpoints (--ctx-checkpoints) of the memory a model cannot roll back —
// its sliding-window cache or recurrent state (server-context.cpp,
// create_checkpoint with LLAMA_STATE_SEQ_FLAGS_PARTIAL_ONLY: only models
// with SWA layers or recurrent state make them).
const (
	serverCacheRAMMiB     = 8192
	serverCtxCheckpoints  = 32
	serverCheckpointSteps = 8192 // checkpoint_min_step
)

// checkpointBytes is one context checkpoint of one sequence: the
// sliding-window layers' K and V and the recurrent state a sequence holds
// (0 for a model whose whole cache can be rolled back).
func checkpointBytes(b *Breakdown, nSeq int) uint64 {
	var n uint64
	for _, l := range b.Layers {
		if b.SWACells > 0 && l.KVCells == b.SWACells && l.KVCells < b.KVCells {
			n += l.KBytes + l.VBytes
		}
		n += l.StateBytes
	}
	return n / uint64(max(nSeq, 1))
}

// serverCacheNote says what llama-server holds beyond the plan's buffers
// when it runs the plan: the prompt cache and the context checkpoints are
// not in the host total (they grow with use, up to their limits), and
// warns when the host's free memory after the plan cannot take them.
func serverCacheNote(p *Plan, rt Runtime) {
	if rt != RuntimeLlamaCpp && rt != "" || p.breakdown == nil || len(p.Devices) == 0 {
		return
	}
	nSeq := max(p.Settings.NParallel, 1)
	ckpt := checkpointBytes(p.breakdown, nSeq)
	cache := uint64(serverCacheRAMMiB) << 20
	var ckptAll uint64
	why := fmt.Sprintf("llama-server keeps earlier prompts' states in host RAM, up to --cache-ram %d MiB by default", serverCacheRAMMiB)
	if ckpt > 0 {
		ckptAll = uint64(serverCtxCheckpoints*nSeq) * ckpt
		why += fmt.Sprintf(", and each of the %d slots up to %d context checkpoints (--ctx-checkpoints, at least %d tokens apart across requests) of the sliding-window cache or recurrent state it cannot roll back, %s each (%s at most)",
			nSeq, serverCtxCheckpoints, serverCheckpointSteps, human(ckpt), human(ckptAll))
	}
	why += "; they grow with use and are not in the host total above (pass --cache-ram 0 to run without the prompt cache)"
	p.why("llama-server cache", "not counted", "%s", why)
	if free := p.Devices[0].FreeAfterBytes; free < int64(cache+ckptAll) {
		p.Warnings = append(p.Warnings, fmt.Sprintf("llama-server's prompt cache (--cache-ram %d MiB by default)%s can take more than the %s of host RAM the plan leaves free: pass --cache-ram %d or less",
			serverCacheRAMMiB, ckptNote(ckptAll), human(uint64(max(free, 0))), max(free-int64(ckptAll), 0)>>20))
	}
}

func ckptNote(n uint64) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" and context checkpoints (up to %s)", human(n))
}
