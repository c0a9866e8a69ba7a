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
	// arm64 reports "Features"
	"asimd": "neon", "sve": "sve", "sve2": "sve2", "asimddp": "dotprod", "i8mm": "i8mm",
}

// readCPU reads /proc/cpuinfo and the cgroup CPU quota. Physical cores are
// distinct (physical id, core id) pairs; hyperthreads share one.
func readCPU(o *Options, cg cgroupDirs) CPU {
	c := CPU{Arch: goarch, Features: []string{}}
	data, _ := os.ReadFile(o.path("/proc/cpuinfo"))
	cores := map[[2]string]bool{}
	var phys, core string
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
