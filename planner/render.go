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

// LlamaCppArgs renders the plan as llama-server / llama-cli arguments: -m
// for a file, -mu for a URL (llama.cpp downloads it), and --n-cpu-moe k
// where the plan's expert override is exactly that flag's.
func (p *Plan) LlamaCppArgs(style ArgsStyle) []string {
	s := p.Settings
	var a []string
	switch path := p.Model.Path; {
	case strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://"):
		a = append(a, "-mu", path) // -m takes a path; -mu downloads
	case path != "":
		a = append(a, "-m", path)
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
	if p.cpuMoE > 0 {
		a = append(a, "--n-cpu-moe", strconv.Itoa(p.cpuMoE))
	} else {
		for _, o := range s.Overrides {
			a = append(a, "-ot", o.Pattern+"="+o.Device)
		}
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
