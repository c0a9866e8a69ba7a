package planner

import (
	"fmt"
	"math"
)

// hostTiming is one host's share of the predicted times.
type hostTiming struct {
	loadBytes                   uint64
	load, cachedLoad            float64
	decodeNet, prefillNetUbatch float64
	cacheDisk                   uint64
}

// rate is how device d of a streams weights in decode (bytes/s per weight
// type through kernel) and whether it is a CPU.
type devRate struct {
	cpu     bool
	threads int
	ceil    float64 // CPU: memory bandwidth × efficiency; GPU: bandwidth × efficiency
	flops   float64 // CPU: per thread; GPU: total
}

func (c *cluster) rates(a *clusterAttempt) []devRate {
	r := make([]devRate, len(a.b.Devices))
	bw, _ := hostBandwidth(c.head, a.s.Threads)
	r[0] = devRate{cpu: true, threads: max(a.s.Threads, 1), ceil: bw * hostMemEff, flops: hostFlops(c.head)}
	for i, dev := range a.devs {
		d := 1 + i
		if dev.kind == RemoteCPU {
			h := c.hosts[dev.host]
			bw, _ := hostBandwidth(h.mc, h.threads)
			r[d] = devRate{cpu: true, threads: h.threads, ceil: bw * hostMemEff, flops: hostFlops(h.mc)}
			continue
		}
		g := dev.gpu.BandwidthBytes
		if g <= 0 {
			g = gpuBWDefault
		}
		r[d] = devRate{ceil: g * gpuMemEff, flops: gpuFlopsDefault}
	}
	return r
}

// tensorDevice returns, per tensor of the model, the device that holds it
// in a, and -1 for the token embedding of an untied model (decode reads a
// row of it; it never leaves the head).
func (c *cluster) tensorDevice(a *clusterAttempt) []int {
	m := c.m
	out := make([]int, len(m.tensors))
	for i := range m.tensors {
		t := &m.tensors[i]
		switch {
		case t.layer >= 0:
			out[i] = a.b.LayerDevice[t.layer]
		case t.out:
			out[i] = a.b.Output
		case t.name == "token_embd.weight":
			out[i] = -1
		case t.perLayer:
			out[i] = a.b.LayerDevice[0]
		}
	}
	return out
}

// predict is the speed and load model of a cluster placement: predict's
// roofline (predict.go) per device, each host's CPU at its own bandwidth and
// threads, plus the network. Layers run one device after the other, and
// every hop of the activations to, from or between hosts goes through the
// head (see hosts.go): a SET_TENSOR carries them to a server, a GET_TENSOR
// (one round trip, which also waits for that server's graph) brings them
// back; each server also gets its graph inputs (the attention mask, n_kv ×
// tokens in f16 with flash attention, else f32, and the positions), and
// when the last device is remote the logits come back from it. Load reads
// the file once on the head, hashes every tensor over 10 MiB it sends, and
// sends it over the host's link; with -c later loads read those from the
// host's disk instead.
func (c *cluster) predict(a *clusterAttempt) Prediction {
	p, _ := c.predictHosts(a)
	return p
}

