package probe

import (
	"encoding/binary"
	"fmt"
)

// This file decodes Windows' memory structures, free of build tags so that
// the tests check it on any OS against captured bytes
// (testdata/probe/windows).

// perfInfoSize is sizeof(PERFORMANCE_INFORMATION) on 64-bit Windows: a
// DWORD cb padded to 8, ten SIZE_T counts, three DWORDs, padded to 8.
const perfInfoSize = 104

// windowsPerf is psapi's PERFORMANCE_INFORMATION (GetPerformanceInfo), in
// bytes: the commit charge and limit (RAM plus page files) and the system
// file cache.
type windowsPerf struct {
	CommitTotal, CommitLimit, PhysicalTotal, PhysicalAvailable, SystemCache uint64
}

// decodePerfInfo decodes a 64-bit PERFORMANCE_INFORMATION; counts are in
// pages of its PageSize field.
func decodePerfInfo(b []byte) (windowsPerf, error) {
	if len(b) < perfInfoSize {
		return windowsPerf{}, fmt.Errorf("probe: PERFORMANCE_INFORMATION: %d bytes, want %d", len(b), perfInfoSize)
	}
	le := binary.LittleEndian
	if cb := le.Uint32(b); cb != perfInfoSize {
		return windowsPerf{}, fmt.Errorf("probe: PERFORMANCE_INFORMATION: cb %d, want %d (64-bit layout)", cb, perfInfoSize)
	}
	field := func(i int) uint64 { return le.Uint64(b[8+8*i:]) }
	page := field(9)
	if page == 0 || page&(page-1) != 0 {
		return windowsPerf{}, fmt.Errorf("probe: PERFORMANCE_INFORMATION: page size %d", page)
	}
	return windowsPerf{
		CommitTotal: field(0) * page, CommitLimit: field(1) * page,
		PhysicalTotal: field(3) * page, PhysicalAvailable: field(4) * page, SystemCache: field(5) * page,
	}, nil
}

// fill sets m from the performance information. Windows backs every
// anonymous allocation with commit charge, so a model's buffers (all its
// weights without mmap) must fit under the commit limit as well as in RAM:
// the effective available memory is the smaller of the two headrooms.
// Mapped model files are not charged.
func (p windowsPerf) fill(m *Memory) {
	if m.TotalBytes == 0 {
		m.TotalBytes = p.PhysicalTotal
	}
	if m.AvailableBytes == 0 {
		m.AvailableBytes = p.PhysicalAvailable
	}
	m.PageCacheBytes = p.SystemCache
	m.CommitLimitBytes, m.CommitTotalBytes = p.CommitLimit, p.CommitTotal
	m.EffectiveAvailableBytes, m.LimitSource = m.AvailableBytes, "GlobalMemoryStatusEx"
	if p.CommitLimit > 0 {
		head := p.CommitLimit - min(p.CommitTotal, p.CommitLimit)
		if head < m.EffectiveAvailableBytes {
			m.EffectiveAvailableBytes, m.LimitSource = head, "commit limit"
		}
	}
}
