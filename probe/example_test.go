package probe_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/modelfit/modelfit/probe"
)

// Plan for a machine one is not on: 200 GiB of RAM and one H100 of which
// 76 GiB are free.
func ExampleDescribe() {
	ram, err := probe.ParseSize("200GiB")
	if err != nil {
		fmt.Println(err)
		return
	}
	gpu, err := probe.ParseGPU("H100=80GiB@76GiB:3.35TB/s")
	if err != nil {
		fmt.Println(err)
		return
	}
	s := probe.Describe(probe.Description{RAMBytes: ram, GPUs: []probe.GPU{gpu}})
	fmt.Println(s.Memory.EffectiveAvailableBytes>>30, "GiB from", s.Memory.LimitSource)
	fmt.Println(s.GPUs[0].Name, s.GPUs[0].FreeBytes>>30, "GiB free,", s.GPUs[0].BandwidthBytes/1e12, "TB/s")
	// Output:
	// 200 GiB from described
	// H100 76 GiB free, 3.35 TB/s
}

// A snapshot written with WriteJSON (or `plan probe --json`) is read back
// with ReadSnapshot; the schema is checked.
func ExampleReadSnapshot() {
	var buf strings.Builder
	probe.Describe(probe.Description{RAMBytes: 64 << 30}).WriteJSON(&buf)
	s, err := probe.ReadSnapshot(strings.NewReader(buf.String()))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Schema, s.Source, s.Memory.TotalBytes>>30, "GiB,", len(s.GPUs), "GPUs")
	// Output: probe/v1 file 64 GiB, 0 GPUs
}

// Probe the machine the program runs on.
func ExampleProbe() {
	s, err := probe.Probe(context.Background(), probe.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	m := s.Memory
	fmt.Printf("%d bytes obtainable for a model (bound by %s), %g usable cores, %d GPUs\n",
		m.EffectiveAvailableBytes, m.LimitSource, s.CPU.UsableCores, len(s.GPUs))
}
