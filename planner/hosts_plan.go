package planner

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/probe"
)

// cluster is what the search over several hosts needs: the head's machine,
// the hosts, and every device that could take layers.
type cluster struct {
	m     *model
	head  *machine
	hosts []*clusterHost
	// devs are the candidate offload devices in llama.cpp's order: each
	// host's GPUs then its CPU, host by host, then the head's GPUs. Device
	// d of a Breakdown over them is devs[d-1]; 0 is the head's CPU.
	devs []clusterDev
	req  Request
	// Per repeating layer: its largest tensor (what a server receives in
	// one message) and the largest work-buffer need per token of its matrix
	// products on a CPU (see cpuWorkPerToken).
	layerMaxTensor, layerWork []uint64
	outputMaxTensor           uint64
	memo                      map[string]*clusterAttempt
}

type clusterHost struct {
	Host
	mc      *machine
	threads int
	margin  uint64
}

type clusterDev struct {
	host    int        // index into cluster.hosts; -1 for the head's own GPUs
	kind    RemoteKind // RemoteNone for a head GPU
	backend string     // the device's name on its host: CPU, CUDA0, ROCm0
	gpu     probe.GPU  // for GPUs
	rate    float64    // decode bytes/s, to order the fill
}

// clusterAttempt is one evaluated placement.
type clusterAttempt struct {
	s      Settings
	counts []int // layers per device (the output layer counted), head CPU first
	devs   []clusterDev
	b      *Breakdown
	avail  []uint64 // per device, as in attempt
	margin []uint64
	hosts  []hostUse // the head first, then cluster.hosts
	ram    []devRAM  // per device: what it puts in its host's RAM
	fits   bool
}

// hostUse is one host's memory in an attempt.
type hostUse struct {
	used                     bool
	ram, peak, avail, margin uint64
	low, high                uint64 // the range of ram a server can show (see PlanHost)
	work, transient          uint64
	ramFits, fits            bool
	short                    uint64 // bytes missing, RAM and GPUs together
}

func newCluster(f *gguf.File, m *model, head *machine, req Request) (*cluster, error) {
	c := &cluster{m: m, head: head, req: req, memo: map[string]*clusterAttempt{}}
	names := map[string]bool{"head": true}
	addrs := map[string]string{}
	for i, h := range req.Hosts {
		if h.Name == "" {
			h.Name = fmt.Sprintf("host%d", i+1)
		}
		if names[h.Name] {
			return nil, fmt.Errorf("planner: host name %q given twice (\"head\" is the local machine)", h.Name)
		}
		names[h.Name] = true
		if h.Snapshot == nil {
			return nil, fmt.Errorf("planner: host %s has no snapshot", h.Name)
		}
		if h.Addr != "" {
			a, err := ParseRPCAddr(h.Addr)
			if err != nil {
				return nil, fmt.Errorf("planner: host %s: %w", h.Name, err)
			}
			if other, ok := addrs[a]; ok {
				return nil, fmt.Errorf("planner: hosts %s and %s share the RPC address %s", other, h.Name, a)
			}
			addrs[a], h.Addr = h.Name, a
		}
		if h.Link.BytesPerSecond <= 0 {
			h.Link = DefaultLink
			if h.Addr != "" && isLoopback(h.Addr) {
				h.Link = linkPresets["loopback"]
			}
		}
		mc, _ := newMachine(f, m, h.Snapshot, req)
		ch := &clusterHost{Host: h, mc: mc, threads: h.Threads}
		if ch.threads <= 0 {
			ch.threads = usableCores(h.Snapshot)
		}
		ch.margin, _ = margins(head, req)
		c.hosts = append(c.hosts, ch)
	}
	dominant := dominantType(m)
	cpuRate := func(mc *machine, threads int) float64 {
		bw, _ := hostBandwidth(mc, threads)
		return min(float64(threads)*kernelRate(dominant), bw*hostMemEff)
	}
	gpuRate := func(g probe.GPU) float64 {
		bw := g.BandwidthBytes
		if bw <= 0 {
			bw = gpuBWDefault
		}
		return bw * gpuMemEff
	}
	for hi, h := range c.hosts {
		for gi, g := range h.Snapshot.GPUs {
			c.devs = append(c.devs, clusterDev{host: hi, kind: RemoteGPU, backend: gpuName(g, gi), gpu: g, rate: gpuRate(g)})
		}
		c.devs = append(c.devs, clusterDev{host: hi, kind: RemoteCPU, backend: "CPU", rate: cpuRate(h.mc, h.threads)})
	}
	for gi, g := range head.gpus {
		c.devs = append(c.devs, clusterDev{host: -1, backend: gpuName(g, gi), gpu: g, rate: gpuRate(g)})
	}
	c.layerMaxTensor = make([]uint64, m.nLayer)
	c.layerWork = make([]uint64, m.nLayer)
	for i := range m.tensors {
		t := &m.tensors[i]
		switch {
		case t.layer >= 0:
			c.layerMaxTensor[t.layer] = max(c.layerMaxTensor[t.layer], t.size)
			c.layerWork[t.layer] = max(c.layerWork[t.layer], cpuWorkPerToken(m, t))
		case t.out:
			c.outputMaxTensor = max(c.outputMaxTensor, t.size)
		}
	}
	if m.tied != nil {
		c.outputMaxTensor = max(c.outputMaxTensor, m.tied.size)
	}
	return c, nil
}

