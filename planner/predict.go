package planner

import (
	"fmt"
	"strings"
)

// Prediction is the plan's expected load time and speed, with the
// assumptions behind it.
type Prediction struct {
	LoadSeconds            float64  `json:"load_seconds"`
	PrefillTokensPerSecond float64  `json:"prefill_tokens_per_second"`
	DecodeTokensPerSecond  float64  `json:"decode_tokens_per_second"`
	DecodeBound            string   `json:"decode_bound"` // what limits decode: "host memory bandwidth", "GPU memory bandwidth", "disk reads (paging)"
	Assumptions            []string `json:"assumptions"`
}

// Speed-model constants, measured on this project's reference machine
// (docs/PERF.md of the shared notes: 2 vCPUs, AVX-512) and public specs.
const (
	hostBWPerThread  = 17e9  // bytes/s one decode thread streams (29 GB/s with 1 thread is the raw bus; llama.cpp reaches ~0.6 of it on Q4_K)
	hostBWMax        = 100e9 // a dual-channel-per-socket ceiling for unknown hosts
	decodeEfficiency = 0.9   // llama.cpp decodes at 0.9–1.0× memory bandwidth
	gpuBWDefault     = 900e9 // bytes/s, when the GPU's bandwidth is unknown
	pcieBW           = 20e9  // bytes/s host→GPU copies (PCIe 4.0 x16, effective)
	ssdBW            = 1.7e9 // cold sequential reads measured here: 1.5–1.9 GB/s
	hddBW            = 0.15e9
	netFSBW          = 0.3e9
	anonTouchPerByte = 0.5 / (1 << 30) // s/byte: first touch of anonymous memory in a VM (≥0.5 s/GiB measured)
	hostFlopsThread  = 25e9            // sustained quantized matmul FLOP/s per AVX-512 core
	gpuFlopsDefault  = 50e12
	// Per-token cost that does not scale with bytes: graph building and
	// thread synchronisation, about 20 µs a layer plus 100 µs.
	tokenOverheadBase  = 100e-6
	tokenOverheadLayer = 20e-6
)

// predictDecode returns decode tokens/s for settings s (used to compare MoE
// placements).
func predictDecode(m *model, mc *machine, s Settings, req Request) float64 {
	a, err := check(m, mc, s, req)
	if err != nil {
		return 0
	}
	return predict(m, mc, a, req).DecodeTokensPerSecond
}

