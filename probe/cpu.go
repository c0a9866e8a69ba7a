package probe

import (
	"os"
	"slices"
	"strings"
)

// featureNames maps /proc/cpuinfo flags to the names the planner uses.
var featureNames = map[string]string{
	"avx2": "avx2", "avx512f": "avx512f", "avx512bw": "avx512bw", "avx512_vnni": "avx512_vnni",
	"avx512_bf16": "avx512_bf16", "avx_vnni": "avx_vnni", "f16c": "f16c", "fma": "fma", "amx_int8": "amx_int8",
	// arm64 reports "Features"; "sve256" is added for a 256-bit SVE
	// vector length (see readCPU)
	"asimd": "neon", "sve": "sve", "sve2": "sve2", "asimddp": "dotprod", "i8mm": "i8mm",
}

// readCPU reads /proc/cpuinfo and the cgroup CPU quota. Physical cores are
// distinct (physical id, core id) pairs; hyperthreads share one.
func readCPU(o *Options, cg cgroupDirs) CPU {
	c := CPU{Arch: goarch, Features: []string{}}
	data, _ := os.ReadFile(o.path("/proc/cpuinfo"))
	cores := map[[2]string]bool{}
	var phys, core, implementer string
	feats := map[string]bool{}
	flush := func() {
		if phys != "" || core != "" {
			cores[[2]string{phys, core}] = true
		}
		phys, core = "", ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			if strings.TrimSpace(line) == "" {
				flush()
			}
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "processor":
			c.LogicalCores++
		case "model name", "Hardware", "CPU part":
			if c.Model == "" || k == "model name" {
				c.Model = v
			}
			if k == "CPU part" && c.Model == v {
				if name, ok := armParts[implementer+"/"+v]; ok {
					c.Model = name
				}
			}
		case "CPU implementer":
			implementer = v
		case "physical id":
			phys = v
		case "core id":
			core = v
		case "flags", "Features":
			for _, f := range strings.Fields(v) {
				if n, ok := featureNames[f]; ok {
					feats[n] = true
				}
			}
		}
	}
	flush()
	c.PhysicalCores = len(cores)
	if c.PhysicalCores == 0 {
		c.PhysicalCores = c.LogicalCores // arm64 and VMs often omit core ids
	}
	if feats["sve"] {
		// The kernel's default SVE vector length in bytes: llama.cpp
		// repacks Q4_0 for 256-bit SVE (ggml_cpu_get_sve_cnt() == 32).
		if n, ok := readUint(o.path("/proc/sys/abi/sve_default_vector_length")); ok && n > 0 && n <= 256 {
			c.SVEVectorBits = int(n) * 8
			if c.SVEVectorBits == 256 {
				feats["sve256"] = true
			}
		}
	}
	for f := range feats {
		c.Features = append(c.Features, f)
	}
	slices.Sort(c.Features)
	c.UsableCores = float64(c.LogicalCores)
	if n := affinityCount(o); n > 0 && float64(n) < c.UsableCores {
		c.UsableCores = float64(n)
		c.QuotaSource = "affinity"
	}
	if q, src := cgroupCPUQuota(cg); q > 0 && q < c.UsableCores {
		c.UsableCores = q
		c.QuotaSource = src
	}
	return c
}

// armParts names common arm64 cores by "CPU implementer/CPU part" as
// /proc/cpuinfo gives them (the kernel prints no model name on arm64).
var armParts = map[string]string{
	"0x41/0xd03": "Arm Cortex-A53", "0x41/0xd05": "Arm Cortex-A55", "0x41/0xd08": "Arm Cortex-A72",
	"0x41/0xd0b": "Arm Cortex-A76", "0x41/0xd0c": "Arm Neoverse N1", "0x41/0xd40": "Arm Neoverse V1",
	"0x41/0xd49": "Arm Neoverse N2", "0x41/0xd4f": "Arm Neoverse V2", "0x41/0xd8e": "Arm Neoverse N3",
	"0x41/0xd84": "Arm Neoverse V3", "0x41/0xd42": "Arm Cortex-A78AE", "0x41/0xd85": "Arm Cortex-X925",
	"0x41/0xd87": "Arm Cortex-A725", "0xc0/0xac3": "Ampere AmpereOne",
}
