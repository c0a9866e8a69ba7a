package cluster

import (
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/modelfit/modelfit/planner"
)

// HostMeasure is one host's measured memory next to the plan's.
type HostMeasure struct {
	Name string `json:"name"`
	// RSSBytes and PeakRSSBytes are the process's VmRSS and VmHWM.
	RSSBytes     uint64 `json:"rss_bytes"`
	PeakRSSBytes uint64 `json:"peak_rss_bytes"`
	// Cgroup is the server's cgroup, when it has one.
	Cgroup *Memory `json:"cgroup,omitempty"`
	// PredictedBytes and PredictedPeakBytes are the plan's RAM figures.
	PredictedBytes     uint64 `json:"predicted_bytes"`
	PredictedPeakBytes uint64 `json:"predicted_peak_bytes"`
	PredictedLowBytes  uint64 `json:"predicted_low_bytes"`
	PredictedHighBytes uint64 `json:"predicted_high_bytes"`
	// Buffers are what llama-server reported allocating on the host's
	// devices, Planned the plan's figures for them.
	Buffers Buffers `json:"buffers"`
	Planned Buffers `json:"planned_buffers"`
	// PlannedComputeLowBytes and PlannedComputeHighBytes bound the
	// compute buffers.
	PlannedComputeLowBytes  uint64 `json:"planned_compute_low_bytes"`
	PlannedComputeHighBytes uint64 `json:"planned_compute_high_bytes"`
	// LimitBytes is the cgroup's limit (the host's RAM); Exited says the
	// server is gone, OOMKilled that the kernel killed it for its memory.
	LimitBytes uint64 `json:"limit_bytes,omitempty"`
	// Cache says the server keeps a tensor cache (-c).
	Cache     bool `json:"cache,omitempty"`
	Exited    bool `json:"exited,omitempty"`
	OOMKilled bool `json:"oom_killed,omitempty"`
}

// Measure reads every server's memory now, and the buffers llama-server
// reported for its devices.
func (c *Cluster) Measure() ([]HostMeasure, error) {
	var out []HostMeasure
	logged := parseBuffers(c.Head.log.Head())
	for _, s := range c.Servers {
		m := HostMeasure{Name: s.Host.Name, PredictedBytes: s.Host.RAMBytes, PredictedPeakBytes: s.Host.RAMPeakBytes,
			PredictedLowBytes: s.Host.RAMLowBytes, PredictedHighBytes: s.Host.RAMHighBytes, Buffers: logged[s.Host.Address],
			Cache: s.Host.CacheDiskBytes > 0}
		for _, d := range s.Host.Devices {
			if d.Layers == 0 {
				continue
			}
			pd := c.plan.Devices[d.Device]
			m.Planned.ModelBytes += pd.WeightsBytes
			m.Planned.KVBytes += pd.KVBytes
			m.Planned.ComputeBytes += pd.ComputeBytes
			m.PlannedComputeLowBytes += pd.ComputeLowBytes
			m.PlannedComputeHighBytes += pd.ComputeHighBytes
		}
		var err error
		if m.RSSBytes, m.PeakRSSBytes, err = procRSS(s.Pid()); err != nil && !s.exited() {
			return nil, err
		}
		m.Exited = s.exited()
		if s.Cgroup != nil {
			m.LimitBytes = s.Cgroup.Limit
			cm, err := s.Cgroup.Memory()
			if err != nil {
				return nil, err
			}
			m.Cgroup = &cm
			m.OOMKilled = s.Cgroup.OOMKilled()
		}
		out = append(out, m)
	}
	return out, nil
}

// procRSS reads VmRSS and VmHWM of a process.
func procRSS(pid int) (rss, hwm uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("cluster: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseUint(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = v << 10
		case "VmHWM:":
			hwm = v << 10
		}
	}
	return rss, hwm, nil
}

// Plan returns the plan the cluster runs.
func (c *Cluster) Plan() *planner.Plan { return c.plan }