func (c *cluster) predictHosts(a *clusterAttempt) (Prediction, []hostTiming) {
	m := c.m
	s := a.s
	p := Prediction{Assumptions: []string{}}
	b := a.b
	nDev := len(b.Devices)
	rates := c.rates(a)
	frac := 1.0
	if m.h.ExpertCount > 0 && m.h.ExpertUsedCount > 0 {
		frac = float64(m.h.ExpertUsedCount) / float64(m.h.ExpertCount)
	}
	tDev := make([]float64, nDev)
	bytes := make([]float64, nDev)
	full := make([]float64, nDev)
	flops := make([]float64, nDev)
	timing := make([]hostTiming, len(c.hosts))
	where := c.tensorDevice(a)
	diskBW, diskWhat := diskBandwidth(c.head, c.req)
	var load float64
	localGPU := false
	for _, dev := range a.devs {
		localGPU = localGPU || dev.kind == RemoteNone
	}
	send := func(d int, size uint64) {
		if d <= 0 {
			return
		}
		dev := a.devs[d-1]
		switch dev.kind {
		case RemoteNone:
			load += float64(size) / pcieBW
			return
		}
		h := c.hosts[dev.host]
		ht := &timing[dev.host]
		link := h.Link
		var copyIn float64
		if dev.kind == RemoteGPU {
			copyIn = float64(size) / pcieBW
		} else {
			copyIn = float64(size) * anonTouchPerByte
		}
		remoteDisk, _ := diskBandwidth(h.mc, Request{})
		if size > rpcHashThreshold {
			hash := float64(size)/fnvRate + link.RTTSeconds
			ht.load += hash + float64(size)/link.BytesPerSecond + copyIn
			ht.cachedLoad += hash + float64(size)/remoteDisk + copyIn
			if h.Cache {
				ht.load += float64(size) / remoteDisk // written to the cache
				ht.cacheDisk += size
			}
		} else {
			ht.load += float64(size)/link.BytesPerSecond + copyIn
			ht.cachedLoad += float64(size)/link.BytesPerSecond + copyIn
		}
		ht.loadBytes += size
	}
	for i := range m.tensors {
		t := &m.tensors[i]
		d := where[i]
		if d < 0 {
			continue
		}
		send(d, t.size)
		f := 1.0
		if t.exps {
			f = frac
		}
		n := float64(t.size) * f
		bytes[d] += n
		full[d] += float64(t.size)
		elems := 1.0
		for _, x := range t.shape {
			elems *= float64(x)
		}
		flops[d] += 2 * elems * f
		if r := rates[d]; r.cpu {
			tDev[d] += n / min(float64(r.threads)*kernelRate(t.typ), r.ceil)
		} else {
			tDev[d] += n / r.ceil
		}
	}
	if m.tied != nil && b.Output > 0 {
		send(b.Output, m.tied.size) // the output's copy of the embedding
		bytes[b.Output] += float64(m.tied.size)
		full[b.Output] += float64(m.tied.size)
		tDev[b.Output] += float64(m.tied.size) / rates[b.Output].ceil
	}
	for d, dm := range b.Devices {
		kv := float64(dm.KVBytes) / 2
		bytes[d] += kv
		tDev[d] += kv / rates[d].ceil
	}

	// Compute, device after device.
	var tDecode, tPrefill float64
	bound, worst := "", 0.0
	ub := float64(max(min(s.NUbatch, s.NBatch), 1))
	layers := make([]int, nDev)
	for _, d := range b.LayerDevice {
		layers[d]++
	}
	for d := range b.Devices {
		r := rates[d]
		tDecode += tDev[d]
		if tDev[d] > worst {
			worst, bound = tDev[d], c.devWhat(a, d)
		}
		switch {
		case d == 0 && localGPU && ub >= opOffloadMinBatch && full[0] > 0:
			tPrefill += max(full[0]/pcieBW/ub, flops[0]/gpuFlopsDefault)
		case r.cpu:
			tPrefill += max(flops[d]/(float64(r.threads)*r.flops), tDev[d]*full[d]/max(bytes[d], 1)/ub)
		default:
			tPrefill += max(flops[d]/r.flops, tDev[d]*full[d]/max(bytes[d], 1)/ub)
		}
		if r.cpu {
			tDecode += tokenOverheadHostLyr * (1 + math.Log2(float64(r.threads))) * float64(layers[d])
		} else {
			tDecode += tokenOverheadGPULayer * float64(layers[d])
		}
	}
	tDecode += tokenOverheadBase

	// The network, per decoded token and per ubatch of prefill.
	nKV := max(b.NCtx/max(s.NParallel, 1)/2, 1)
	decodeNet := c.network(a, 1, nKV, timing, true)
	prefillNet := c.network(a, int(ub), nKV, timing, false)
	if decodeNet > worst {
		bound = "network (round trips and activations between hosts)"
	}
	tDecode += decodeNet
	tPrefill += prefillNet / ub
	if tDecode > 0 {
		p.DecodeTokensPerSecond = round3(1 / tDecode)
	}
	if tPrefill > 0 {
		p.PrefillTokensPerSecond = round3(1 / tPrefill)
	}
	p.DecodeBound = bound

	// Load: the head reads the file once (what it keeps and what it sends),
	// writes its fresh memory once as a single-host plan does (predict), then
	// each host's share goes over its link.
	cpu := b.Devices[0]
	fileBytes, resident := float64(m.f.TensorBytes()), residentFraction(c.head)
	load += fileBytes * (1 - resident) / diskBW
	if a.s.MMap && cpu.MappedBytes > 0 {
		load += fileBytes * resident / mmapFaultRate(c.req.Speed)
	} else {
		load += fileBytes * resident / warmReadRate(c.req.Speed)
	}
	touch, _ := firstTouchCost(c.req.Speed)
	load += float64(cpu.AnonWeightsBytes+cpu.RepackBytes+cpu.KVBytes+cpu.StateBytes+cpu.ComputeBytes) * touch
	for _, t := range timing {
		load += t.load
	}
	p.LoadSeconds = round3(load)

	if note := func() string { _, n := hostBandwidth(c.head, a.s.Threads); return n }(); note != "" {
		p.Assumptions = append(p.Assumptions, "head: "+note)
	}
	p.Assumptions = append(p.Assumptions, fmt.Sprintf("model read at %.2f GB/s on the head (%s)", diskBW/1e9, diskWhat))
	used := map[int]bool{}
	for _, dev := range a.devs {
		if dev.kind != RemoteNone {
			used[dev.host] = true
		}
	}
	for hi, h := range c.hosts {
		if !used[hi] {
			continue
		}
		given := "given"
		if h.Link.Assumed {
			given = "assumed; give --link"
		}
		p.Assumptions = append(p.Assumptions, fmt.Sprintf("link to %s: %s, %.3g GB/s payload, %.0f µs round trip (%s)", h.Name, h.Link.Name, h.Link.BytesPerSecond/1e9, h.Link.RTTSeconds*1e6, given))
		if _, n := hostBandwidth(h.mc, h.threads); n != "" {
			p.Assumptions = append(p.Assumptions, h.Name+": "+n)
		}
	}
	if len(used) > 0 {
		p.Assumptions = append(p.Assumptions, fmt.Sprintf("RPC: each hop of the activations to or from a host goes through the head (a round trip to fetch them); the head hashes every tensor over 10 MiB it sends at %.2f GB/s (FNV-1a, measured)", fnvRate/1e9))
	}
	if localGPU {
		p.Assumptions = append(p.Assumptions, fmt.Sprintf("GPU prefill at %.0f TFLOP/s and %.0f%% of the memory bandwidth in decode (llama.cpp CUDA; not calibrated here)", gpuFlopsDefault/1e12, gpuMemEff*100))
	}
	return p, timing
}

