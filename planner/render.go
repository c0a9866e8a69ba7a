package planner

import (
	"fmt"
	"strconv"
	"strings"
)

// ArgsStyle selects how LlamaCppArgs spells the loading mode.
type ArgsStyle int

// Argument spellings of llama.cpp builds.
const (
	// ArgsClassic: --no-mmap / --mlock (llama.cpp through 2025, Ollama's runner).
	ArgsClassic ArgsStyle = iota
	// ArgsLoadMode: --load-mode none|mmap|mlock of newer llama.cpp builds.
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
		mode := "mmap"
		switch {
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

// OllamaOptions renders the plan as Ollama's request options. Ollama's
// llama runner uses num_batch as the physical batch (n_ubatch) and
// multiplies num_ctx by the number of parallel sequences, so the plan's
// n_ubatch and its per-sequence context are what it gets.
func (p *Plan) OllamaOptions() map[string]any {
	s := p.Settings
	return map[string]any{
		"num_gpu":    s.NGPULayers,
		"num_ctx":    s.NCtx / max(s.NParallel, 1),
		"num_batch":  s.NUbatch,
		"num_thread": s.Threads,
		"use_mmap":   s.MMap,
		"use_mlock":  s.MLock,
	}
}

// Modelfile renders the plan as Ollama Modelfile PARAMETER lines, with
// comments for what Ollama sets elsewhere or cannot express.
func (p *Plan) Modelfile() string {
	s := p.Settings
	o := p.OllamaOptions()
	var sb strings.Builder
	if p.Model.Path != "" {
		fmt.Fprintf(&sb, "FROM %s\n", p.Model.Path)
	}
	for _, k := range []string{"num_gpu", "num_ctx", "num_batch", "num_thread", "use_mmap", "use_mlock"} {
		fmt.Fprintf(&sb, "PARAMETER %s %v\n", k, o[k])
	}
	if s.NParallel > 1 {
		fmt.Fprintf(&sb, "# run the server with OLLAMA_NUM_PARALLEL=%d\n", s.NParallel)
	}
	if s.CacheTypeK != "f16" || s.CacheTypeV != "f16" {
		fmt.Fprintf(&sb, "# run the server with OLLAMA_FLASH_ATTENTION=1 OLLAMA_KV_CACHE_TYPE=%s (Ollama takes one type for K and V)\n", s.CacheTypeK)
	}
	if len(s.Overrides) > 0 || len(s.TensorSplit) > 0 || s.NoRepack {
		sb.WriteString("# Ollama has no equivalent of this plan's")
		if len(s.TensorSplit) > 0 {
			sb.WriteString(" -ts")
		}
		if len(s.Overrides) > 0 {
			sb.WriteString(" -ot")
		}
		if s.NoRepack {
			sb.WriteString(" --no-repack")
		}
		sb.WriteString(": its memory figures hold for llama.cpp only\n")
	}
	return sb.String()
}