func usableCores(s *probe.Snapshot) int {
	cores := s.CPU.PhysicalCores
	if u := int(s.CPU.UsableCores); u > 0 && u < cores {
		cores = u
	}
	return max(cores, 1)
}

// dominantType is the weight type holding the most bytes of the layers.
func dominantType(m *model) gguf.Type {
	by := map[gguf.Type]uint64{}
	for i := range m.tensors {
		if m.tensors[i].layer >= 0 {
			by[m.tensors[i].typ] += m.tensors[i].size
		}
	}
	best, n := gguf.TypeQ4_K, uint64(0)
	for t, b := range by {
		if b > n || b == n && t < best {
			best, n = t, b
		}
	}
	return best
}

// cpuWorkPerToken is what ggml-cpu's work buffer needs per token for the
// matrix product with weight t: the activations converted to the weight
// type's vec_dot type (ggml_graph_plan, GGML_OP_MUL_MAT and MUL_MAT_ID: Q8_0
// for the 32-wide quants, Q8_1 for Q4_1/Q5_1, Q8_K for the 256-wide ones,
// F16/BF16 for those types, nothing for F32), one row per token and, for
// MoE experts, per used expert.
func cpuWorkPerToken(m *model, t *tinfo) uint64 {
	if len(t.shape) < 2 || t.name == "token_embd.weight" {
		return 0
	}
	k := t.shape[0]
	var row uint64
	switch t.typ {
	case gguf.TypeF32:
		return 0
	case gguf.TypeF16, gguf.TypeBF16:
		row = 2 * k
	case gguf.TypeQ4_1, gguf.TypeQ5_1:
		row = (k + 31) / 32 * 36
	default:
		if t.typ.BlockSize() == 256 {
			row = (k + 255) / 256 * 292
		} else {
			row = (k + 31) / 32 * 34
		}
	}
	if t.exps && m.h.ExpertUsedCount > 0 {
		row *= m.h.ExpertUsedCount
	}
	return row
}

