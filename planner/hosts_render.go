package planner

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// finish fills the plan from the chosen (or nearest) cluster placement a.
func (c *cluster) finish(p *Plan, a, least *clusterAttempt) {
	p.Fits = a.fits
	p.Settings = a.s
	p.breakdown = a.b
	for d, dm := range a.b.Devices {
		p.Devices = append(p.Devices, PlanDevice{DeviceMemory: dm, AvailableBytes: a.avail[d], MarginBytes: a.margin[d],
			FreeAfterBytes: int64(a.avail[d]) - int64(dm.TotalBytes)})
	}
	pred, timing := c.predictHosts(a)
	p.Predicted = pred
	p.Hosts = c.planHosts(a, timing)
	c.explain(p, a)
	if !p.Model.DataPresent {
		p.Warnings = append(p.Warnings, "the file holds only the header (or is truncated): this plan is for the complete model; it cannot be run from this file")
	}
	p.LlamaArgs = p.LlamaCppArgs(ArgsClassic)
	p.Hosts[0].Command = append([]string{"llama-server"}, p.LlamaArgs...)
	switch {
	case !a.fits:
		p.Verdict = VerdictNoFit
		p.NoFit = c.noFit(a, least)
	case p.Predicted.DiskBytesPerToken > 0:
		p.Verdict = VerdictPaging
	default:
		p.Verdict = VerdictFits
	}
}

// rpcAddr is where the head reaches host h: its address, or its name on
// the default port.
func (h *clusterHost) rpcAddr() string {
	if h.Addr != "" {
		return h.Addr
	}
	return net.JoinHostPort(h.Name, strconv.Itoa(DefaultRPCPort))
}

// planHosts describes every host of the plan, the head first.
func (c *cluster) planHosts(a *clusterAttempt, timing []hostTiming) []PlanHost {
	b := a.b
	owner := func(d int) int { // 0 = head, 1+i = hosts[i]
		if d == 0 || a.devs[d-1].kind == RemoteNone {
			return 0
		}
		return 1 + a.devs[d-1].host
	}
	hosts := make([]PlanHost, 1+len(c.hosts))
	hosts[0] = PlanHost{Name: "head", Role: "head", Used: true}
	for i, h := range c.hosts {
		l := h.Link
		hosts[1+i] = PlanHost{Name: h.Name, Role: "rpc", Address: h.rpcAddr(), Link: &l}
	}
	for d, dm := range b.Devices {
		ph := &hosts[owner(d)]
		name, backend := dm.Name, "CPU"
		if d > 0 {
			backend = a.devs[d-1].backend
		}
		units := len(dm.Layers)
		if b.Output == d {
			units++
			ph.Output = true
		}
		ph.Devices = append(ph.Devices, HostDevice{Device: d, Name: name, Backend: backend, Layers: units})
		ph.Layers = append(ph.Layers, dm.Layers...)
		ph.WeightsBytes += dm.WeightsBytes
		if d > 0 && a.devs[d-1].kind != RemoteNone && a.counts[d] > 0 {
			ph.Used = true
		}
	}
	for i := range hosts {
		u := a.hosts[i]
		ph := &hosts[i]
		ph.RAMBytes, ph.RAMPeakBytes, ph.RAMAvailableBytes, ph.RAMMarginBytes = u.ram, u.peak, u.avail, u.margin
		ph.WorkBytes, ph.LoadTransientBytes = u.work, u.transient
		if i > 0 && ph.Used {
			ph.RAMLowBytes, ph.RAMHighBytes = u.low, u.high
		}
		ph.Fits = u.fits
		if ph.Layers == nil {
			ph.Layers = []int{}
		}
		if i == 0 || !ph.Used {
			continue
		}
		h, t := c.hosts[i-1], timing[i-1]
		ph.ProcessBytes = rpcServerBaseBytes
		ph.LoadNetworkBytes = t.loadBytes
		ph.LoadSeconds = round3(t.load)
		ph.DecodeNetworkSeconds = t.decodeNet
		if h.Cache {
			ph.CacheDiskBytes = t.cacheDisk
			ph.CachedLoadSeconds = round3(t.cachedLoad)
		}
		if h.Addr != "" {
			ph.Command = h.command(ph.Devices)
		}
	}
	for i := range hosts {
		if hosts[i].Command == nil {
			hosts[i].Command = []string{}
		}
	}
	return hosts
}

