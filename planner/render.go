package planner

import (
	"strconv"
	"strings"
)

// ArgsStyle selects how LlamaCppArgs spells the loading mode.
type ArgsStyle int

// Argument spellings of llama.cpp builds.
const (
	// ArgsClassic: --no-mmap / --mlock (llama.cpp through 2025, Ollama's runner).
	ArgsClassic ArgsStyle = iota
	// ArgsLoadMode: --load-mode none|mmap|mlock|mmap+mlock of newer llama.cpp builds.
	ArgsLoadMode
)

// LlamaCppArgs renders the plan as llama-server / llama-cli arguments.
func (p *Plan) LlamaCppArgs(style ArgsStyle) []string {
	s := p.Settings
	var a []string
	if p.Model.Path != "" {
		a = append(a, "-m", p.Model.Path)
	}
	if rpc := p.rpcServers(); rpc != "" {
		// --fit off: llama-server would otherwise re-plan from the free
		// memory the servers report, their whole machine's (hosts.go).
		a = append(a, "--rpc", rpc, "--fit", "off")
	}
	a = append(a, "-c", strconv.Itoa(s.NCtx), "-b", strconv.Itoa(s.NBatch), "-ub", strconv.Itoa(s.NUbatch),
		"-np", strconv.Itoa(max(s.NParallel, 1)), "-t", strconv.Itoa(s.Threads), "-ngl", strconv.Itoa(s.NGPULayers),
		"-fa", onOff(s.FlashAttn), "-ctk", s.CacheTypeK, "-ctv", s.CacheTypeV)
	if len(s.TensorSplit) > 0 {
		parts := make([]string, len(s.TensorSplit))
		for i, v := range s.TensorSplit {
			parts[i] = strconv.FormatFloat(v, 'f', -1, 64)
		}
		a = append(a, "-ts", strings.Join(parts, ","))
	}
	for _, o := range s.Overrides {
		a = append(a, "-ot", o.Pattern+"="+o.Device)
	}
	if s.NoKVOffload {
		a = append(a, "-nkvo")
	}
	switch style {
	case ArgsLoadMode:
		// --load-mode mlock reads the weights without mmap and locks them;
		// mmap+mlock locks the mapping (common/arg.cpp, PR 20834).
		mode := "mmap"
		switch {
		case s.MLock && s.MMap:
			mode = "mmap+mlock"
		case s.MLock:
			mode = "mlock"
		case !s.MMap:
			mode = "none"
		}
		a = append(a, "--load-mode", mode)
	default:
		if !s.MMap {
			a = append(a, "--no-mmap")
		}
		if s.MLock {
			a = append(a, "--mlock")
		}
	}
	if s.NoRepack {
		a = append(a, "--no-repack")
	}
	return a
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
