package planner

import (
	"fmt"
	"strings"
)

// NoFitError says exactly why a model does not fit: what each device would
// need against what it has, and the nearest configuration that would work.
type NoFitError struct {
	Devices []DeviceShortfall `json:"devices"`
	Reason  string            `json:"reason"`
	// Nearest is a configuration that would fit, in words ("fits with mmap"),
	// with its settings; empty when none was found.
	Nearest         string    `json:"nearest,omitempty"`
	NearestSettings *Settings `json:"nearest_settings,omitempty"`
}

// DeviceShortfall is one device's need (total plus margin) against what it has.
type DeviceShortfall struct {
	Name           string `json:"name"`
	NeedBytes      uint64 `json:"need_bytes"`
	AvailableBytes uint64 `json:"available_bytes"`
	ShortBytes     uint64 `json:"short_bytes"` // 0 when this device fits
}

func (e *NoFitError) Error() string {
	var sb strings.Builder
	sb.WriteString("planner: does not fit: ")
	sb.WriteString(e.Reason)
	if e.Nearest != "" {
		sb.WriteString("; ")
		sb.WriteString(e.Nearest)
	}
	return sb.String()
}

// noFit explains the failed attempt a and searches the nearest plan that
// would fit by relaxing what the user pinned or forbade.
func noFit(m *model, mc *machine, a *attempt, req Request) *NoFitError {
	e := &NoFitError{}
	for d, dm := range a.b.Devices {
		need := dm.TotalBytes + a.margin[d]
		ds := DeviceShortfall{Name: dm.Name, NeedBytes: need, AvailableBytes: a.avail[d]}
		if need > a.avail[d] {
			ds.ShortBytes = need - a.avail[d]
		}
		e.Devices = append(e.Devices, ds)
	}
	fail := e.Devices[max(a.failDev, 0)]
	cpu := a.b.Devices[0]
	switch {
	case a.failWhy != "":
		e.Reason = a.failWhy
	case a.failDev == 0 && cpu.RepackBytes > 0 && !a.s.NoRepack:
		e.Reason = fmt.Sprintf("unable to allocate the CPU_REPACK buffer: the host needs %s (of which %s repacked weights) with a %s margin, %s available",
			human(fail.NeedBytes), human(cpu.RepackBytes), human(a.margin[0]), human(fail.AvailableBytes))
	case a.failDev == 0 && !a.s.MMap:
		e.Reason = fmt.Sprintf("unable to allocate the CPU buffer: without mmap the host needs %s (%s of weights) with a %s margin, %s available — short by %s",
			human(fail.NeedBytes), human(cpu.AnonWeightsBytes), human(a.margin[0]), human(fail.AvailableBytes), human(fail.ShortBytes))
	default:
		e.Reason = fmt.Sprintf("%s needs %s (weights %s, KV %s, compute %s, overhead %s, margin %s), %s available — short by %s",
			fail.Name, human(fail.NeedBytes), human(a.b.Devices[max(a.failDev, 0)].AnonWeightsBytes+a.b.Devices[max(a.failDev, 0)].RepackBytes),
			human(a.b.Devices[max(a.failDev, 0)].KVBytes), human(a.b.Devices[max(a.failDev, 0)].ComputeBytes),
			human(a.b.Devices[max(a.failDev, 0)].OverheadBytes), human(a.margin[max(a.failDev, 0)]), human(fail.AvailableBytes), human(fail.ShortBytes))
	}
	// Relax one pinned or forbidden choice at a time.
	type alt struct {
		what string
		mod  func(r *Request)
	}
	alts := []alt{
		{"fits with mmap (drop --no-mmap)", func(r *Request) { r.Pinned.MMap = false; r.Settings.MMap = true }},
		{"fits without --mlock", func(r *Request) { r.Pinned.MLock = false; r.Settings.MLock = false }},
		{"fits with --no-repack", func(r *Request) { r.Pinned.NoRepack = true; r.Settings.NoRepack = true }},
		{"fits when the planner may choose n_gpu_layers", func(r *Request) { r.Pinned.NGPULayers = false }},
		{"fits with a shorter context or a quantized KV cache", func(r *Request) {
			r.Pinned.NCtx, r.Pinned.CacheTypeK, r.Pinned.CacheTypeV = false, false, false
			r.AllowShrinkContext, r.AllowQuantizedKV, r.MinCtx = true, true, 256
		}},
	}
	for _, al := range alts {
		r := req
		r.Settings = a.s
		al.mod(&r)
		if sameRequest(r, req, a.s) {
			continue
		}
		s := initialSettingsQuiet(m, mc, r)
		if try, err := searchQuiet(m, mc, s, r); err == nil && try != nil && try.fits {
			ns := try.s
			e.NearestSettings = &ns
			e.Nearest = fmt.Sprintf("%s: n_ctx %d, n_gpu_layers %d, KV %s, mmap %v, host needs %s of %s",
				al.what, ns.NCtx, ns.NGPULayers, ns.CacheTypeK, ns.MMap, human(try.b.Devices[0].TotalBytes+try.margin[0]), human(try.avail[0]))
			if !a.s.MMap && ns.MMap {
				e.Nearest = fmt.Sprintf("fits with mmap; no-mmap needs %s RAM, %s available", human(fail.NeedBytes), human(fail.AvailableBytes))
			}
			break
		}
	}
	return e
}

func sameRequest(r, req Request, s Settings) bool {
	return r.Pinned == req.Pinned && r.AllowShrinkContext == req.AllowShrinkContext && r.AllowQuantizedKV == req.AllowQuantizedKV &&
		r.Settings.MMap == s.MMap && r.Settings.MLock == s.MLock && r.Settings.NoRepack == s.NoRepack
}

// initialSettingsQuiet is initialSettings without a why-trail.
func initialSettingsQuiet(m *model, mc *machine, r Request) Settings {
	return initialSettings(m, mc, r, &Plan{})
}

// searchQuiet runs the fallback search and returns the first fitting attempt.
func searchQuiet(m *model, mc *machine, s Settings, req Request) (*attempt, error) {
	for _, kv := range kvChoices(s, req) {
		for _, c := range ctxChoices(s, req) {
			for _, ub := range ubChoices(s, req) {
				t := s
				t.NUbatch, t.NCtx = ub, c
				t.NBatch = max(t.NBatch, ub)
				if kv != s.CacheTypeK {
					t.CacheTypeK, t.CacheTypeV, t.FlashAttn = kv, kv, true
				}
				a, err := place(m, mc, t, req)
				if err != nil {
					return nil, err
				}
				if a.fits {
					return a, nil
				}
			}
		}
	}
	return nil, nil
}
