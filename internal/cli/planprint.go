package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/modelfit/modelfit/internal/units"
	"github.com/modelfit/modelfit/planner"
)

// textWidth is the width of the human output: every line fits in it (the
// one exception: a single word longer than the line, such as a long -ot
// pattern, is broken where it must be).
const textWidth = 100

// verdictLine is the headline: what the plan means, with the figures that
// make it so.
func verdictLine(p *planner.Plan) string {
	pr := p.Predicted
	switch p.Verdict {
	case planner.VerdictFits:
		return fmt.Sprintf("FITS in memory: predicted decode %s tok/s, prefill %s tok/s, load %s s",
			units.Number(pr.DecodeTokensPerSecond), units.Number(pr.PrefillTokensPerSecond), units.Number(pr.LoadSeconds))
	case planner.VerdictPaging:
		return fmt.Sprintf("RUNS PAGING FROM DISK: every token reads %s of weights from disk (%.0f%% of the host weights it reads); predicted decode %s tok/s",
			units.Bytes(uint64(pr.DiskBytesPerToken)), 100*pr.DiskShare, units.Number(pr.DecodeTokensPerSecond))
	}
	short := ""
	if p.NoFit != nil {
		var names []string
		for _, d := range p.NoFit.Devices {
			if d.ShortBytes > 0 {
				names = append(names, fmt.Sprintf("%s short by %s", d.Name, units.Bytes(d.ShortBytes)))
			}
		}
		short = strings.Join(names, ", ")
	}
	if short == "" {
		return "DOES NOT FIT (why at the end)"
	}
	return "DOES NOT FIT: " + short + " (why at the end)"
}

// printPlan writes the plan for a person, in textWidth columns.
func printPlan(w io.Writer, p *planner.Plan) {
	s := p.Settings
	wr := &wrapper{w: w, width: textWidth}
	wr.para("", "", verdictLine(p))
	name := p.Model.Name
	if name == "" {
		name = p.Model.Path
	}
	wr.para("model     ", "          ", fmt.Sprintf("%s (%s, %d layers, %s of weights)", name, p.Model.Architecture, p.Model.Layers, units.Bytes(p.Model.TensorBytes)))
	wr.para("runtime   ", "          ", fmt.Sprintf("%s: %s", p.Runtime, p.RuntimeProfile.Build))
	set := fmt.Sprintf("n_ctx %d, batch %d/%d, parallel %d, n_gpu_layers %d, flash_attn %s, KV %s/%s, mmap %s, mlock %s, threads %d",
		s.NCtx, s.NBatch, s.NUbatch, s.NParallel, s.NGPULayers, onOff(s.FlashAttn), s.CacheTypeK, s.CacheTypeV, onOff(s.MMap), onOff(s.MLock), s.Threads)
	if s.NoRepack {
		set += ", no-repack"
	}
	wr.items("settings  ", "          ", strings.Split(set, ", "))
	fmt.Fprintln(w)
	printDevices(w, p)
	fmt.Fprintln(w)
	if len(p.Hosts) > 0 {
		printHosts(w, p)
		fmt.Fprintln(w)
	}
	pr := p.Predicted
	wr.para("predicted ", "          ", fmt.Sprintf("load %s s, prefill %s tok/s, decode %s tok/s (bound by %s)",
		units.Number(pr.LoadSeconds), units.Number(pr.PrefillTokensPerSecond), units.Number(pr.DecodeTokensPerSecond), pr.DecodeBound))
	for _, as := range pr.Assumptions {
		wr.para("  - ", "    ", as)
	}
	fmt.Fprintln(w, "\nwhy:")
	for _, r := range p.Reasons {
		wr.para("  ", "      ", fmt.Sprintf("%s = %s: %s", r.Setting, r.Choice, r.Why))
	}
	for _, wa := range p.Warnings {
		wr.para("warning: ", "    ", wa)
	}
	fmt.Fprintln(w)
	if p.Fits {
		wr.para("", "", verdictLine(p))
	} else {
		wr.para("DOES NOT FIT: ", "    ", strings.TrimPrefix(p.NoFit.Error(), "planner: does not fit: "))
		for _, d := range p.NoFit.Devices {
			if d.ShortBytes > 0 {
				wr.para("  ", "    ", fmt.Sprintf("%s needs %s (at least %s with the fallbacks allowed), has %s",
					d.Name, units.Bytes(d.NeedBytes), units.Bytes(d.MinNeedBytes), units.Bytes(d.AvailableBytes)))
			}
		}
	}
	if !p.Runtime.IsOllama() {
		wr.command("llama.cpp: ", p.LlamaArgs)
	}
}

// tableUnit picks one binary unit for a table of byte counts: the largest
// that shows the biggest model allocation with an integer part.
func tableUnit(largest uint64) (name string, div float64) {
	switch {
	case largest >= 1<<30:
		return "GiB", 1 << 30
	case largest >= 1<<20:
		return "MiB", 1 << 20
	}
	return "KiB", 1 << 10
}

