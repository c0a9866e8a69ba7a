package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/modelfit/modelfit/internal/units"
	"github.com/modelfit/modelfit/probe"
)

func init() {
	commands["probe"] = command{run: runProbe, summary: "what this machine has now: memory, cgroup limits, CPU, GPUs, page cache"}
}

func runProbe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	set := newFlagSet("plan probe", "Prints what this machine has for a model now: memory, cgroup limits, CPU, GPUs,\nand the page-cache residency of model files.", "plan probe [flags]")
	var asJSON bool
	var files multiFlag
	set.boolVar(&asJSON, groupOutput, "print the versioned JSON snapshot", "--json")
	set.add(&files, groupMachine, "FILE", "a model file (or split part) whose residency to report (repeatable)", "--file")
	if code, ok := set.parse(args, stdout, stderr); !ok {
		return code
	}
	if set.fs.NArg() != 0 {
		return set.usageError(stderr, "no arguments expected, got %q (a model file goes after --file)", strings.Join(set.fs.Args(), " "))
	}
	s, err := probe.Probe(ctx, probe.Options{Files: files})
	if err != nil {
		fmt.Fprintln(stderr, "plan probe:", err)
		return ExitError
	}
	if asJSON {
		if err := s.WriteJSON(stdout); err != nil {
			fmt.Fprintln(stderr, err)
			return ExitError
		}
		return ExitOK
	}
	printSnapshot(stdout, s)
	return ExitOK
}

func printSnapshot(w io.Writer, s *probe.Snapshot) {
	m := s.Memory
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "memory\t")
	fmt.Fprintf(tw, "  total\t%s\n", units.Bytes(m.TotalBytes))
	fmt.Fprintf(tw, "  available (MemAvailable)\t%s\n", units.Bytes(m.AvailableBytes))
	fmt.Fprintf(tw, "  free\t%s\n", units.Bytes(m.FreeBytes))
	fmt.Fprintf(tw, "  page cache, buffers\t%s, %s (of which shmem %s, not reclaimable)\n", units.Bytes(m.PageCacheBytes), units.Bytes(m.BuffersBytes), units.Bytes(m.ShmemBytes))
	fmt.Fprintf(tw, "  reclaimable file pages\t%s (active %s, inactive %s)\n", units.Bytes(m.ActiveFile+m.InactiveFile), units.Bytes(m.ActiveFile), units.Bytes(m.InactiveFile))
	fmt.Fprintf(tw, "  swap\t%s free of %s\n", units.Bytes(m.SwapFreeBytes), units.Bytes(m.SwapTotalBytes))
	if m.HugePagesTotal > 0 {
		fmt.Fprintf(tw, "  huge pages\t%d free of %d × %s\n", m.HugePagesFree, m.HugePagesTotal, units.Bytes(m.HugePageBytes))
	}
	if m.CgroupLimitBytes != nil {
		fmt.Fprintf(tw, "  cgroup v%d limit\t%s (used %s, of which %s reclaimable file cache)\n", m.CgroupVersion, units.Bytes(*m.CgroupLimitBytes), units.Bytes(m.CgroupUsageBytes), units.Bytes(m.CgroupCacheBytes))
	} else if m.CgroupVersion > 0 {
		fmt.Fprintf(tw, "  cgroup v%d limit\tnone\n", m.CgroupVersion)
	}
	if m.CommitLimitBytes > 0 {
		fmt.Fprintf(tw, "  commit charge\t%s of the %s commit limit (RAM and page files)\n", units.Bytes(m.CommitTotalBytes), units.Bytes(m.CommitLimitBytes))
	}
	fmt.Fprintf(tw, "  effective available\t%s (from %s)\n", units.Bytes(m.EffectiveAvailableBytes), m.LimitSource)
	if m.MlockLimitBytes != nil {
		fmt.Fprintf(tw, "  mlock limit\t%s (RLIMIT_MEMLOCK)\n", units.Bytes(*m.MlockLimitBytes))
	} else {
		fmt.Fprintf(tw, "  mlock limit\tunlimited\n")
	}
	c := s.CPU
	fmt.Fprintln(tw, "cpu\t")
	fmt.Fprintf(tw, "  model\t%s (%s)\n", c.Model, c.Arch)
	usable := fmt.Sprintf("%g", c.UsableCores)
	if c.QuotaSource != "" {
		usable += " (" + c.QuotaSource + ")"
	}
	fmt.Fprintf(tw, "  cores\t%d physical, %d logical, %s usable\n", c.PhysicalCores, c.LogicalCores, usable)
	fmt.Fprintf(tw, "  features\t%s\n", strings.Join(c.Features, " "))
	for _, n := range s.NUMA {
		fmt.Fprintf(tw, "numa node %d\t%s free of %s, %d CPUs\n", n.ID, units.Bytes(n.FreeBytes), units.Bytes(n.TotalBytes), len(n.CPUs))
	}
	tw.Flush()
	if len(s.GPUs) == 0 {
		fmt.Fprintf(w, "gpus: none (%s)\n", s.GPUNote)
	} else {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "gpu\tname\tfree\ttotal\tbandwidth\tcompute\tbus")
		for _, g := range s.GPUs {
			total := units.Bytes(g.TotalBytes)
			switch {
			case g.UnifiedMemory && g.Vendor == "apple":
				total += " (Metal working set of the unified memory)"
			case g.UnifiedMemory:
				total += " (shared with host)"
			}
			bw := "?"
			if g.BandwidthBytes > 0 {
				bw = fmt.Sprintf("%.0f GB/s", g.BandwidthBytes/1e9)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", g.Index, g.Name, units.Bytes(g.FreeBytes), total, bw, g.ComputeCapability, g.PCIBusID)
		}
		tw.Flush()
	}
	for _, f := range s.Files {
		res := "unknown: " + f.ResidencyNote
		if f.ResidentBytes != nil {
			pct := 100.0
			if f.SizeBytes > 0 {
				pct = 100 * float64(*f.ResidentBytes) / float64(f.SizeBytes)
			}
			res = fmt.Sprintf("%s resident (%.0f%%, %s)", units.Bytes(*f.ResidentBytes), pct, f.Method)
		}
		dev := "device type unknown"
		if f.Rotational != nil {
			dev = map[bool]string{true: "rotational disk", false: "SSD/NVMe"}[*f.Rotational]
		}
		fmt.Fprintf(w, "file %s: %s, %s, on %s (%s)\n", f.Path, units.Bytes(f.SizeBytes), res, f.Filesystem, dev)
	}
}