// env returns the estimate's environment over devs, named as llama.cpp
// will name them: RPC0, RPC1, … in order, the head's GPUs by their own names.
func (c *cluster) env(devs []clusterDev) Env {
	e := c.head.env
	e.GPUs, e.GPUFree, e.Remote, e.GPUHostMapped = nil, nil, nil, nil
	rpc := 0
	for _, d := range devs {
		name := d.backend
		if d.kind != RemoteNone {
			name = "RPC" + strconv.Itoa(rpc)
			rpc++
		}
		free := d.gpu.FreeBytes
		if d.kind == RemoteCPU {
			free = c.hosts[d.host].Snapshot.Memory.EffectiveAvailableBytes
		}
		e.GPUs = append(e.GPUs, name)
		e.GPUFree = append(e.GPUFree, free)
		e.Remote = append(e.Remote, d.kind)
		// A server's buffers are its own allocations, never the head's
		// file pages (Metal maps them only on the machine itself).
		e.GPUHostMapped = append(e.GPUHostMapped, d.kind == RemoteNone && d.gpu.Vendor == "apple")
	}
	return e
}

// eval estimates settings s with counts layers per device over devs.
func (c *cluster) eval(s Settings, devs []clusterDev, counts []int) (*clusterAttempt, error) {
	var key strings.Builder
	fmt.Fprint(&key, s, len(devs), counts)
	if a, ok := c.memo[key.String()]; ok {
		return a, nil
	}
	n := c.m.nLayer + 1
	t := s
	t.NGPULayers = n - counts[0]
	t.TensorSplit = make([]float64, len(devs))
	for i := range devs {
		t.TensorSplit[i] = float64(counts[1+i])
	}
	b, err := c.m.estimate(t, c.env(devs))
	if err != nil {
		return nil, err
	}
	a := &clusterAttempt{s: t, counts: append([]int(nil), counts...), devs: devs, b: b}
	c.check(a)
	c.memo[key.String()] = a
	return a, nil
}

