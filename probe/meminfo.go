package probe

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// readMemory fills host memory from /proc/meminfo. gopsutil's mem package
// reads the same file but folds SReclaimable into Cached and hides the
// active/inactive file split the planner needs, so the file is read directly.
func readMemory(o *Options, m *Memory) error {
	path := o.path("/proc/meminfo")
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	kv, err := parseMeminfo(data)
	if err != nil {
		return fmt.Errorf("probe: %s: %w", path, err)
	}
	if kv["MemTotal"] == 0 {
		return fmt.Errorf("probe: %s: no MemTotal", path)
	}
	m.TotalBytes = kv["MemTotal"]
	m.FreeBytes = kv["MemFree"]
	m.AvailableBytes = kv["MemAvailable"]
	if _, ok := kv["MemAvailable"]; !ok {
		// Kernels before 3.14: free + reclaimable file cache is the estimate.
		m.AvailableBytes = kv["MemFree"] + kv["Active(file)"] + kv["Inactive(file)"] + kv["SReclaimable"]
	}
	m.PageCacheBytes = kv["Cached"]
	m.BuffersBytes = kv["Buffers"]
	m.ActiveFile = kv["Active(file)"]
	m.InactiveFile = kv["Inactive(file)"]
	m.SReclaimable = kv["SReclaimable"]
	m.ShmemBytes = kv["Shmem"]
	m.SwapTotalBytes = kv["SwapTotal"]
	m.SwapFreeBytes = kv["SwapFree"]
	m.HugePagesTotal = kv["HugePages_Total"]
	m.HugePagesFree = kv["HugePages_Free"]
	m.HugePageBytes = kv["Hugepagesize"]
	m.EffectiveAvailableBytes = m.AvailableBytes
	m.LimitSource = "meminfo"
	return nil
}

// parseMeminfo returns each field in bytes ("kB" values scaled; counts such
// as HugePages_Total as they are).
func parseMeminfo(data []byte) (map[string]uint64, error) {
	kv := make(map[string]uint64, 64)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Bytes()
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		fields := bytes.Fields(line[colon+1:])
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseUint(string(fields[0]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", line[:colon], err)
		}
		if len(fields) > 1 && string(fields[1]) == "kB" {
			v *= 1024
		}
		kv[string(line[:colon])] = v
	}
	return kv, sc.Err()
}
