package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/modelfit/modelfit/internal/units"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/probe"
)

// clusterFlags are the flags of a plan over several hosts: --host (one per
// machine running ggml-rpc-server), --link, --rpc-cache.
type clusterFlags struct {
	hosts, links multiFlag
	cache        bool
}

func (c *clusterFlags) add(s *flagSet) {
	s.add(&c.hosts, groupHosts, "NAME=SOURCE[@IPV4:PORT]", "another machine lending its devices through ggml-rpc-server: SOURCE is the JSON snapshot plan probe wrote there, or an assumed RAM[+GPU…] with GPUs as for --gpu, e.g. node2=128GiB@10.0.0.2:50052 (repeatable; the machine planned for is the head, running llama-server)", "--host")
	s.add(&c.links, groupHosts, "[NAME=]RATE[,rtt=D]", "the network to the hosts: 1GbE, 2.5GbE, 10GbE, 25GbE, 40GbE, 100GbE, loopback or a rate such as 1.2GB/s; without NAME for every host (repeatable; default 1GbE, loopback for 127.x)", "--link")
	s.boolVar(&c.cache, groupHosts, "run every ggml-rpc-server with -c: tensors over 10 MiB stay on the host's disk and later loads do not send them", "--rpc-cache")
}

// parse turns the flags into hosts. An assumed host is described like the
// head: --cores, --cpu-features and --host-bw apply to it too.
func (c *clusterFlags) parse(p *planFlags) ([]planner.Host, error) {
	if len(c.hosts) == 0 {
		if len(c.links) > 0 || c.cache {
			return nil, usageError{errors.New("--link and --rpc-cache describe the hosts of --host: give at least one")}
		}
		return nil, nil
	}
	var all *planner.Link
	perHost := map[string]planner.Link{}
	for _, l := range c.links {
		name, spec := "", l
		if n, rest, ok := strings.Cut(l, "="); ok && !strings.Contains(n, ",") {
			name, spec = n, rest
		}
		link, err := planner.ParseLink(spec)
		if err != nil {
			return nil, usageError{fmt.Errorf("--link %q: %w", l, err)}
		}
		if name == "" {
			all = &link
		} else {
			perHost[name] = link
		}
	}
	var hosts []planner.Host
	seen := map[string]bool{}
	for _, spec := range c.hosts {
		h, err := parseHost(spec, p)
		if err != nil {
			return nil, err
		}
		if l, ok := perHost[h.Name]; ok {
			h.Link = l
		} else if all != nil {
			h.Link = *all
		}
		h.Cache = c.cache
		seen[h.Name] = true
		hosts = append(hosts, h)
	}
	for name := range perHost {
		if !seen[name] {
			return nil, usageError{fmt.Errorf("--link %s=…: no --host named %s", name, name)}
		}
	}
	return hosts, nil
}