// check sets what every device and host needs against what it has.
func (c *cluster) check(a *clusterAttempt) {
	hm, gm := margins(c.head, c.req)
	b := a.b
	a.avail = make([]uint64, len(b.Devices))
	a.margin = make([]uint64, len(b.Devices))
	a.hosts = make([]hostUse, 1+len(c.hosts))
	// The largest tensor each device holds: what a server receives in one
	// message, and what the head copies into one.
	largest := make([]uint64, len(b.Devices))
	for il, d := range b.LayerDevice {
		largest[d] = max(largest[d], c.layerMaxTensor[il])
	}
	largest[b.Output] = max(largest[b.Output], c.outputMaxTensor)
	work := make([]uint64, len(b.Devices))
	for il, d := range b.LayerDevice {
		work[d] = max(work[d], c.layerWork[il])
	}
	ub := uint64(max(min(a.s.NUbatch, a.s.NBatch), 1))
	var sent uint64
	for d, dev := range a.devs {
		d++
		if dev.kind == RemoteNone {
			a.avail[d], a.margin[d] = dev.gpu.FreeBytes, gm
			continue
		}
		if a.counts[d] > 0 {
			sent = max(sent, largest[d])
			u := &a.hosts[1+dev.host]
			u.used = true
			u.transient = max(u.transient, largest[d])
		}
		if dev.kind == RemoteGPU {
			a.avail[d], a.margin[d] = dev.gpu.FreeBytes, gm
		} else {
			a.avail[d], a.margin[d] = c.hosts[dev.host].Snapshot.Memory.EffectiveAvailableBytes, hm
		}
	}
	a.avail[0], a.margin[0] = c.head.hostAvail, hm
	a.fits = true
	// The head: its CPU buffers, the mapped weights decode reads (a cluster
	// plan keeps every weight in memory), and at load the copy of the
	// largest tensor it sends.
	cpu := b.Devices[0]
	head := &a.hosts[0]
	head.used, head.avail, head.margin = true, c.head.hostAvail, hm
	head.ram = cpu.TotalBytes + cpu.ResidentBytes
	for d, dev := range a.devs {
		if dev.kind == RemoteNone && dev.gpu.UnifiedMemory {
			head.ram += b.Devices[1+d].TotalBytes
		}
	}
	head.transient = sent
	head.peak = max(head.ram, cpu.AnonWeightsBytes+cpu.RepackBytes+cpu.ResidentBytes+sent)
	head.ramFits = head.peak+hm <= head.avail
	head.fits = head.ramFits
	if !head.ramFits {
		head.short += head.peak + hm - head.avail
	}
	for d, dev := range a.devs {
		if dev.kind == RemoteNone {
			if dm := b.Devices[1+d]; dm.TotalBytes+gm > dev.gpu.FreeBytes {
				head.fits = false
				head.short += dm.TotalBytes + gm - dev.gpu.FreeBytes
			}
		}
	}
	a.fits = head.fits
	// The servers: the CPU device's buffers and work buffer next to the
	// server process; at load the weights and the tensor in flight. A GPU
	// only needs the process and the tensor in flight in RAM.
	a.ram = make([]devRAM, len(b.Devices))
	for d, dev := range a.devs {
		if dev.kind == RemoteNone || a.counts[1+d] == 0 {
			continue
		}
		dm := b.Devices[1+d]
		r := &a.ram[1+d]
		r.transient = largest[1+d]
		switch {
		case dev.kind == RemoteCPU:
			r.work = work[1+d]*ub + 64*uint64(c.hosts[dev.host].threads)
			r.steady = dm.TotalBytes + r.work
			r.load = dm.AnonWeightsBytes
			r.low = dm.AnonWeightsBytes + dm.KVBytes + dm.StateBytes
			r.high = dm.TotalHighBytes + r.work
		case dev.gpu.UnifiedMemory:
			r.steady, r.load = dm.TotalBytes, dm.AnonWeightsBytes
		}
	}
	for hi, h := range c.hosts {
		u := &a.hosts[1+hi]
		u.avail, u.margin = h.Snapshot.Memory.EffectiveAvailableBytes, h.margin
		if !u.used {
			u.fits, u.ramFits = true, true
			continue
		}
		u.fits = true
		var low, high uint64
		for d, dev := range a.devs {
			if dev.host != hi || a.counts[1+d] == 0 {
				continue
			}
			r := a.ram[1+d]
			u.work += r.work
			low += r.low
			high += r.high
			if dm := b.Devices[1+d]; dev.kind == RemoteGPU && dm.TotalBytes+gm > dev.gpu.FreeBytes {
				u.fits = false
				u.short += dm.TotalBytes + gm - dev.gpu.FreeBytes
			}
		}
		u.ram, u.peak = a.hostRAM(hi, func(int) bool { return true })
		u.low = low
		u.high = max(u.peak, high+rpcServerBaseBytes)
		u.ramFits = u.peak+u.margin <= u.avail
		if !u.ramFits {
			u.fits = false
			u.short += u.peak + u.margin - u.avail
		}
		a.fits = a.fits && u.fits
	}
}

// devRAM is what an RPC device puts in its host's RAM.
type devRAM struct {
	steady, load, transient uint64 // serving; weights at load; the largest tensor received
	work, low, high         uint64
}

// hostRAM sums the RAM host hi needs, steady and at its peak, over its
// devices that hold layers and that count.
func (a *clusterAttempt) hostRAM(hi int, count func(d int) bool) (ram, peak uint64) {
	ram = rpcServerBaseBytes
	var load, transient uint64
	for d, dev := range a.devs {
		if dev.host != hi || dev.kind == RemoteNone || a.counts[1+d] == 0 || !count(1+d) {
			continue
		}
		r := a.ram[1+d]
		ram += r.steady
		load += r.load
		transient = max(transient, r.transient)
	}
	return ram, max(ram, rpcServerBaseBytes+load+transient)
}

// devFits reports whether device d fits, and its host's RAM with the
// devices of filled (while a fill runs, the devices not filled yet hold
// the layers left over: their memory must not count against their host).
func (a *clusterAttempt) devFits(d int, filled []int) bool {
	if d == 0 {
		return a.hosts[0].ramFits
	}
	dev := a.devs[d-1]
	dm := a.b.Devices[d]
	if dev.kind == RemoteNone {
		return dm.TotalBytes+a.margin[d] <= a.avail[d]
	}
	if dev.kind == RemoteGPU && dm.TotalBytes+a.margin[d] > a.avail[d] {
		return false
	}
	u := a.hosts[1+dev.host]
	_, peak := a.hostRAM(dev.host, func(e int) bool { return slices.Contains(filled, e) })
	return peak+u.margin <= u.avail
}

