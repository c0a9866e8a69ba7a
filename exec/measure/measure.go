// Package measure reads what a running process holds: its resident memory
// by kind (/proc/PID/status), the resident part of the files it maps
// (/proc/PID/smaps), its page faults, and, through NVML, the GPU memory it
// has on each GPU.
package measure

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrNotSupported is matched where this OS has no /proc or no NVML.
var ErrNotSupported = errors.New("measure: not supported here")

// Memory is a process's memory at one moment, in bytes.
type Memory struct {
	PID int `json:"pid"`
	// RSS by kind, as the kernel counts it (/proc/PID/status): anonymous
	// memory (heap, ggml's buffers), file-backed pages (the mapped model,
	// the binary and its libraries), and shared memory.
	RSSAnon  uint64 `json:"rss_anon_bytes"`
	RSSFile  uint64 `json:"rss_file_bytes"`
	RSSShmem uint64 `json:"rss_shmem_bytes"`
	RSS      uint64 `json:"rss_bytes"`      // VmRSS: the three together
	PeakRSS  uint64 `json:"peak_rss_bytes"` // VmHWM: the highest RSS so far
	Swap     uint64 `json:"swap_bytes"`     // VmSwap
	// Files is the resident part of each file asked for, summed over the
	// process's mappings of it (smaps Rss): the pages of a mapped model the
	// process has touched and that are still in RAM.
	Files       map[string]uint64 `json:"files,omitempty"`
	MajorFaults uint64            `json:"major_faults"` // page faults that read from disk, since the start
	MinorFaults uint64            `json:"minor_faults"`
}

// Sampler reads a process's memory at an interval and keeps the highest
// value of each figure: RssAnon peaks while a prompt runs and the compute
// buffers are touched, and Linux keeps only the peak of the total (VmHWM).
type Sampler struct {
	pid   int
	files []string
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	peak  Memory
	last  Memory
	n     int
	err   error
}

// Sample starts sampling pid every interval (0 = 20 ms) until Stop.
func Sample(ctx context.Context, pid int, interval time.Duration, files ...string) *Sampler {
	if interval <= 0 {
		interval = 20 * time.Millisecond
	}
	s := &Sampler{pid: pid, files: files, stop: make(chan struct{}), done: make(chan struct{})}
	s.take()
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.stop:
				return
			case <-t.C:
				s.take()
			}
		}
	}()
	return s
}

func (s *Sampler) take() {
	m, err := Process(s.pid, s.files...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.err == nil {
			s.err = err
		}
		return
	}
	s.n++
	s.last = m
	p := &s.peak
	p.PID = m.PID
	for _, f := range []struct {
		dst *uint64
		v   uint64
	}{
		{&p.RSSAnon, m.RSSAnon}, {&p.RSSFile, m.RSSFile}, {&p.RSSShmem, m.RSSShmem}, {&p.RSS, m.RSS},
		{&p.PeakRSS, m.PeakRSS}, {&p.Swap, m.Swap}, {&p.MajorFaults, m.MajorFaults}, {&p.MinorFaults, m.MinorFaults},
	} {
		*f.dst = max(*f.dst, f.v)
	}
	if len(m.Files) > 0 && p.Files == nil {
		p.Files = map[string]uint64{}
	}
	for k, v := range m.Files {
		p.Files[k] = max(p.Files[k], v)
	}
}

// Stop takes a last sample and returns the peak of every figure and the
// last sample. The error is the first failed read when no read succeeded.
func (s *Sampler) Stop() (peak, last Memory, err error) {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	s.take()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		return Memory{}, Memory{}, s.err
	}
	return s.peak, s.last, nil
}
