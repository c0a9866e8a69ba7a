package planner

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/modelfit/modelfit/internal/units"
)

// ErrInvalidRequest is wrapped by the errors of Make and Estimate for
// settings no runtime takes (a negative context, a bad override pattern):
// the caller's mistake, not the model's or the machine's.
var ErrInvalidRequest = errors.New("invalid request")

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
	// MinNeedBytes is the least the device needs under the fallbacks the
	// request allows (smaller ubatch, context, KV type), margin included.
	MinNeedBytes uint64 `json:"min_need_bytes"`
}

// Error says why the model does not fit and, when one was found, the
// nearest plan that would.
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
func noFit(m *model, mc *machine, a, least *attempt, req Request) *NoFitError {
	e := &NoFitError{}
	if least == nil {
		least = a
	}
	for d, dm := range a.b.Devices {
		need := needOf(a, d)
		minNeed := need
		if d < len(least.b.Devices) {
			minNeed = min(need, needOf(least, d))
		}
		ds := DeviceShortfall{Name: dm.Name, NeedBytes: need, AvailableBytes: a.avail[d], MinNeedBytes: minNeed}
		if need > a.avail[d] {
			ds.ShortBytes = need - a.avail[d]
		}
		e.Devices = append(e.Devices, ds)
	}
	fd := max(a.failDev, 0)
	fail := e.Devices[fd]
	cpu := a.b.Devices[0]
	parts := needParts(a, fd)
	switch {
	case a.failWhy != "":
		e.Reason = a.failWhy
	case fd == 0 && !a.s.MMap:
		e.Reason = fmt.Sprintf("unable to allocate the CPU buffer: without mmap every host weight is anonymous memory; the host needs %s (%s), %s available — short by %s",
			human(fail.NeedBytes), parts, human(fail.AvailableBytes), human(fail.ShortBytes))
	case fd == 0 && cpu.RepackBytes > 0 && !a.s.NoRepack:
		e.Reason = fmt.Sprintf("unable to allocate the CPU_REPACK buffer: llama.cpp copies %s of host weights into anonymous memory even with mmap; the host needs %s (%s), %s available — short by %s",
			human(cpu.RepackBytes), human(fail.NeedBytes), parts, human(fail.AvailableBytes), human(fail.ShortBytes))
	case fd == 0 && a.s.MLock:
		e.Reason = fmt.Sprintf("--mlock keeps %s of mapped weights locked in RAM: the host needs %s (%s), %s available — short by %s",
			human(cpu.ResidentBytes), human(fail.NeedBytes), parts, human(fail.AvailableBytes), human(fail.ShortBytes))
	default:
		e.Reason = fmt.Sprintf("%s needs %s (%s), %s available — short by %s",
			fail.Name, human(fail.NeedBytes), parts, human(fail.AvailableBytes), human(fail.ShortBytes))
		if fd == 0 && a.unified > 0 {
			e.Reason += fmt.Sprintf("; the need includes %s the GPU sharing the host's memory takes", human(a.unified))
		}
		if dm := a.b.Devices[fd]; fd > 0 && len(dm.Layers) == 0 && dm.WeightsBytes == 0 {
			e.Reason += fmt.Sprintf("; %s cannot even hold its runtime: hide it from llama.cpp (-dev or CUDA_VISIBLE_DEVICES) to plan without it", fail.Name)
		}
	}
	// Relax one pinned or forbidden choice at a time.
	type alt struct {
		what string
		mod  func(r *Request)
	}
	alts := []alt{
		{"drop --no-mmap", func(r *Request) { r.Pinned.MMap = false; r.Settings.MMap = true }},
		{"drop --mlock", func(r *Request) { r.Pinned.MLock = false; r.Settings.MLock = false }},
		{"--no-repack", func(r *Request) { r.Pinned.NoRepack = true; r.Settings.NoRepack = true }},
		{"let the planner choose n_gpu_layers", func(r *Request) { r.Pinned.NGPULayers = false }},
		{"let the planner shrink the context or quantize the KV cache", func(r *Request) {
			r.Pinned.NCtx, r.Pinned.CacheTypeK, r.Pinned.CacheTypeV, r.Pinned.NUbatch = false, false, false, false
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
		try, _, _, err := search(context.Background(), m, mc, s, r)
		if err != nil || try == nil {
			continue
		}
		ns := try.s
		e.NearestSettings = &ns
		e.Nearest = fmt.Sprintf("fits with %s (%s): host needs %s of %s", changes(a.s, ns), al.what,
			human(try.b.Devices[0].TotalBytes+try.margin[0]), human(try.avail[0]))
		if !a.s.MMap && ns.MMap && fd == 0 {
			e.Nearest = fmt.Sprintf("fits with %s; no-mmap needs %s RAM, %s available", changes(a.s, ns), human(fail.NeedBytes), human(fail.AvailableBytes))
		}
		// Say how fast the nearest plan runs: fitting by paging from disk
		// is not fitting in memory.
		pr := predict(m, mc, try, r)
		if pr.DiskBytesPerToken > 0 {
			e.Nearest += fmt.Sprintf(" (runs paging from disk: %s of every token's weights read from disk, predicted decode %s tok/s)", human(uint64(pr.DiskBytesPerToken)), units.Number(pr.DecodeTokensPerSecond))
		} else {
			e.Nearest += fmt.Sprintf(" (in memory, predicted decode %s tok/s)", units.Number(pr.DecodeTokensPerSecond))
		}
		break
	}
	return e
}

// needParts lists what device d needs in attempt a, each part named as the
// plan's device table names its column.
func needParts(a *attempt, d int) string {
	dm := a.b.Devices[d]
	var parts []string
	add := func(name string, b uint64) {
		if b > 0 {
			parts = append(parts, name+" "+human(b))
		}
	}
	weights := dm.AnonWeightsBytes - min(dm.StagingBytes, dm.AnonWeightsBytes)
	switch {
	case weights == dm.WeightsBytes:
		add("weights", weights)
	case !a.s.MMap && weights+dm.RepackBytes == dm.WeightsBytes:
		add("weights not repacked", weights)
	default:
		add("weights not mapped", weights)
	}
	if d == 0 && a.s.MLock {
		add("mapped weights locked", dm.ResidentBytes)
	}
	add("repack", dm.RepackBytes)
	add("KV", dm.KVBytes+dm.StateBytes)
	add("compute", dm.ComputeBytes)
	add("output", dm.OutputBytes)
	add("overhead", dm.OverheadBytes)
	add("overhead (pinned upload staging)", dm.StagingBytes)
	add("margin", a.margin[d])
	return strings.Join(parts, " + ")
}

// needOf is what device d needs in attempt a, margin included.
func needOf(a *attempt, d int) uint64 {
	dm := a.b.Devices[d]
	n := dm.TotalBytes + a.margin[d]
	if d == 0 && a.s.MLock {
		n += dm.ResidentBytes
	}
	if d == 0 {
		n += a.unified // a GPU sharing the host's RAM allocates from it
	}
	return n
}

// changes lists, in words, the settings that differ between a and b.
func changes(a, b Settings) string {
	var out []string
	if a.MMap != b.MMap {
		out = append(out, map[bool]string{true: "mmap", false: "--no-mmap"}[b.MMap])
	}
	if a.MLock != b.MLock && !b.MLock {
		out = append(out, "no --mlock")
	}
	if a.NoRepack != b.NoRepack && b.NoRepack {
		out = append(out, "--no-repack")
	}
	if a.NGPULayers != b.NGPULayers {
		out = append(out, fmt.Sprintf("n_gpu_layers %d", b.NGPULayers))
	}
	if fmt.Sprint(a.Overrides) != fmt.Sprint(b.Overrides) {
		if len(b.Overrides) == 0 {
			out = append(out, "no tensor overrides")
		} else {
			var ot []string
			for _, o := range b.Overrides {
				ot = append(ot, o.Pattern+"="+o.Device)
			}
			out = append(out, "-ot "+strings.Join(ot, ","))
		}
	}
	if fmt.Sprint(a.TensorSplit) != fmt.Sprint(b.TensorSplit) && len(b.TensorSplit) > 0 {
		out = append(out, "-ts "+fmtSplit(b.TensorSplit))
	}
	if a.NCtx != b.NCtx {
		out = append(out, fmt.Sprintf("n_ctx %d", b.NCtx))
	}
	if a.CacheTypeK != b.CacheTypeK {
		out = append(out, "KV "+b.CacheTypeK)
	}
	if a.NUbatch != b.NUbatch {
		out = append(out, fmt.Sprintf("n_ubatch %d", b.NUbatch))
	}
	if len(out) == 0 {
		return "the same settings"
	}
	return strings.Join(out, " and ")
}

func sameRequest(r, req Request, s Settings) bool {
	return r.Pinned == req.Pinned && r.AllowShrinkContext == req.AllowShrinkContext && r.AllowQuantizedKV == req.AllowQuantizedKV &&
		r.Settings.MMap == s.MMap && r.Settings.MLock == s.MLock && r.Settings.NoRepack == s.NoRepack
}

// initialSettingsQuiet is initialSettings without a why-trail.
func initialSettingsQuiet(m *model, mc *machine, r Request) Settings {
	return initialSettings(m, mc, r, &Plan{})
}