func (a *clusterAttempt) shortfall() uint64 {
	var s uint64
	for _, h := range a.hosts {
		s += h.short
	}
	return s
}

// capacity is a first guess of the bytes device d can take for layers.
func (c *cluster) capacity(d int) uint64 {
	hm, gm := margins(c.head, c.req)
	if d == 0 {
		return sub(c.head.hostAvail, hm)
	}
	dev := c.devs[d-1]
	if dev.kind == RemoteCPU {
		return sub(c.hosts[dev.host].Snapshot.Memory.EffectiveAvailableBytes, hm+rpcServerBaseBytes)
	}
	return sub(dev.gpu.FreeBytes, gm+orDefaultU(c.req.GPUOverheadBytes, DefaultGPUOverhead))
}

func sub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// order is the fill order: the fastest devices first; among equals the
// head's own devices (no network) first, or with remoteFirst last (so that
// the hosts take the first layers, which in some models are smaller).
func (c *cluster) order(s Settings, remoteFirst bool) []int {
	ds := make([]int, 1+len(c.devs))
	for i := range ds {
		ds[i] = i
	}
	rate := func(d int) float64 {
		if d == 0 {
			bw, _ := hostBandwidth(c.head, s.Threads)
			return min(float64(max(s.Threads, 1))*kernelRate(dominantType(c.m)), bw*hostMemEff)
		}
		return c.devs[d-1].rate
	}
	rates := make([]float64, len(ds))
	for _, d := range ds {
		rates[d] = rate(d)
	}
	local := func(d int) bool { return d == 0 || c.devs[d-1].kind == RemoteNone }
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if rates[a] != rates[b] {
			return rates[a] > rates[b]
		}
		return local(a) != remoteFirst && local(b) == remoteFirst
	})
	return ds
}

// fill gives each device of seq, in turn, the most layers it holds with
// what came before; the last of seq takes what is left. A device's layers
// depend on the counts before it in llama.cpp's order: when a later fill
// moves an earlier device onto larger layers (DeepSeek's first three are
// dense and small), that device gives layers back to the last one.
func (c *cluster) fill(s Settings, seq []int) (*clusterAttempt, error) {
	n := c.m.nLayer + 1
	counts := make([]int, 1+len(c.devs))
	var layerBytes uint64
	for _, b := range c.head.layerBytes {
		layerBytes += b
	}
	avgLayer := max(layerBytes/uint64(max(c.m.nLayer, 1)), 1)
	sink := seq[len(seq)-1]
	counts[sink] = n
	for i, d := range seq[:len(seq)-1] {
		filled := seq[:i+1]
		before := append([]int(nil), counts...)
		// try gives d k layers; it reports whether d and the devices
		// filled before it fit, the latter giving back layers if needed.
		try := func(k int) (bool, error) {
			copy(counts, before)
			counts[d], counts[sink] = k, before[sink]-k
			for {
				a, err := c.eval(s, c.devs, counts)
				if err != nil {
					return false, err
				}
				if !a.devFits(d, filled) {
					return false, nil
				}
				over := -1
				for _, e := range filled[:i] {
					if !a.devFits(e, filled) {
						over = e
						break
					}
				}
				if over < 0 {
					return true, nil
				}
				if counts[over] == 0 {
					return false, nil
				}
				counts[over]--
				counts[sink]++
			}
		}
		guess := int(min(c.capacity(d)/avgLayer, uint64(before[sink])))
		k, err := maxTrue(0, before[sink], guess, try)
		if err != nil {
			return nil, err
		}
		if ok, err := try(max(k, 0)); err != nil {
			return nil, err
		} else if !ok {
			copy(counts, before)
		}
	}
	return c.eval(s, c.devs, counts)
}