func predict(m *model, mc *machine, a *attempt, req Request) Prediction {
	var p Prediction
	s := a.s
	hostBW := mc.snap.CPU.MemoryBandwidth
	if hostBW <= 0 {
		hostBW = min(float64(max(s.Threads, 1))*hostBWPerThread, hostBWMax)
		p.Assumptions = append(p.Assumptions, fmt.Sprintf("host memory bandwidth %.0f GB/s (%d threads × %.0f GB/s; measure and set it in the snapshot for better figures)", hostBW/1e9, s.Threads, hostBWPerThread/1e9))
	}
	diskBW, diskWhat := diskBandwidth(mc, req)
	p.Assumptions = append(p.Assumptions, fmt.Sprintf("model read at %.2f GB/s (%s)", diskBW/1e9, diskWhat))

	// Bytes each device streams per decoded token: its weights, with MoE
	// experts counted at the used fraction, plus its KV cache.
	frac := 1.0
	if m.h.ExpertCount > 0 && m.h.ExpertUsedCount > 0 {
		frac = float64(m.h.ExpertUsedCount) / float64(m.h.ExpertCount)
	}
	perDev := make([]float64, len(a.b.Devices))
	flops := make([]float64, len(a.b.Devices))
	devOf := func(t *tinfo) int {
		switch {
		case t.layer >= 0:
			return a.b.LayerDevice[t.layer]
		case t.out:
			return a.b.Output
		}
		return 0
	}
	overrides, _ := m.overrides(s.Overrides, a.b.Devices)
	for i := range m.tensors {
		t := &m.tensors[i]
		if t.name == "token_embd.weight" {
			continue // one row read per token
		}
		d := devOf(t)
		for _, o := range overrides {
			if o.match[i] {
				d = o.dev
				break
			}
		}
		f := 1.0
		if t.exps {
			f = frac
		}
		perDev[d] += float64(t.size) * f
		var elems float64 = 1
		for _, x := range t.shape {
			elems *= float64(x)
		}
		flops[d] += 2 * elems * f
	}
	for d, dm := range a.b.Devices {
		perDev[d] += float64(dm.KVBytes) / 2 // half the context filled on average
	}
	var tDecode, tPrefill float64
	bound, worst := "", 0.0
	for d := range a.b.Devices {
		bw, fl := hostBW*decodeEfficiency, float64(max(s.Threads, 1))*hostFlopsThread
		name := "host memory bandwidth"
		if d > 0 {
			g := mc.gpus[d-1]
			bw = g.BandwidthBytes
			if bw <= 0 {
				bw = gpuBWDefault
				p.Assumptions = append(p.Assumptions, fmt.Sprintf("%s bandwidth %.0f GB/s (unknown; give it with --gpu NAME=SIZE:BW)", a.b.Devices[d].Name, bw/1e9))
			}
			bw *= decodeEfficiency
			fl = gpuFlopsDefault
			name = "GPU memory bandwidth"
		}
		td := perDev[d] / bw
		tDecode += td
		if td > worst {
			worst, bound = td, name
		}
		// Prefill: compute-bound per token, or the weights streamed once per ubatch.
		tPrefill += max(flops[d]/fl, perDev[d]/bw/float64(max(s.NUbatch, 1)))
	}
	// Paging: the part of the host working set that does not fit in RAM is
	// read from disk for every token.
	cpu := a.b.Devices[0]
	if s.MMap {
		room := float64(a.avail[0]) - float64(cpu.TotalBytes)
		if miss := float64(cpu.ResidentBytes) - max(room, 0); miss > 0 {
			missFrac := miss / float64(cpu.ResidentBytes)
			tp := perDev[0] * missFrac / diskBW
			tDecode += tp
			tPrefill += tp / float64(max(s.NUbatch, 1))
			bound = "disk reads (paging)"
		}
	}
	tDecode += tokenOverheadBase + tokenOverheadLayer*float64(m.nLayer)
	if tDecode > 0 {
		p.DecodeTokensPerSecond = round2(1 / tDecode)
	}
	if tPrefill > 0 {
		p.PrefillTokensPerSecond = round2(1 / tPrefill)
	}
	p.DecodeBound = bound

	// Load: bytes not yet in the page cache from disk, GPU uploads, and the
	// first touch of anonymous copies.
	var fileBytes, resident float64
	fileBytes = float64(m.f.TensorBytes())
	resident = residentFraction(mc) * fileBytes
	load := (fileBytes - resident) / diskBW
	var gpuBytes float64
	for d := 1; d < len(a.b.Devices); d++ {
		gpuBytes += float64(a.b.Devices[d].WeightsBytes)
	}
	load += gpuBytes / pcieBW
	anon := float64(cpu.AnonWeightsBytes + cpu.RepackBytes)
	load += anon * anonTouchPerByte
	if s.MMap && cpu.ResidentBytes > 0 {
		// With mmap the weights are read as they are first touched; the
		// estimate counts that in the load (llama.cpp warms them up).
		p.Assumptions = append(p.Assumptions, "mmap: load time counts reading the host weights once (llama.cpp's warm-up run touches them)")
	}
	p.LoadSeconds = round2(load)
	return p
}

func diskBandwidth(mc *machine, req Request) (float64, string) {
	if req.DiskBandwidth > 0 {
		return req.DiskBandwidth, "given"
	}
	for _, f := range mc.snap.Files {
		if f.ReadBandwidth > 0 {
			return f.ReadBandwidth, "measured"
		}
		switch {
		case strings.Contains("nfs cifs smb2 fuse ceph lustre gpfs", f.Filesystem) && f.Filesystem != "":
			return netFSBW, "network filesystem " + f.Filesystem
		case f.Filesystem == "tmpfs" || f.Filesystem == "ramfs":
			return 10e9, "in-memory filesystem"
		case f.Rotational != nil && *f.Rotational:
			return hddBW, "rotational disk"
		}
	}
	return ssdBW, "SSD cold sequential read"
}

func round2(x float64) float64 {
	return float64(int64(x*100+0.5)) / 100
}
