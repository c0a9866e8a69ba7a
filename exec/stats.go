package exec

import "time"

// Stats are the measurements of a model's load and its last Generate.
type Stats struct {
	Load            time.Duration // Load, from opening to ready
	FirstToken      time.Duration // from the start of Generate's prefill to the first sampled token
	Prefill         time.Duration // prompt processing
	Decode          time.Duration // the generated tokens after the first, one forward pass each
	PromptTokens    int
	GeneratedTokens int
	PeakRSS         uint64 // bytes: the process's high-water resident set
	MajorFaults     int64  // page faults that read from disk during the last Generate
	MinorFaults     int64  // page faults served from memory during the last Generate
}

// PrefillTokensPerSec is the prompt processing speed.
func (s Stats) PrefillTokensPerSec() float64 { return rate(s.PromptTokens, s.Prefill) }

// DecodeTokensPerSec is the generation speed over the tokens after the first
// (each of them needed one forward pass).
func (s Stats) DecodeTokensPerSec() float64 { return rate(s.GeneratedTokens-1, s.Decode) }

func rate(n int, d time.Duration) float64 {
	if n <= 0 || d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Stats returns the measurements so far.
func (m *Model) Stats() Stats { return m.stats }

func (s *Stats) usage(before, after usage) {
	s.PeakRSS = after.maxRSS
	s.MajorFaults = after.major - before.major
	s.MinorFaults = after.minor - before.minor
}

// usage is the process's resource counters.
type usage struct {
	maxRSS       uint64
	major, minor int64
}