// polish moves single layers from slower devices of seq to faster ones
// while that fits and is predicted faster: the fill gives each device what
// it holds where the earlier fills left it, and a layer given back may fit
// again elsewhere. It returns the placement and its decode speed.
func (c *cluster) polish(s Settings, a *clusterAttempt, seq []int) (*clusterAttempt, float64, error) {
	rate := func(d int) float64 {
		if d == 0 {
			bw, _ := hostBandwidth(c.head, s.Threads)
			return min(float64(max(s.Threads, 1))*kernelRate(dominantType(c.m)), bw*hostMemEff)
		}
		return c.devs[d-1].rate
	}
	best := c.predict(a).DecodeTokensPerSecond
	for range len(seq) * len(seq) {
		improved := false
		for _, to := range seq {
			for _, from := range seq {
				if from == to || a.counts[from] == 0 || rate(to) <= rate(from) {
					continue
				}
				counts := append([]int(nil), a.counts...)
				counts[from]--
				counts[to]++
				b, err := c.eval(s, c.devs, counts)
				if err != nil {
					return nil, 0, err
				}
				if !b.fits {
					continue
				}
				if r := c.predict(b).DecodeTokensPerSecond; r > best {
					a, best, improved = b, r, true
				}
			}
		}
		if !improved {
			break
		}
	}
	return a, best, nil
}

// place chooses the devices and their layers for settings s: for each
// prefix of the fill order that can hold the weights, fill it, and keep the
// placement predicted fastest. It returns that placement (nil when none
// fits) and the one with every device, for what a misfit lacks.
func (c *cluster) place(s Settings) (best, all *clusterAttempt, err error) {
	var weights uint64
	for _, b := range c.head.layerBytes {
		weights += b
	}
	weights += c.head.outputBytes
	bestRate := 0.0
	for _, remoteFirst := range []bool{false, true} {
		seq := c.order(s, remoteFirst)
		var room uint64
		for k := 1; k <= len(seq); k++ {
			room += c.capacity(seq[k-1])
			if room < weights && k < len(seq) {
				continue
			}
			a, err := c.fill(s, seq[:k])
			if err != nil {
				return nil, nil, err
			}
			if k == len(seq) && !remoteFirst {
				all = a
			}
			if !a.fits {
				continue
			}
			a, r, err := c.polish(s, a, seq)
			if err != nil {
				return nil, nil, err
			}
			if best == nil || r > bestRate {
				best, bestRate = a, r
			}
		}
	}
	return best, all, nil
}

// search tries the wanted settings, then the fallbacks the request allows
// in the order of search (plan_search.go): a smaller ubatch, the longest
// context that fits, a quantized KV cache; and turns the head's repacking
// off when that is what breaks the fit.
func (c *cluster) search(ctx context.Context, s Settings) (fit, wanted, least *clusterAttempt, err error) {
	try := func(kv string, nctx, ub int) (*clusterAttempt, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t := s
		t.NUbatch, t.NCtx = ub, nctx
		t.NBatch = max(t.NBatch, t.NUbatch)
		if kv != s.CacheTypeK {
			t.CacheTypeK, t.CacheTypeV, t.FlashAttn = kv, kv, true
		}
		a, all, err := c.place(t)
		if err == nil && a == nil && !c.req.Pinned.NoRepack && !t.NoRepack && all.b.Devices[0].RepackBytes > 0 && !all.hosts[0].ramFits {
			t.NoRepack = true
			a, all, err = c.place(t)
		}
		if err != nil {
			return nil, err
		}
		if wanted == nil {
			wanted = all
		}
		if a == nil && (least == nil || all.shortfall() < least.shortfall()) {
			least = all
		}
		return a, nil
	}
	ubs := ubChoices(s, c.req)
	for _, kv := range kvChoices(s, c.req) {
		for _, ub := range ubs {
			a, err := try(kv, s.NCtx, ub)
			if err != nil || a != nil {
				return a, wanted, least, err
			}
		}
		if !c.req.AllowShrinkContext || c.req.Pinned.NCtx {
			continue
		}
		smallest := ubs[len(ubs)-1]
		var best *clusterAttempt
		lo, hi := minContext(s, c.req)/256, s.NCtx/256-1
		for lo <= hi {
			mid := (lo + hi) / 2
			a, err := try(kv, mid*256, smallest)
			if err != nil {
				return nil, nil, nil, err
			}
			if a != nil {
				best, lo = a, mid+1
			} else {
				hi = mid - 1
			}
		}
		if best != nil {
			return best, wanted, least, nil
		}
	}
	return nil, wanted, least, nil
}

