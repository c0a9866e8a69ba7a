package planner

import (
	"fmt"

	"github.com/modelfit/modelfit/probe"
)

// Unified memory: GPUs that allocate from the host's RAM (probe.GPU's
// UnifiedMemory: Apple Silicon, NVIDIA GB10/Jetson, AMD APUs). Their
// buffers are charged to the host as well as to the GPU's own budget
// (check), and the host's room for mapped weights leaves them out
// (hostCommitted), so that nothing is counted twice or missed.
//
// Apple's Metal backend goes further: its device can wrap host memory in
// place (buffer_from_host_ptr), so with mmap llama.cpp maps the file range
// holding the Metal layers' weights into a "MTL0_Mapped" buffer instead of
// copying them (src/llama-model.cpp, load_tensors: use_mmap &&
// buffer_from_host_ptr_supported; ggml-metal-device.m,
// ggml_metal_buffer_map). That buffer counts against Metal's working set
// (recommendedMaxWorkingSetSize, the device's total in llama.cpp) and its
// pages stay resident while the GPU uses them. CUDA and HIP report
// buffer_from_host_ptr = false even on integrated GPUs: they copy.

// metalPage is Apple Silicon's page size: the mapped range is page-aligned.
const metalPage = 16 << 10

// hostMapped reports whether GPU device d (1-based) maps host memory in
// place: an Apple GPU (llama.cpp's Metal backend).
func (e Env) hostMapped(d int) bool {
	return d >= 1 && d <= len(e.GPUHostMapped) && e.GPUHostMapped[d-1]
}

// mappedRanges collects, per host-mapping GPU and file part, the span of
// the tensors placed there.
type mappedRanges map[int]map[int][2]int64 // device → part → [first, end)

// add places tensor i of m on the host-mapping device dm: with mmap its
// bytes stay the file's pages (the span is charged at the end); without,
// they are read into a Metal buffer (no CUDA row padding).
func (r mappedRanges) add(m *model, i, d int, dm *DeviceMemory, mmap bool) {
	t := &m.tensors[i]
	dm.WeightsBytes += t.size
	if !mmap {
		dm.AnonWeightsBytes += t.size
		return
	}
	ft := &m.f.Tensors[i]
	parts := r[d]
	if parts == nil {
		parts = map[int][2]int64{}
		r[d] = parts
	}
	span, ok := parts[ft.Part]
	if !ok {
		span = [2]int64{ft.Offset, ft.Offset + ft.Size}
	}
	span[0], span[1] = min(span[0], ft.Offset), max(span[1], ft.Offset+ft.Size)
	parts[ft.Part] = span
}

// finish charges each host-mapping GPU its mapped spans, page-aligned, as
// llama.cpp's Metal buffer does: whatever lies between its tensors in the
// file is mapped too. The spans are part of the device's total: Metal
// counts them in its allocated size, and the host must keep them in RAM.
func (r mappedRanges) finish(b *Breakdown) {
	for d, parts := range r {
		var n uint64
		for _, sp := range parts {
			first := sp[0] / metalPage * metalPage
			end := (sp[1] + metalPage - 1) / metalPage * metalPage
			n += uint64(end - first)
		}
		dm := &b.Devices[d]
		dm.MappedBytes = n
		dm.TotalBytes += n
		dm.TotalLowBytes += n
		dm.TotalHighBytes += n
	}
}

// hostCommitted is the host memory a plan allocates, or pins for a GPU
// that shares it: the CPU's total plus every unified-memory GPU's total
// (a Metal GPU's mapped weights included). The page cache the CPU's mapped
// weights want comes on top.
func hostCommitted(mc *machine, b *Breakdown) uint64 {
	n := b.Devices[0].TotalBytes
	for g, gpu := range mc.gpus {
		if gpu.UnifiedMemory && 1+g < len(b.Devices) {
			n += b.Devices[1+g].TotalBytes
		}
	}
	return n
}