// inUnit formats bytes in the table's unit, two decimals as llama.cpp
// prints its buffer sizes.
func inUnit(b int64, div float64) string {
	v := float64(b) / div
	if v >= 1e4 || v <= -1e4 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// printDevices writes the memory table: one row per device, the columns
// named as the JSON names its fields, every figure in one unit.
func printDevices(w io.Writer, p *planner.Plan) {
	var largest uint64
	for _, d := range p.Devices {
		largest = max(largest, d.TotalBytes, d.WeightsBytes)
	}
	unit, div := tableUnit(largest)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tweights\tmapped\trepack\tKV\tcompute\toutput\toverhead\ttotal\tavailable\tfree\t\n", unit)
	f := func(b uint64) string { return inUnit(int64(b), div) }
	for _, d := range p.Devices {
		mapped := "-"
		if d.MappedBytes > 0 {
			mapped = f(d.MappedBytes)
		}
		need := d.TotalBytes + d.MarginBytes
		if d.Name == "CPU" && p.Settings.MLock {
			need += d.ResidentBytes
		}
		free := int64(d.AvailableBytes) - int64(need)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", d.Name, f(d.WeightsBytes), mapped, f(d.RepackBytes),
			f(d.KVBytes+d.StateBytes), f(d.ComputeBytes), f(d.OutputBytes), f(d.OverheadBytes+d.StagingBytes),
			f(d.TotalBytes), f(d.AvailableBytes), inUnit(free, div))
	}
	tw.Flush()
	wr := &wrapper{w: w, width: textWidth}
	margins := map[uint64]bool{}
	for _, d := range p.Devices {
		margins[d.MarginBytes] = true
	}
	margin := "each device's margin"
	if len(margins) == 1 {
		margin = "the margin of " + units.Bytes(p.Devices[0].MarginBytes)
	}
	wr.para("  ", "  ", "total is what must be allocated: every column but mapped, whose weights are page cache "+
		"the kernel pages in from the file; free = available - total - "+margin+" (negative: does not fit)")
}

// printSweep writes the sweep table: each device's total in one unit.
func printSweep(w io.Writer, p *planner.Plan, rows []planner.SweepRow) {
	var largest uint64
	for _, r := range rows {
		for _, b := range r.DeviceBytes {
			largest = max(largest, b)
		}
	}
	unit, div := tableUnit(largest)
	fmt.Fprintf(w, "\nsweep (total per device in %s):\n", unit)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "ngl\tcpu-moe\t")
	for _, d := range p.Devices {
		fmt.Fprintf(tw, "%s\t", d.Name)
	}
	fmt.Fprintln(tw, "tok/s\tload s\tfits\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%d\t%d\t", r.NGPULayers, r.NCPUMoE)
		for _, b := range r.DeviceBytes {
			fmt.Fprintf(tw, "%s\t", inUnit(int64(b), div))
		}
		fits := "no"
		if r.Fits {
			fits = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", units.Number(r.Decode), units.Number(r.Load), fits)
	}
	tw.Flush()
	fmt.Fprintln(w, "  ngl = n_gpu_layers; cpu-moe = layers whose experts stay on the CPU (--n-cpu-moe)")
}

// wrapper writes paragraphs wrapped at width with a hanging indent.
type wrapper struct {
	w     io.Writer
	width int
}

// para writes text after first, continuing lines after hang.
func (wr *wrapper) para(first, hang, text string) {
	for _, l := range wrapText(text, first, hang, wr.width) {
		fmt.Fprintln(wr.w, l)
	}
}

// items writes a comma-separated list wrapped between its items, so that
// "mmap off" stays on one line.
func (wr *wrapper) items(first, hang string, items []string) {
	const keep = "\x1f" // stands for a space inside an item while wrapping
	joined := make([]string, len(items))
	for i, it := range items {
		joined[i] = strings.ReplaceAll(it, " ", keep)
	}
	for _, l := range wrapText(strings.Join(joined, ", "), first, hang, wr.width) {
		fmt.Fprintln(wr.w, strings.ReplaceAll(l, keep, " "))
	}
}

// command writes a command line to paste, broken between arguments with
// shell continuations; a flag stays with its value.
func (wr *wrapper) command(first string, args []string) {
	var words []string
	for i := 0; i < len(args); i++ {
		word := shellQuote(args[i])
		if strings.HasPrefix(args[i], "-") && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			word += " " + shellQuote(args[i+1])
			i++
		}
		words = append(words, word)
	}
	const hang = "    "
	line := first + strings.Join(words[:min(1, len(words))], "")
	for _, word := range words[min(1, len(words)):] {
		if runeLen(line)+1+runeLen(word)+2 <= wr.width {
			line += " " + word
			continue
		}
		fmt.Fprintln(wr.w, line+" \\")
		line = hang + word
	}
	fmt.Fprintln(wr.w, line)
}

// wrapText breaks text into lines of at most width columns: the first after
// first, the rest after hang. A word longer than a line is split.
func wrapText(text, first, hang string, width int) []string {
	var lines []string
	line := first
	empty := true
	for _, word := range strings.Fields(text) {
		for {
			room := width - runeLen(line)
			if !empty {
				room-- // the space
			}
			if runeLen(word) <= room {
				if !empty {
					line += " "
				}
				line += word
				empty = false
				break
			}
			if !empty && runeLen(word) <= width-runeLen(hang) {
				lines = append(lines, line)
				line, empty = hang, true
				continue
			}
			// Longer than a whole line: fill this one and go on.
			if room <= 0 {
				lines = append(lines, line)
				line, empty = hang, true
				continue
			}
			r := []rune(word)
			if !empty {
				line += " "
			}
			line += string(r[:room])
			word = string(r[room:])
			lines = append(lines, line)
			line, empty = hang, true
		}
	}
	return append(lines, line)
}

func runeLen(s string) int { return len([]rune(s)) }

// shellQuote quotes an argument a POSIX shell would interpret, so the
// printed command line can be pasted.
func shellQuote(a string) string {
	if a == "" || strings.ContainsAny(a, " \t\n\\|&;()<>$`'\"*?[]#~!{}") {
		return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return a
}

// shellJoin quotes and joins the arguments on one line.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = shellQuote(a)
	}
	return strings.Join(out, " ")
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
