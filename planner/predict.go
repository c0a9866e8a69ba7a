package planner

import (
	"fmt"
	"math"
	"strings"

	"github.com/modelfit/modelfit/gguf"
)

// Prediction is the plan's expected load time and speed, with the
// assumptions behind it.
//
// The speed model is a roofline per device. Decoding one token reads, on
// every device, the weights it holds (MoE experts at the used fraction
// n_expert_used/n_expert) plus half its KV cache; the time is those bytes
// over the device's rate, summed over devices (layers run one after the
// other), plus a per-layer overhead. A CPU thread streams each weight type
// at its kernel's rate, and all threads together at most at the host's
// memory bandwidth. When mapped host weights exceed the RAM left, the
// missing share of every token's host bytes is read from disk. Prefill is
// compute-bound per token (2 FLOPs per weight) or streams the weights once
// per ubatch, whichever is slower; with a GPU present, llama.cpp runs big
// batches of host-resident matrices on the GPU, so their upload over PCIe
// bounds it. Load reads the bytes not in the page cache at the disk's speed,
// uploads GPU weights over PCIe and first-touches anonymous copies.
//
// Calibration (TestPredictionAccuracy): against llama-bench (llama.cpp build
// 6529, CPU, 1 and 2 threads) on the reference machine of the shared notes
// (2 Zen 4 vCPUs, AVX-512, 29/34 GB/s), decode is within 12% and prefill
// within 25% for qwen2.5-0.5B Q8_0 and llama-3.1-8B Q4_K_M/Q8_0. GPU figures
// rest on public specifications and one public llama.cpp measurement
// (RTX 3090, gemma-3-4B Q4_K_M, about 0.5 of the memory bandwidth): treat
// them as ±40%.
type Prediction struct {
	LoadSeconds            float64 `json:"load_seconds"`
	PrefillTokensPerSecond float64 `json:"prefill_tokens_per_second"`
	DecodeTokensPerSecond  float64 `json:"decode_tokens_per_second"`
	DecodeBound            string  `json:"decode_bound"` // what limits decode: "host memory bandwidth", "GPU memory bandwidth", "disk reads (paging)", "disk reads (streaming)"
	// DiskBytesPerToken is what decode reads from disk for every token
	// because the mapped host weights do not all stay in RAM (0 when they
	// do); DiskShare is its share of the host weight bytes a token reads.
	DiskBytesPerToken float64  `json:"disk_bytes_per_token"`
	DiskShare         float64  `json:"disk_share"`
	Assumptions       []string `json:"assumptions"`

	// DiskReadBytesPerSecond is the speed the model's file is read at: for
	// loading, and for the weights paged in while decoding.
	DiskReadBytesPerSecond float64 `json:"disk_read_bytes_per_second"`
}

// Speed-model constants. Host figures were measured on the reference machine
// (shared notes PERF.md: AMD Zen 4, 2 vCPUs, AVX-512); the rest are stated
// assumptions that a measured snapshot or a flag overrides.
const (
	hostBW1Thread = 29e9  // bytes/s one thread streams from memory (measured B1)
	hostBW2Thread = 34e9  // bytes/s two threads stream (measured B2)
	hostBWPerMore = 8e9   // assumed gain per further thread, up to hostBWMax
	hostBWMax     = 150e9 // assumed ceiling for a host of unknown bandwidth
	hostMemEff    = 0.95  // llama.cpp reaches 0.9–1.0 of the bus bandwidth
	gpuBWDefault  = 900e9 // bytes/s, when the GPU's bandwidth is unknown
	gpuMemEff     = 0.55  // llama.cpp CUDA decode: about half the bandwidth on mid-size models
	pcieBW        = 20e9  // bytes/s host→GPU copies (PCIe 4.0 x16, effective)
	ssdBW         = 1.7e9 // cold sequential reads measured here: 1.5–1.9 GB/s
	hddBW         = 0.15e9
	netFSBW       = 0.3e9
	memFSBW       = 10e9
	// First touch of anonymous memory: ≥0.5 s/GiB measured in a VM with free
	// page reporting (2.8–3.8 s/GiB in another boot of the same VM); bare
	// metal is faster.
	anonTouchPerByte = 0.5 / (1 << 30)
	// Minor faults on a cached file's mapping and reads of a cached file,
	// measured on the reference machine by plan calibrate (8.97–9.20 and
	// 3.12–3.59 GB/s).
	mmapFaultBW = 9e9
	warmReadBW  = 3.1e9
	// Sustained quantized matrix-multiplication FLOP/s per thread in prefill:
	// 113–140 GFLOP/s measured with AVX-512 VNNI; AVX2 and older assumed.
	hostFlopsAVX512 = 120e9
	hostFlopsAVX2   = 60e9
	hostFlopsOther  = 15e9
	gpuFlopsDefault = 50e12
	// Per-token costs that do not scale with bytes: graph building and
	// thread synchronisation (fitted: about 20 µs per layer and thread
	// doubling on the host), kernel launches on GPUs.
	tokenOverheadBase     = 100e-6
	tokenOverheadHostLyr  = 20e-6
	tokenOverheadGPULayer = 15e-6
)