// compact keeps the devices of a that take layers, and the head's GPUs
// (llama.cpp uses those whether or not they hold layers), and estimates
// again with the names llama.cpp will give them.
func (c *cluster) compact(a *clusterAttempt) (*clusterAttempt, error) {
	var devs []clusterDev
	counts := []int{a.counts[0]}
	for d, dev := range a.devs {
		if a.counts[1+d] > 0 || dev.kind == RemoteNone {
			devs = append(devs, dev)
			counts = append(counts, a.counts[1+d])
		}
	}
	return c.eval(a.s, devs, counts)
}

// makeCluster plans f over the head machine and req.Hosts.
func makeCluster(ctx context.Context, p *Plan, f *gguf.File, m *model, head *machine, req Request) (*Plan, error) {
	if req.Pinned.TensorSplit || req.Pinned.NGPULayers || req.Pinned.Overrides || req.Settings.NoKVOffload {
		return nil, fmt.Errorf("planner: a plan over several hosts chooses -ngl and -ts itself and keeps each layer's KV cache with it; pinning -ngl, -ts, -ot or -nkvo is not supported with hosts")
	}
	if orRuntime(req.Runtime).profile().Ollama {
		return nil, fmt.Errorf("planner: Ollama has no way to use ggml-rpc-server hosts: plan them for llama.cpp")
	}
	c, err := newCluster(f, m, head, req)
	if err != nil {
		return nil, err
	}
	s := initialSettings(m, head, req, p)
	fit, wanted, least, err := c.search(ctx, s)
	if err != nil {
		return nil, err
	}
	last := wanted
	if fit != nil {
		last = fit
		explainFallback(p, s, fit.s)
	}
	if last, err = c.compact(last); err != nil {
		return nil, err
	}
	if least == nil {
		least = last
	}
	c.finish(p, last, least)
	if !p.Fits {
		p.NoFit.Nearest = c.oneMore(ctx, f, m, head, req)
		return p, p.NoFit
	}
	return p, nil
}

// oneMore says whether one more host like the largest would hold the
// model, and how many like it it takes (up to four more).
func (c *cluster) oneMore(ctx context.Context, f *gguf.File, m *model, head *machine, req Request) string {
	big := 0
	size := func(h Host) uint64 {
		n := h.Snapshot.Memory.EffectiveAvailableBytes
		for _, g := range h.Snapshot.GPUs {
			n += g.FreeBytes
		}
		return n
	}
	for i, h := range req.Hosts {
		if size(h) > size(req.Hosts[big]) {
			big = i
		}
	}
	like := req.Hosts[big]
	r := req
	r.Hosts = append([]Host(nil), req.Hosts...)
	for k := 1; k <= 4; k++ {
		h := like
		h.Name, h.Addr = fmt.Sprintf("%s-like-%d", like.Name, k), ""
		r.Hosts = append(r.Hosts, h)
		c2, err := newCluster(f, m, head, r)
		if err != nil {
			return ""
		}
		fit, _, _, err := c2.search(ctx, initialSettingsQuiet(m, head, r))
		if err != nil {
			return ""
		}
		if fit != nil {
			return fmt.Sprintf("fits with %d more host(s) like %s (%s)", k, like.Name, human(size(like)))
		}
	}
	return ""
}
