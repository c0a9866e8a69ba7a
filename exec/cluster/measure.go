package cluster

import (
	"errors"
	"fmt"
	"os"
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
	OOMKilled          bool   `json:"oom_killed,omitempty"`
}

// Measure reads every server's memory now.
func (c *Cluster) Measure() ([]HostMeasure, error) {
	var out []HostMeasure
	for _, s := range c.Servers {
		m := HostMeasure{Name: s.Host.Name, PredictedBytes: s.Host.RAMBytes, PredictedPeakBytes: s.Host.RAMPeakBytes,
			PredictedLowBytes: s.Host.RAMLowBytes, PredictedHighBytes: s.Host.RAMHighBytes}
		var err error
		if m.RSSBytes, m.PeakRSSBytes, err = procRSS(s.Pid()); err != nil {
			return nil, err
		}
		if s.Cgroup != nil {
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
	in("peak RSS", m.PeakRSSBytes)
	if m.Cgroup != nil {
		in("cgroup peak", m.Cgroup.PeakBytes)
	}
	if m.OOMKilled {
		errs = append(errs, fmt.Errorf("cluster: %s: the kernel killed the server for its memory", m.Name))
	}
	return errors.Join(errs...)
}