// kernelRate is the bytes/s one CPU thread's matrix-vector kernel consumes
// for weights of type t: the 1-thread decode speed of llama.cpp on the
// reference machine (Q8_0 22.2–22.8 GB/s, Q4_K 17.7 GB/s measured; the other
// types assumed from their block complexity).
func kernelRate(t gguf.Type) float64 {
	switch t {
	case gguf.TypeQ8_0, gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16:
		return 22.5e9
	case gguf.TypeQ4_0, gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1, gguf.TypeIQ4_NL:
		return 20e9
	}
	return 17.7e9 // k-quants and i-quants
}

// predictDecode returns decode tokens/s for settings s (used to compare MoE
// placements).
func predictDecode(m *model, mc *machine, s Settings, req Request) float64 {
	a, err := check(m, mc, s, req)
	if err != nil {
		return 0
	}
	return predict(m, mc, a, req).DecodeTokensPerSecond
}

// hostBandwidth returns the host memory bandwidth for threads, measured or
// assumed, and says which.
func hostBandwidth(mc *machine, threads int) (float64, string) {
	if bw := mc.snap.CPU.MemoryBandwidth; bw > 0 {
		return bw, ""
	}
	bw := hostBW1Thread
	if threads >= 2 {
		bw = min(hostBW2Thread+hostBWPerMore*float64(threads-2), hostBWMax)
	}
	return bw, fmt.Sprintf("host memory bandwidth %.0f GB/s for %d threads, assumed: 29 and 34 GB/s measured with 1 and 2 threads on the reference machine, %.0f GB/s more per further thread up to %.0f GB/s; give the measured figure with --host-bw", bw/1e9, threads, hostBWPerMore/1e9, hostBWMax/1e9)
}

func hostFlops(mc *machine) float64 {
	if mc.assumedCPU {
		return hostFlopsAVX2
	}
	has := func(f string) bool {
		for _, x := range mc.env.CPUFeatures {
			if x == f {
				return true
			}
		}
		return false
	}
	switch {
	case has("avx512f") || has("avx512_vnni") || has("sve") || has("i8mm"):
		return hostFlopsAVX512
	case has("avx2") || has("neon") || has("dotprod"):
		return hostFlopsAVX2
	}
	return hostFlopsOther
}

