// Package procgroup parses /proc/PID/cgroup: where a process sits in the
// cgroup v2 hierarchy and in each cgroup v1 controller's. The probe (its
// own limits) and exec/launch (its children's cgroups) both read it.
package procgroup

import "strings"

// Paths is one process's cgroup membership.
type Paths struct {
	// V2 is the path in the unified hierarchy (the "0::PATH" line);
	// HasV2 tells an empty root path from no such line.
	V2    string
	HasV2 bool
	// V1 maps each v1 controller ("memory", "cpu", …) to its path; a
	// line naming several controllers ("cpu,cpuacct") gives each one.
	V1 map[string]string
}

// Parse reads the contents of a /proc/PID/cgroup file (lines
// "ID:CONTROLLERS:PATH"); lines of another form are skipped.
func Parse(data []byte) Paths {
	p := Paths{V1: map[string]string{}}
	for line := range strings.Lines(string(data)) {
		parts := strings.SplitN(strings.TrimRight(line, "\r\n"), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			p.V2, p.HasV2 = parts[2], true
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c != "" {
				p.V1[c] = parts[2]
			}
		}
	}
	return p
}