// Check reports whether the measurement is within the plan's bounds
// (PlanHost.RAMLowBytes to RAMHighBytes): the peak RSS, and the cgroup's
// peak when there is one.
func (m HostMeasure) Check() error {
	var errs []error
	in := func(what string, v uint64) {
		if v < m.PredictedLowBytes || v > m.PredictedHighBytes {
			errs = append(errs, fmt.Errorf("cluster: %s: %s %.1f MiB outside the plan's %.1f–%.1f MiB", m.Name, what,
				float64(v)/(1<<20), float64(m.PredictedLowBytes)/(1<<20), float64(m.PredictedHighBytes)/(1<<20)))
		}
	}
	if m.Exited {
		errs = append(errs, fmt.Errorf("cluster: %s: the server exited", m.Name))
	} else {
		in("peak RSS", m.PeakRSSBytes)
	}
	// The log rounds to 0.01 MiB.
	exact := func(what string, got, want uint64) {
		if math.Abs(float64(got)-float64(want)) > 0.006*(1<<20) {
			errs = append(errs, fmt.Errorf("cluster: %s: llama-server's %s buffers %.2f MiB, the plan's %.2f MiB", m.Name, what, float64(got)/(1<<20), float64(want)/(1<<20)))
		}
	}
	exact("model", m.Buffers.ModelBytes, m.Planned.ModelBytes)
	exact("KV", m.Buffers.KVBytes, m.Planned.KVBytes)
	if c := m.Buffers.ComputeBytes; c < m.PlannedComputeLowBytes || c > m.PlannedComputeHighBytes {
		errs = append(errs, fmt.Errorf("cluster: %s: llama-server's compute buffers %.2f MiB outside the plan's %.2f–%.2f MiB", m.Name,
			float64(c)/(1<<20), float64(m.PlannedComputeLowBytes)/(1<<20), float64(m.PlannedComputeHighBytes)/(1<<20)))
	}
	switch {
	case m.Cgroup != nil && m.Cache:
		// The tensor cache's files are page cache charged to the cgroup
		// (reclaimable): only its anonymous memory is the plan's.
		in("cgroup anonymous memory", m.Cgroup.AnonBytes)
	case m.Cgroup != nil:
		in("cgroup peak", m.Cgroup.PeakBytes)
	}
	if m.OOMKilled {
		errs = append(errs, fmt.Errorf("cluster: %s: the kernel killed the server for its memory", m.Name))
	}
	return errors.Join(errs...)
}

// Buffers is what llama-server reported allocating on one RPC device.
type Buffers struct {
	ModelBytes   uint64 `json:"model_bytes"`
	KVBytes      uint64 `json:"kv_bytes"`
	ComputeBytes uint64 `json:"compute_bytes"`
}

// bufferLine is llama.cpp's report of a buffer: "RPC0[127.0.0.1:50021]
// model buffer size =   431.48 MiB" (load_tensors, llama_kv_cache,
// sched_reserve).
var bufferLine = regexp.MustCompile(`(RPC\d+)\[([^\]]+)\] (model|KV|compute) buffer size =\s+([0-9.]+) MiB`)

// parseBuffers reads llama-server's buffer reports per server address
// (each server numbers its devices RPC0, RPC1, …; sums over them). The
// last report of each buffer counts: llama-server may reserve twice.
func parseBuffers(log string) map[string]Buffers {
	type key struct{ addr, dev, kind string }
	last := map[key]uint64{}
	for _, m := range bufferLine.FindAllStringSubmatch(log, -1) {
		mib, err := strconv.ParseFloat(m[4], 64)
		if err != nil {
			continue
		}
		last[key{m[2], m[1], m[3]}] = uint64(mib * (1 << 20))
	}
	out := map[string]Buffers{}
	for k, v := range last {
		b := out[k.addr]
		switch k.kind {
		case "model":
			b.ModelBytes += v
		case "KV":
			b.KVBytes += v
		case "compute":
			b.ComputeBytes += v
		}
		out[k.addr] = b
	}
	return out
}