func predict(m *model, mc *machine, a *attempt, req Request) Prediction {
	p := Prediction{Assumptions: []string{}}
	s := a.s
	threads := max(s.Threads, 1)
	hostBW, note := hostBandwidth(mc, threads)
	cal := newCalibrated(req.Speed, threads)
	if cal.bw > 0 && note != "" {
		hostBW, note = cal.bw, ""
	} else {
		cal.bw = 0 // a bandwidth given with the machine wins
	}
	if note != "" {
		p.Assumptions = append(p.Assumptions, note)
	}
	diskBW, diskWhat := diskBandwidth(mc, req)
	p.DiskReadBytesPerSecond = diskBW
	p.Assumptions = append(p.Assumptions, fmt.Sprintf("model read at %.2f GB/s (%s)", diskBW/1e9, diskWhat))

	// Seconds each device spends streaming weights per decoded token, and
	// the bytes and FLOPs behind them.
	nDev := len(a.b.Devices)
	tDev := make([]float64, nDev)
	bytes := make([]float64, nDev)
	full := make([]float64, nDev) // all weights: a large batch touches every expert
	flops := make([]float64, nDev)
	frac := 1.0
	if m.h.ExpertCount > 0 && m.h.ExpertUsedCount > 0 {
		frac = float64(m.h.ExpertUsedCount) / float64(m.h.ExpertCount)
	}
	gpuBW := make([]float64, nDev)
	for d := 1; d < nDev; d++ {
		g := mc.gpus[d-1]
		gpuBW[d] = g.BandwidthBytes
		if gpuBW[d] <= 0 {
			gpuBW[d] = gpuBWDefault
			p.Assumptions = append(p.Assumptions, fmt.Sprintf("%s bandwidth %.0f GB/s (unknown; give it with --gpu NAME=SIZE:BW)", a.b.Devices[d].Name, gpuBW[d]/1e9))
		}
	}
	hostCeil := hostBW * hostMemEff
	overrides, _ := m.overrides(s.Overrides, a.b.Devices)
	for i := range m.tensors {
		t := &m.tensors[i]
		d := 0
		switch {
		case t.layer >= 0:
			d = a.b.LayerDevice[t.layer]
		case t.out:
			d = a.b.Output
		case t.name == "token_embd.weight" && mc.tied:
			d = a.b.Output // the output projection reads the tied embedding
		case t.name == "token_embd.weight":
			continue // one row read per token
		}
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
		n := float64(t.size) * f
		bytes[d] += n
		full[d] += float64(t.size)
		elems := 1.0
		for _, x := range t.shape {
			elems *= float64(x)
		}
		flops[d] += 2 * elems * f
		if d == 0 {
			tDev[0] += cal.decodeSeconds(t, n, threads, hostCeil)
			cal.addFLOPs(t, 2*elems*f, max(s.NUbatch, 1))
		} else {
			tDev[d] += n / (gpuBW[d] * gpuMemEff)
		}
	}
	for d, dm := range a.b.Devices {
		kv := float64(dm.KVBytes) / 2 // half the context filled on average
		bytes[d] += kv
		if d == 0 {
			tDev[0] += kv / hostCeil
		} else {
			tDev[d] += kv / (gpuBW[d] * gpuMemEff)
		}
	}

	var tDecode, tPrefill float64
	bound, worst := "", 0.0
	ub := float64(max(min(s.NUbatch, s.NBatch), 1))
	offloadOps := nDev > 1 && ub >= 32
	for d := range a.b.Devices {
		tDecode += tDev[d]
		if tDev[d] > worst {
			worst, bound = tDev[d], "host memory bandwidth"
			if d > 0 {
				bound = "GPU memory bandwidth"
			}
		}
		switch {
		case d == 0 && offloadOps && full[0] > 0:
			// llama.cpp uploads host weights to the GPU for batches of 32
			// or more and multiplies there.
			tPrefill += max(full[0]/linkBandwidth(mc, 1, hostBW)/ub, flops[0]/gpuFlops(mc, 1))
		case d == 0 && cal.pt != nil:
			tPrefill += cal.prefillSeconds(threads, hostFlops(mc), len(a.b.Devices[0].Layers))
		case d == 0:
			tPrefill += max(flops[0]/(float64(threads)*hostFlops(mc)), tDev[0]*full[0]/max(bytes[0], 1)/ub)
		default:
			tPrefill += max(flops[d]/gpuFlops(mc, d), tDev[d]*full[d]/max(bytes[d], 1)/ub)
		}
	}
	if nDev > 1 {
		p.Assumptions = append(p.Assumptions, fmt.Sprintf("GPU prefill at %.0f TFLOP/s and %.0f%% of the memory bandwidth in decode (llama.cpp %s; not calibrated here)", gpuFlops(mc, 1)/1e12, gpuMemEff*100, gpuBackend(mc)))
	}
	if offloadOps && full[0] > 0 {
		p.Assumptions = append(p.Assumptions, fmt.Sprintf("prefill: host-resident weights are copied to the GPU for each ubatch (llama.cpp's op offload) at %.0f GB/s", linkBandwidth(mc, 1, hostBW)/1e9))
	}
	// Paging: the part of the host working set that does not fit in RAM is
	// read from disk for every token. On demand (mmap), a dense model's
	// decode is a cyclic scan over more weights than fit, which defeats the
	// kernel's LRU: every page is evicted just before its next use, so the
	// whole host working set is read every token (measured: llama.cpp
	// --no-repack, 8B Q4_K_M, 2 GiB cgroup, 0.30 tok/s at 1.3 GB/s; MoE
	// models keep their hot experts, so only the missing share is counted
	// there). The built-in engine's streaming policy (StreamWeights,
	// exec/stream.go) keeps what fits resident and reads only the rest, one
	// layer ahead of compute, so disk and compute overlap.
	cpu := a.b.Devices[0]
	warmup := tDecode // the warmup decode, before paging: the load counts the file's reads
	if s.MMap && cpu.ResidentBytes > 0 {
		room := float64(a.avail[0]) - float64(hostCommitted(mc, a.b)) - float64(a.margin[0])
		if miss := float64(cpu.ResidentBytes) - max(room, 0); miss > 0 {
			missFrac := miss / float64(cpu.ResidentBytes)
			switch {
			case s.StreamWeights:
				tDecode = max(tDecode, bytes[0]*missFrac/diskBW)
				bound = "disk reads (streaming)"
				p.DiskBytesPerToken, p.DiskShare = math.Round(bytes[0]*missFrac), round3(missFrac)
				p.Assumptions = append(p.Assumptions, fmt.Sprintf("%.0f%% of the host weights are streamed from disk each token, overlapped with compute", missFrac*100))
			case m.h.ExpertCount == 0:
				tDecode += bytes[0] / diskBW
				bound = "disk reads (paging)"
				p.DiskBytesPerToken, p.DiskShare = math.Round(bytes[0]), 1
				p.Assumptions = append(p.Assumptions, fmt.Sprintf("%.0f%% of the host weights do not fit in RAM: paged on demand, every weight is read from disk each token", missFrac*100))
			default:
				tDecode += bytes[0] * missFrac / diskBW
				bound = "disk reads (paging)"
				p.DiskBytesPerToken, p.DiskShare = math.Round(bytes[0]*missFrac), round3(missFrac)
				p.Assumptions = append(p.Assumptions, fmt.Sprintf("%.0f%% of the host weights a token touches are not in RAM and are read from disk each token", missFrac*100))
			}
			tPrefill += full[0] * missFrac / diskBW / ub
		}
	}
	hostLayers, gpuLayers := 0, 0
	for _, d := range a.b.LayerDevice {
		if d == 0 {
			hostLayers++
		} else {
			gpuLayers++
		}
	}
	tDecode += cal.overhead(threads, hostLayers) + tokenOverheadGPULayer*float64(gpuLayers)
	p.Assumptions = append(p.Assumptions, cal.notes()...)
	if tDecode > 0 {
		p.DecodeTokensPerSecond = round3(1 / tDecode)
	}
	if tPrefill > 0 {
		p.PrefillTokensPerSecond = round3(1 / tPrefill)
	}
	p.DecodeBound = bound

	// Load, until the server answers: what llama.cpp does before then.
	//  - The file: pages not in the page cache come from disk; cached pages
	//    cost a minor fault each when mapped (by the warmup decode at the
	//    latest) or a copy when read without mmap (src/llama-model-loader.cpp,
	//    load_all_data).
	//  - Fresh anonymous memory, written for the first time: weights read
	//    without mmap, the CPU_REPACK copy (ggml-cpu/repack.cpp), the KV
	//    cache, which llama_kv_cache clears when it is created
	//    (src/llama-kv-cache.cpp), and the compute buffers the warmup runs in.
	//  - GPU uploads, and the warmup decode itself (common/common.cpp,
	//    common_init_from_params: one batch of BOS and EOS).
	fileBytes := float64(m.f.TensorBytes())
	resident := residentFraction(mc)
	load := fileBytes * (1 - resident) / diskBW
	touch, touchWhat := firstTouchCost(req.Speed)
	if s.MMap && cpu.MappedBytes > 0 {
		load += fileBytes * resident / mmapFaultRate(req.Speed)
		p.Assumptions = append(p.Assumptions, "mmap: load time counts faulting in the whole file once (the warmup decode touches every weight)")
	} else {
		load += fileBytes * resident / warmReadRate(req.Speed)
	}
	var gpuBytes float64
	for d := 1; d < nDev; d++ {
		if !mc.gpus[d-1].UnifiedMemory { // a unified GPU reads the file into host RAM: no upload
			gpuBytes += float64(a.b.Devices[d].WeightsBytes)
		}
	}
	load += gpuBytes / pcieBW
	fresh := float64(cpu.AnonWeightsBytes + cpu.RepackBytes + cpu.KVBytes + cpu.StateBytes + cpu.ComputeBytes)
	load += fresh * touch
	if fresh > 0 {
		p.Assumptions = append(p.Assumptions, fmt.Sprintf("load: %s of fresh host memory written once (weights, repack, KV cache, compute) at %.2f s/GiB (%s)", human(uint64(fresh)), touch*(1<<30), touchWhat))
	}
	load += warmup
	p.LoadSeconds = round3(load)
	return p
}