// gpuFlops is the prefill FLOP rate of GPU device d. An Apple GPU's compute
// grows with its memory bandwidth across the M-series (the cores and the
// memory width scale together): llama.cpp's Metal prompt processing reaches
// about 21 FLOPs per byte/s of bandwidth (discussion #4167: M2 Ultra 76-core
// 7B Q4_0 pp512 1238 tok/s ≈ 16.7 TFLOP/s at 800 GB/s; M2 Max 38-core 671
// tok/s ≈ 9 TFLOP/s at 400 GB/s).
func gpuFlops(mc *machine, d int) float64 {
	if g := mc.gpus[d-1]; g.Vendor == "apple" && g.BandwidthBytes > 0 {
		return 21 * g.BandwidthBytes
	}
	return gpuFlopsDefault
}

// linkBandwidth is how fast host-resident weights reach GPU device d: over
// PCIe for a discrete GPU, at memory speed for one sharing the host's RAM.
func linkBandwidth(mc *machine, d int, hostBW float64) float64 {
	if d >= 1 && mc.gpus[d-1].UnifiedMemory {
		return hostBW
	}
	return pcieBW
}

// unifiedNotes explains the unified-memory GPUs' budgets in the plan.
func unifiedNotes(p *Plan, mc *machine, runtime Runtime) {
	for g, gpu := range mc.gpus {
		if !gpu.UnifiedMemory {
			continue
		}
		name := gpuName(gpu, g)
		switch {
		case gpu.Vendor == "apple":
			ws, why := probe.MetalWorkingSet(mc.snap.Memory.TotalBytes, 0)
			src := fmt.Sprintf("as the probe read it (%s of %s RAM)", human(gpu.TotalBytes), human(mc.snap.Memory.TotalBytes))
			if gpu.TotalBytes == ws {
				src = fmt.Sprintf("%s of %s RAM: %s", human(ws), human(mc.snap.Memory.TotalBytes), why)
			}
			p.why(name, "unified memory", "Metal's working set (recommendedMaxWorkingSetSize, llama.cpp's device memory) is the GPU's budget, %s; with mmap the GPU layers' weights are the file's pages mapped into a Metal buffer, not a copy, and count in that budget and in the host's RAM once", src)
		default:
			p.why(name, "unified memory", "the GPU allocates from host RAM: its buffers are charged to the host's memory too")
		}
	}
}

// igpuNoMmap reports whether the target runtime turns mmap off by itself:
// current llama.cpp's default load mode ("auto") does so when a device
// cannot use mapped memory in place, which CUDA and HIP say of integrated
// GPUs (ggml-cuda.cu: mmap_support = type != IGPU; src/llama-model.cpp,
// PR #26081), so that a GB10 or an APU does not hold the file in the page
// cache and again in its buffers.
func igpuNoMmap(mc *machine) (string, bool) {
	if mc.env.Runtime != RuntimeLlamaCpp {
		return "", false
	}
	for g, gpu := range mc.gpus {
		if gpu.UnifiedMemory && gpu.Vendor != "apple" {
			return fmt.Sprintf("current llama.cpp's default load mode turns mmap off with an integrated GPU (%s, PR #26081): the weights are read into its buffers in host RAM, not kept in the page cache as well; pass --mmap (llama.cpp --load-mode mmap) to map anyway", gpuName(gpu, g)), true
		}
	}
	return "", false
}

// tensorIndex is t's index in m.tensors (and in the file's tensor list).
func (m *model) tensorIndex(t *tinfo) int {
	for i := range m.tensors {
		if &m.tensors[i] == t {
			return i
		}
	}
	return -1
}

// gpuBackend names llama.cpp's backend of the first GPU, for assumptions.
func gpuBackend(mc *machine) string {
	switch mc.gpus[0].Vendor {
	case "apple":
		return "Metal"
	case "amd":
		return "ROCm"
	}
	return "CUDA"
}