// command is the ggml-rpc-server command line for h exposing devs (-d in
// the order the plan numbers them).
func (h *clusterHost) command(devs []HostDevice) []string {
	host, port, _ := net.SplitHostPort(h.Addr)
	var names []string
	for _, d := range devs {
		names = append(names, d.Backend)
	}
	cmd := []string{"ggml-rpc-server", "-H", host, "-p", port, "-t", strconv.Itoa(h.threads), "-d", strings.Join(names, ",")}
	if h.Cache {
		cmd = append(cmd, "-c")
	}
	return cmd
}

// rpcServers is llama-server's --rpc value: the used hosts' addresses in
// plan order, which is the order of their devices.
func (p *Plan) rpcServers() string {
	var out []string
	for _, h := range p.Hosts {
		if h.Role == "rpc" && h.Used {
			out = append(out, h.Address)
		}
	}
	return strings.Join(out, ",")
}

// explain adds the reasons and warnings of a cluster plan.
func (c *cluster) explain(p *Plan, a *clusterAttempt) {
	n := c.m.nLayer + 1
	var used, unused []string
	for _, h := range p.Hosts[1:] {
		if h.Used {
			used = append(used, h.Name)
		} else {
			unused = append(unused, h.Name)
		}
	}
	switch {
	case len(used) == 0:
		p.why("hosts", "none", "the model fits the head alone, which is predicted faster than sending activations over the network every token")
	case len(unused) == 0:
		p.why("hosts", strings.Join(used, ","), "every host takes layers: the model needs their memory")
	default:
		p.why("hosts", strings.Join(used, ","), "%s left out: the model fits without %s, and every host in the chain adds round trips to each token", strings.Join(unused, ", "), map[bool]string{true: "it", false: "them"}[len(unused) == 1])
	}
	for _, h := range p.Hosts {
		if !h.Used {
			continue
		}
		var parts []string
		for _, d := range h.Devices {
			if d.Layers == 0 && d.Device != 0 {
				continue
			}
			parts = append(parts, fmt.Sprintf("%s (%s) %d", d.Name, d.Backend, d.Layers))
		}
		what := fmt.Sprintf("layers %s", layerRange(h.Layers))
		if h.Output {
			what += " and the output"
		}
		if len(h.Layers) == 0 && !h.Output {
			what = "no layers: the token embedding and the graph inputs"
		}
		if h.Role == "head" {
			p.why("head", strings.Join(parts, ", "), "%s; RAM %s of %s (CPU buffers and the mapped weights decode reads: a plan over hosts keeps every weight in memory)", what, human(h.RAMPeakBytes), human(h.RAMAvailableBytes))
			continue
		}
		p.why(h.Name, strings.Join(parts, ", "), "%s; RAM %s steady, %s at load (a tensor in flight) of %s, with a %s margin; weights arrive over %s in about %.3g s",
			what, human(h.RAMBytes), human(h.RAMPeakBytes), human(h.RAMAvailableBytes), human(h.RAMMarginBytes), h.Link.Name, h.LoadSeconds)
	}
	if len(a.s.TensorSplit) > 0 {
		p.why("tensor_split", fmtSplit(a.s.TensorSplit), "layers per device in llama.cpp's order: the RPC devices first (in --rpc order, each server's in its -d order), then the head's GPUs; the head's CPU keeps the first %d of the %d units (the output layer counted)", a.counts[0], n)
	}
	p.why("n_gpu_layers", strconv.Itoa(a.s.NGPULayers), "the layers on other devices than the head's CPU, the output layer counted first")
	if a.s.MMap {
		p.why("mmap", "on", "the head maps the file: its own layers stay page cache, and what it sends to the hosts is read through the mapping once")
	}
	for _, h := range p.Hosts {
		if h.Role == "rpc" && h.Used && len(h.Command) == 0 {
			p.Warnings = append(p.Warnings, fmt.Sprintf("no address for %s: give it as NAME=SNAPSHOT@IPV4:PORT to get its ggml-rpc-server command; the head reaches it as %s", h.Name, h.Address))
		}
		if h.Role == "rpc" && h.Used && h.Address != "" && !isLoopback(h.Address) {
			p.Warnings = append(p.Warnings, fmt.Sprintf("ggml-rpc-server on %s listens on %s: the RPC protocol has no authentication or encryption, anyone who reaches that port can read and write the server's memory buffers; run it only on a private network", h.Name, h.Address))
		}
	}
}