// netFilesystems are filesystems where one sequential read beats page
// faults and where reads are slow.
var netFilesystems = map[string]bool{"nfs": true, "nfs4": true, "cifs": true, "smb2": true, "smb3": true,
	"fuse": true, "ceph": true, "lustre": true, "gpfs": true, "9p": true, "virtiofs": true}

func isNetFS(fs string) bool {
	return netFilesystems[fs] || strings.HasPrefix(fs, "fuse.")
}

func diskBandwidth(mc *machine, req Request) (float64, string) {
	if req.DiskBandwidth > 0 {
		return req.DiskBandwidth, "given"
	}
	for _, f := range mc.snap.Files {
		switch {
		case f.ReadBandwidth > 0:
			return f.ReadBandwidth, "measured"
		case isNetFS(f.Filesystem):
			return netFSBW, "network filesystem " + f.Filesystem + ", assumed"
		case f.Filesystem == "tmpfs" || f.Filesystem == "ramfs":
			return memFSBW, "in-memory filesystem"
		case f.Rotational != nil && *f.Rotational:
			return hddBW, "rotational disk, assumed"
		}
	}
	return ssdBW, "SSD cold sequential read, assumed; give it with --disk-bw"
}

// firstTouchCost returns the seconds per byte of writing fresh anonymous
// memory: measured by plan calibrate, else assumed.
func firstTouchCost(p *SpeedProfile) (float64, string) {
	if p != nil && p.FirstTouchBandwidth > 0 {
		return 1 / p.FirstTouchBandwidth, "measured"
	}
	return anonTouchPerByte, "assumed; plan calibrate measures it"
}

// mmapFaultRate returns the bytes/s at which a mapping of a cached file is
// faulted in: measured by plan calibrate, else assumed.
func mmapFaultRate(p *SpeedProfile) float64 {
	if p != nil && p.MmapFaultBandwidth > 0 {
		return p.MmapFaultBandwidth
	}
	return mmapFaultBW
}

// warmReadRate returns the bytes/s of reading a cached file: measured by
// plan calibrate, else assumed.
func warmReadRate(p *SpeedProfile) float64 {
	if p != nil && p.WarmReadBandwidth > 0 {
		return p.WarmReadBandwidth
	}
	return warmReadBW
}

// round3 keeps three significant digits: the model is not more precise,
// and slow plans (0.0347 tok/s) keep their figure.
func round3(x float64) float64 {
	if x <= 0 || math.IsInf(x, 0) || math.IsNaN(x) {
		return 0
	}
	p := math.Pow(10, 2-math.Floor(math.Log10(x)))
	return math.Round(x*p) / p
}
