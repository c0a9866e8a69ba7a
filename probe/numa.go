package probe

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// readNUMA lists /sys/devices/system/node/node*: memory from each node's
// meminfo ("Node 0 MemTotal: … kB") and CPUs from its cpulist.
func readNUMA(o *Options) []NUMANode {
	dirs, _ := filepath.Glob(o.path("/sys/devices/system/node/node[0-9]*"))
	var nodes []NUMANode
	for _, d := range dirs {
		id, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), "node"))
		if err != nil {
			continue
		}
		n := NUMANode{ID: id, CPUs: parseCPUList(readString(filepath.Join(d, "cpulist")))}
		data, _ := os.ReadFile(filepath.Join(d, "meminfo"))
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) < 4 {
				continue
			}
			v, err := strconv.ParseUint(f[3], 10, 64)
			if err != nil {
				continue
			}
			if len(f) > 4 && f[4] == "kB" {
				v *= 1024
			}
			switch f[2] {
			case "MemTotal:":
				n.TotalBytes = v
			case "MemFree:":
				n.FreeBytes = v
			}
		}
		nodes = append(nodes, n)
	}
	sort.Slice(nodes, func(a, b int) bool { return nodes[a].ID < nodes[b].ID })
	return nodes
}

// parseCPUList parses "0-3,8,10-11".
func parseCPUList(s string) []int {
	var cpus []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b-a > 1<<16 {
				continue
			}
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus
}