// layerRange renders sorted layer indices as ranges: "0-11, 40".
func layerRange(ls []int) string {
	if len(ls) == 0 {
		return "none"
	}
	var parts []string
	for i := 0; i < len(ls); {
		j := i
		for j+1 < len(ls) && ls[j+1] == ls[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(ls[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", ls[i], ls[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// noFit says what each host lacks in the placement with every device.
func (c *cluster) noFit(a, least *clusterAttempt) *NoFitError {
	e := &NoFitError{}
	minOf := func(i int) uint64 {
		if least != nil && i < len(least.hosts) && least.hosts[i].used {
			return least.hosts[i].peak + least.hosts[i].margin
		}
		return 0
	}
	var short uint64
	var worst string
	var worstShort uint64
	for i, u := range a.hosts {
		name := "head"
		if i > 0 {
			name = c.hosts[i-1].Name
		}
		need := u.peak + u.margin
		if !u.used {
			need = 0
		}
		ds := DeviceShortfall{Name: name, NeedBytes: need, AvailableBytes: u.avail, MinNeedBytes: min(need, max(minOf(i), 1))}
		if !u.used {
			ds.MinNeedBytes = 0
		}
		if need > u.avail {
			ds.ShortBytes = need - u.avail
		}
		e.Devices = append(e.Devices, ds)
		short += u.short
		if u.short > worstShort {
			worst, worstShort = name, u.short
		}
	}
	for d, dev := range a.devs {
		dm := a.b.Devices[1+d]
		owner := "head"
		if dev.kind != RemoteNone {
			owner = c.hosts[dev.host].Name
			if dev.kind == RemoteCPU {
				continue
			}
		}
		ds := DeviceShortfall{Name: owner + " " + dev.backend, NeedBytes: dm.TotalBytes + a.margin[1+d], AvailableBytes: a.avail[1+d]}
		ds.MinNeedBytes = ds.NeedBytes
		if ds.NeedBytes > ds.AvailableBytes {
			ds.ShortBytes = ds.NeedBytes - ds.AvailableBytes
		}
		e.Devices = append(e.Devices, ds)
	}
	e.Reason = fmt.Sprintf("the hosts cannot hold the model: filled fastest first, %s would need %s more; the hosts lack %s in all", worst, human(worstShort), human(short))
	for i, u := range a.hosts {
		if u.short == 0 {
			continue
		}
		name, what := "head", "CPU buffers and mapped weights"
		if i > 0 {
			name, what = c.hosts[i-1].Name, fmt.Sprintf("server %s, weights, KV and compute, work buffer %s, a tensor of %s in flight at load", human(rpcServerBaseBytes), human(u.work), human(u.transient))
		}
		e.Reason += fmt.Sprintf("; %s needs %s (%s) with a %s margin, %s available", name, human(u.peak+u.margin), what, human(u.margin), human(u.avail))
	}
	return e
}