// devWhat names what limits decode on device d.
func (c *cluster) devWhat(a *clusterAttempt, d int) string {
	if d == 0 {
		return "host memory bandwidth"
	}
	dev := a.devs[d-1]
	switch dev.kind {
	case RemoteCPU:
		return "memory bandwidth of " + c.hosts[dev.host].Name
	case RemoteGPU:
		return "GPU memory bandwidth of " + c.hosts[dev.host].Name
	}
	return "GPU memory bandwidth"
}

// network returns the seconds the hops between devices take for a batch of
// tokens, nKV cells attended, and adds each host's share to timing.
func (c *cluster) network(a *clusterAttempt, tokens, nKV int, timing []hostTiming, decode bool) float64 {
	b := a.b
	T := float64(tokens)
	act := float64(c.m.h.EmbeddingLength) * 4 * T
	maskElem := 4.0
	if a.s.FlashAttn {
		maskElem = 2
	}
	inputs := float64(nKV)*T*maskElem + 4*T
	// The chain of devices that compute: the head's CPU (the embeddings),
	// then every device with layers or the output, in device order.
	chain := []int{0}
	for d := 1; d < len(b.Devices); d++ {
		if len(b.Devices[d].Layers) > 0 || b.Output == d {
			chain = append(chain, d)
		}
	}
	host := func(d int) int {
		if d == 0 || a.devs[d-1].kind == RemoteNone {
			return -1
		}
		return a.devs[d-1].host
	}
	var total float64
	add := func(h int, sec float64) {
		total += sec
		if decode {
			timing[h].decodeNet += sec
		} else {
			timing[h].prefillNetUbatch += sec
		}
	}
	link := func(h int) Link { return c.hosts[h].Link }
	for i := 1; i < len(chain); i++ {
		x, y := host(chain[i-1]), host(chain[i])
		if x >= 0 {
			// Fetch from x (a round trip that waits for its graph); two
			// devices of one server first try a COPY_TENSOR, which fails
			// between a CPU and a GPU buffer.
			sec := link(x).RTTSeconds + act/link(x).BytesPerSecond
			if x == y {
				sec += link(x).RTTSeconds
			}
			add(x, sec)
		}
		if y >= 0 {
			add(y, (act+inputs)/link(y).BytesPerSecond)
		}
	}
	if z := host(chain[len(chain)-1]); z >= 0 {
		// The logits of the last token come back from the last device.
		add(z, link(z).RTTSeconds+float64(c.m.h.VocabSize)*4/link(z).BytesPerSecond)
	}
	return total
}