// parseHost parses NAME=SOURCE[@IPV4:PORT]. The address is what follows the
// last @ when it is an IPv4 address (an assumed GPU's @FREE is not).
func parseHost(spec string, p *planFlags) (planner.Host, error) {
	bad := func(err error) (planner.Host, error) {
		return planner.Host{}, usageError{fmt.Errorf("--host %q: %w", spec, err)}
	}
	name, src, ok := strings.Cut(spec, "=")
	if !ok || name == "" || src == "" {
		return bad(errors.New("want NAME=SNAPSHOT.json[@IPV4:PORT] or NAME=RAM[+GPU…][@IPV4:PORT]"))
	}
	h := planner.Host{Name: name}
	if i := strings.LastIndex(src, "@"); i >= 0 {
		if addr, err := planner.ParseRPCAddr(src[i+1:]); err == nil {
			h.Addr, src = addr, src[:i]
		} else if strings.Count(src[i+1:], ".") == 3 || strings.Contains(src[i+1:], "localhost") {
			return bad(err)
		}
	}
	if strings.HasSuffix(src, ".json") || fileExists(src) {
		f, err := os.Open(src)
		if err != nil {
			return bad(err)
		}
		defer f.Close()
		if h.Snapshot, err = probe.ReadSnapshot(f); err != nil {
			return bad(err)
		}
		return h, nil
	}
	parts := strings.Split(src, "+")
	ram, err := probe.ParseSize(parts[0])
	if err != nil || ram == 0 {
		return bad(errors.New("want a snapshot file or an assumed machine such as 128GiB or 200GiB+H100=80GiB:3350GB/s"))
	}
	d := probe.Description{RAMBytes: ram, Cores: p.cores, Features: p.features()}
	for _, g := range parts[1:] {
		gpu, err := probe.ParseGPU(g)
		if err != nil {
			return bad(err)
		}
		d.GPUs = append(d.GPUs, gpu)
	}
	if p.hostBW != "" {
		bw, err := probe.ParseSize(strings.TrimSuffix(p.hostBW, "/s"))
		if err != nil || bw == 0 {
			return bad(fmt.Errorf("--host-bw %q: want bytes per second such as 34GB", p.hostBW))
		}
		d.MemoryBandwidth = float64(bw)
	}
	h.Snapshot = probe.Describe(d)
	return h, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// printHosts prints what every host of a cluster plan runs and holds.
func printHosts(w io.Writer, p *planner.Plan) {
	var largest uint64
	for _, h := range p.Hosts {
		largest = max(largest, h.WeightsBytes, h.RAMPeakBytes, h.RAMAvailableBytes)
	}
	unit, div := tableUnit(largest)
	f := func(b uint64) string { return inUnit(int64(b), div) }
	fmt.Fprintf(w, "hosts (sizes in %s):\n", unit)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "host\tdevices\tlayers\tweights\tRAM\tRAM at load\tavailable\tload\tnet/token\t")
	for _, h := range p.Hosts {
		if !h.Used {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t%s\t-\t-\t\n", h.Name, f(h.RAMAvailableBytes))
			continue
		}
		var devs []string
		for _, d := range h.Devices {
			if d.Layers > 0 || h.Role == "head" {
				devs = append(devs, fmt.Sprintf("%s=%s:%d", d.Name, d.Backend, d.Layers))
			}
		}
		layers := fmt.Sprint(len(h.Layers))
		if h.Output {
			layers += "+out"
		}
		load, net := "-", "-"
		if h.Role == "rpc" {
			load = units.Number(h.LoadSeconds) + " s"
			net = units.Number(h.DecodeNetworkSeconds*1000) + " ms"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", h.Name, strings.Join(devs, " "), layers, f(h.WeightsBytes),
			f(h.RAMBytes), f(h.RAMPeakBytes), f(h.RAMAvailableBytes), load, net)
	}
	tw.Flush()
	wr := &wrapper{w: w, width: textWidth}
	wr.para("  ", "  ", "(RAM: what the host's memory holds while serving: its CPU buffers, the mapped weights the head reads, the server itself; at load a tensor in flight comes on top)")
	fmt.Fprintln(w, "run:")
	for _, h := range p.Hosts[1:] {
		switch {
		case h.Used && len(h.Command) > 0:
			wr.command("  "+h.Name+": ", h.Command)
			if h.CacheDiskBytes > 0 {
				wr.para("    ", "    ", fmt.Sprintf("(-c keeps %s on %s's disk in $LLAMA_CACHE/rpc, default ~/.cache/llama.cpp/rpc; later loads take %s s)", units.Bytes(h.CacheDiskBytes), h.Name, units.Number(h.CachedLoadSeconds)))
			}
		case h.Used:
			fmt.Fprintf(w, "  %s: (no address given: NAME=SNAPSHOT@IPV4:PORT)\n", h.Name)
		}
	}
	wr.command("  head: ", p.Hosts[0].Command)
}

// features are the --cpu-features of an assumed machine.
func (p *planFlags) features() []string {
	var out []string
	if p.cpuFeatures != "" {
		for _, f := range strings.Split(p.cpuFeatures, ",") {
			out = append(out, strings.ToLower(strings.TrimSpace(f)))
		}
	}
	return out
}
