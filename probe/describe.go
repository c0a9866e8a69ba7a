package probe

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// Description is an assumed machine, for planning on a machine one is not on.
type Description struct {
	RAMBytes        uint64   // host memory, all of it available
	GPUs            []GPU    // exactly these GPUs; none when empty
	Cores           int      // physical cores; 8 when 0
	Features        []string // CPU features; none when empty
	MemoryBandwidth float64  // host memory bandwidth in bytes/s; 0 = unknown
	Arch            string   // GOARCH of the CPU ("amd64", "arm64"); "" = this binary's
	Model           string   // CPU model; "" = "described"
}

// Describe builds the snapshot of an assumed machine: exactly the RAM and
// GPUs described, all of it available.
func Describe(d Description) *Snapshot {
	cores := d.Cores
	if cores <= 0 {
		cores = 8
	}
	s := &Snapshot{
		Schema: SchemaVersion,
		Source: "described",
		Memory: Memory{
			TotalBytes: d.RAMBytes, FreeBytes: d.RAMBytes, AvailableBytes: d.RAMBytes,
			EffectiveAvailableBytes: d.RAMBytes, LimitSource: "described",
		},
		CPU: CPU{Arch: cmp.Or(d.Arch, goarch), PhysicalCores: cores, LogicalCores: cores, UsableCores: float64(cores),
			Features: append([]string{}, d.Features...), MemoryBandwidth: d.MemoryBandwidth, Model: cmp.Or(d.Model, "described")},
		GPUs: []GPU{},
	}
	for i, g := range d.GPUs {
		g.Index = i
		if g.Vendor == "" {
			g.Vendor = "described"
		}
		if g.FreeBytes == 0 {
			g.FreeBytes = g.TotalBytes - min(g.UsedBytes, g.TotalBytes)
		}
		s.GPUs = append(s.GPUs, g)
	}
	if len(s.GPUs) == 0 {
		s.GPUNote = "no GPUs described"
	}
	return s
}

var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40, "pib": 1 << 50,
}

// ParseSize parses a byte size: "200GiB", "80GB", "512MiB", "1.5TiB", "4096".
// Decimal units (GB) are powers of 1000, binary ones (GiB) of 1024.
func ParseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return !unicode.IsDigit(r) && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	}
	mult, ok := sizeUnits[unit]
	v, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil || num == "" || v < 0 || math.IsInf(v, 0) {
		return 0, fmt.Errorf("probe: size %q: want a number with an optional unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)", s)
	}
	b := v * mult
	if b >= math.MaxUint64 {
		return 0, fmt.Errorf("probe: size %q is too large", s)
	}
	return uint64(b), nil
}

// ParseGPU parses an assumed GPU: [NAME=]SIZE[@FREE][:BANDWIDTH], e.g.
// "80GiB", "H100=80GiB@76GiB", "A100=40GiB:1555GB/s" (bandwidth in bytes/s
// units, "/s" optional).
func ParseGPU(s string) (GPU, error) {
	g := GPU{Vendor: "described"}
	rest := s
	if name, r, ok := strings.Cut(rest, "="); ok {
		g.Name, rest = strings.TrimSpace(name), r
	}
	if r, bw, ok := strings.Cut(rest, ":"); ok {
		v, err := ParseSize(strings.TrimSuffix(strings.TrimSpace(bw), "/s"))
		if err != nil {
			return GPU{}, fmt.Errorf("probe: GPU %q: bandwidth: %w", s, err)
		}
		g.BandwidthBytes, rest = float64(v), r
	}
	total, free, hasFree := strings.Cut(rest, "@")
	var err error
	if g.TotalBytes, err = ParseSize(total); err != nil || g.TotalBytes == 0 {
		return GPU{}, fmt.Errorf("probe: GPU %q: want [NAME=]SIZE[@FREE][:BANDWIDTH], e.g. H100=80GiB@76GiB", s)
	}
	g.FreeBytes = g.TotalBytes
	if hasFree {
		if g.FreeBytes, err = ParseSize(free); err != nil || g.FreeBytes > g.TotalBytes {
			return GPU{}, fmt.Errorf("probe: GPU %q: free memory must be a size no larger than the total", s)
		}
	}
	g.UsedBytes = g.TotalBytes - g.FreeBytes
	if g.Name == "" {
		g.Name = "GPU"
	}
	return g, nil
}

// ReadSnapshot reads a snapshot written by WriteJSON (or `plan probe --json`).
func ReadSnapshot(r io.Reader) (*Snapshot, error) {
	var s Snapshot
	dec := json.NewDecoder(io.LimitReader(r, 16<<20))
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("probe: reading snapshot: %w", err)
	}
	if s.Schema != SchemaVersion {
		return nil, fmt.Errorf("probe: snapshot schema %q, want %q", s.Schema, SchemaVersion)
	}
	if s.Memory.TotalBytes == 0 {
		return nil, fmt.Errorf("probe: snapshot has no memory.total_bytes")
	}
	if s.GPUs == nil {
		s.GPUs = []GPU{}
	}
	s.Source = "file"
	return &s, nil
}

// WriteJSON writes the snapshot as indented JSON.
func (s *Snapshot) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// ParseUnified parses an assumed Apple Silicon Mac, [CHIP=]SIZE[:BANDWIDTH]
// ("M2 Ultra=192GiB", "192GiB:800GB/s"), into its unified memory and the
// Metal GPU that shares it (see AppleGPU; wiredLimitMB as
// iogpu.wired_limit_mb, 0 for macOS's default working set). The chip
// names the memory bandwidth Apple publishes; a given bandwidth wins.
func ParseUnified(s string, wiredLimitMB uint64) (ram uint64, gpu GPU, err error) {
	chip, rest, named := strings.Cut(s, "=")
	if !named {
		chip, rest = "", s
	}
	size, bw, hasBW := strings.Cut(rest, ":")
	if ram, err = ParseSize(size); err != nil || ram == 0 {
		return 0, GPU{}, fmt.Errorf("probe: unified memory %q: want [CHIP=]SIZE[:BANDWIDTH], e.g. \"M2 Ultra=192GiB\"", s)
	}
	name := "Apple Silicon"
	if chip = strings.TrimSpace(chip); chip != "" {
		name = "Apple " + strings.TrimPrefix(chip, "Apple ")
	}
	gpu = AppleGPU(name, ram, wiredLimitMB)
	if chip != "" && gpu.BandwidthBytes == 0 {
		return 0, GPU{}, fmt.Errorf("probe: unified memory %q: unknown chip %q (M1…M4, Pro, Max, Ultra); give the bandwidth instead, e.g. 192GiB:800GB/s", s, chip)
	}
	if hasBW {
		v, err := ParseSize(strings.TrimSuffix(strings.TrimSpace(bw), "/s"))
		if err != nil || v == 0 {
			return 0, GPU{}, fmt.Errorf("probe: unified memory %q: bandwidth: want bytes per second such as 800GB/s", s)
		}
		gpu.BandwidthBytes = float64(v)
	}
	return ram, gpu, nil
}
