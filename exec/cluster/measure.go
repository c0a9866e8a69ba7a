package cluster

import (
	"errors"
	"fmt"
	"math"
	"regexp"

	"github.com/modelfit/modelfit/exec/launch"
	"github.com/modelfit/modelfit/exec/llamaserver"
	"github.com/modelfit/modelfit/exec/measure"
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

// Memory is what a server's cgroup reports: its usage now, the most it
// used, and of that the anonymous memory and the page cache.
type Memory struct {
	CurrentBytes uint64 `json:"current_bytes"`
	PeakBytes    uint64 `json:"peak_bytes"`
	AnonBytes    uint64 `json:"anon_bytes"`
	FileBytes    uint64 `json:"file_bytes"`
}

// cgroupMemory reads a cgroup's counters: usage and peak (where the kernel
// keeps no peak, cgroup v2 before Linux 5.19, the usage now stands in), and
// from memory.stat the anonymous memory and page cache: v2 "anon" and
// "file"; v1 "rss" (which includes transparent huge pages, rss_huge being
// only their part: Documentation/admin-guide/cgroup-v1/memory.rst 5.2) and
// "cache".
func cgroupMemory(g *launch.Cgroup) (Memory, error) {
	var m Memory
	var err error
	if m.CurrentBytes, err = g.Usage(); err != nil {
		return m, fmt.Errorf("cluster: cgroup %s: %w", g.Dir, err)
	}
	if m.PeakBytes, _ = g.Peak(); m.PeakBytes == 0 {
		m.PeakBytes = m.CurrentBytes
	}
	stat, err := g.Stat()
	if err != nil {
		return m, fmt.Errorf("cluster: cgroup %s: %w", g.Dir, err)
	}
	if g.Version == 1 {
		m.AnonBytes, m.FileBytes = stat["rss"], stat["cache"]
	} else {
		m.AnonBytes, m.FileBytes = stat["anon"], stat["file"]
	}
	return m, nil
}

// Measure reads every server's memory now, and the buffers llama-server
// reported for its devices.
func (c *Cluster) Measure() ([]HostMeasure, error) {
	var out []HostMeasure
	logged := hostBuffers(c.Head.Buffers())
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
		select {
		case <-s.Process.Done():
			m.Exited = true
			var exit *launch.ExitError
			m.OOMKilled = errors.As(s.Process.Wait(), &exit) && exit.OOMKilled
		default:
			pm, err := measure.Process(s.Process.PID())
			if err != nil {
				return nil, fmt.Errorf("cluster: %s: %w", s.Host.Name, err)
			}
			m.RSSBytes, m.PeakRSSBytes = pm.RSS, pm.PeakRSS
		}
		if s.Cgroup != nil {
			if l, ok, _ := s.Cgroup.Limit(); ok {
				m.LimitBytes = l
			}
			cm, err := cgroupMemory(s.Cgroup)
			if err != nil {
				return nil, err
			}
			m.Cgroup = &cm
			if n, err := s.Cgroup.OOMKills(); err == nil && n > 0 {
				m.OOMKilled = true
			}
		}
		out = append(out, m)
	}
	return out, nil
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

// device is llama.cpp's name of an RPC device in its buffer reports:
// "RPC0[127.0.0.1:50021]" (ggml-rpc.cpp names each server's devices RPC0,
// RPC1, … after its address).
var device = regexp.MustCompile(`^RPC\d+\[([^\]]+)\]$`)

// hostBuffers sums llama-server's buffer reports per server address.
func hostBuffers(b llamaserver.Buffers) map[string]Buffers {
	out := map[string]Buffers{}
	add := func(m map[string]float64, field func(*Buffers) *uint64) {
		for name, mib := range m {
			d := device.FindStringSubmatch(name)
			if d == nil {
				continue
			}
			hb := out[d[1]]
			*field(&hb) += uint64(mib * llamaserver.MiB)
			out[d[1]] = hb
		}
	}
	add(b.Model, func(h *Buffers) *uint64 { return &h.ModelBytes })
	add(b.KV, func(h *Buffers) *uint64 { return &h.KVBytes })
	add(b.Compute, func(h *Buffers) *uint64 { return &h.ComputeBytes })
	return out
}
