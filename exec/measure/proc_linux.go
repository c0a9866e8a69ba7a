package measure

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Process reads pid's memory now; files are paths whose resident mapped
// part to report (compared after resolving symbolic links).
func Process(pid int, files ...string) (Memory, error) {
	m := Memory{PID: pid}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, fmt.Errorf("measure: %w", err)
	}
	parseStatus(status, &m)
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		m.MinorFaults, m.MajorFaults = parseFaults(stat)
	}
	if len(files) == 0 {
		return m, nil
	}
	want := map[string]string{} // resolved path → the caller's
	for _, f := range files {
		r := f
		if abs, err := filepath.Abs(f); err == nil {
			r = abs
		}
		if ev, err := filepath.EvalSymlinks(r); err == nil {
			r = ev
		}
		want[r] = f
	}
	smaps, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return m, fmt.Errorf("measure: %w", err)
	}
	m.Files = parseSmaps(smaps, want)
	return m, nil
}

// parseStatus reads the kB figures of /proc/PID/status.
func parseStatus(b []byte, m *Memory) {
	fields := map[string]*uint64{"RssAnon:": &m.RSSAnon, "RssFile:": &m.RSSFile, "RssShmem:": &m.RSSShmem,
		"VmRSS:": &m.RSS, "VmHWM:": &m.PeakRSS, "VmSwap:": &m.Swap}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		if dst, ok := fields[f[0]]; ok {
			v, err := strconv.ParseUint(f[1], 10, 64)
			if err == nil {
				*dst = v << 10
			}
		}
	}
}

// parseFaults reads minflt and majflt (fields 10 and 12) of /proc/PID/stat,
// after the command name, which may hold spaces and parentheses.
func parseFaults(b []byte) (minor, major uint64) {
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 10 {
		return 0, 0
	}
	minor, _ = strconv.ParseUint(f[7], 10, 64)
	major, _ = strconv.ParseUint(f[9], 10, 64)
	return minor, major
}

// parseSmaps sums the Rss of the mappings of each wanted file (keyed by the
// resolved path; the result is keyed by the caller's path).
func parseSmaps(b []byte, want map[string]string) map[string]uint64 {
	out := make(map[string]uint64, len(want))
	for _, f := range want {
		out[f] = 0
	}
	cur := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if isMappingHeader(f[0]) {
			cur = ""
			if len(f) >= 6 {
				// The path is the rest of the line (it may hold spaces).
				idx := strings.Index(line, f[5])
				if name, ok := want[strings.TrimSuffix(line[idx:], " (deleted)")]; ok {
					cur = name
				}
			}
			continue
		}
		if cur != "" && f[0] == "Rss:" && len(f) >= 2 {
			v, _ := strconv.ParseUint(f[1], 10, 64)
			out[cur] += v << 10
		}
	}
	return out
}

// isMappingHeader reports whether tok is an address range "start-end".
func isMappingHeader(tok string) bool {
	a, b, ok := strings.Cut(tok, "-")
	if !ok || a == "" || b == "" {
		return false
	}
	for _, c := range a + b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
