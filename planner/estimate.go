package planner

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/modelfit/modelfit/gguf"
)

// DefaultGPUOverhead is what a CUDA/ROCm context, cuBLAS workspaces and
// allocator slack take on each GPU before any model buffer: measured values
// are 300–600 MiB on current drivers; the planner assumes 512 MiB unless told.
const DefaultGPUOverhead = 512 << 20

// Env is what the estimate needs to know about the target beyond the settings.
type Env struct {
	GPUs             []string // device names in order ("CUDA0", …); empty = CPU only
	GPUFree          []uint64 // free bytes per GPU: llama.cpp's default split is proportional to it
	CPUFeatures      []string // from probe.CPU.Features: decides weight repacking
	CPUArch          string   // "amd64", "arm64"; "" = amd64
	Runtime          Runtime  // "" = RuntimeLlamaCpp
	GPUOverheadBytes uint64   // per GPU; 0 = DefaultGPUOverhead
	// Remote marks the devices of GPUs that a ggml-rpc-server on another
	// host serves, one entry per device (RemoteNone for a local GPU);
	// llama.cpp lists them before the local GPUs (see hosts.go). Empty on
	// one machine.
	Remote []RemoteKind
	// GPUHostMapped marks GPUs whose backend maps host memory in place
	// (Apple's Metal): with mmap their weights stay the file's pages.
	GPUHostMapped []bool
	// NoAllocReserve sizes the compute buffers of a split graph as
	// llama.cpp measures them without allocating (llama-fit-params,
	// llama-server's --fit step): ggml_backend_sched_reserve_size resets
	// the scheduler first (ggml-backend.cpp), dropping graph_get_cb's pins
	// of each layer's norm to its device. A run that allocates keeps them.
	NoAllocReserve bool
}

// Breakdown is the memory a model takes on every device under given settings.
type Breakdown struct {
	NCtx     int            `json:"n_ctx"`         // n_ctx as the runtime pads it
	KVCells  int            `json:"kv_cells"`      // cells of a full-attention layer
	SWACells int            `json:"swa_cells"`     // cells of a sliding-window layer (0 without any)
	Devices  []DeviceMemory `json:"devices"`       // "CPU" first, then GPUs in order
	Output   int            `json:"output_device"` // device index holding the output layer
	// LayerDevice is the device index of each repeating layer (the same as
	// Layers[i].Device, kept flat for the search's inner loop).
	LayerDevice []int `json:"layer_device"`
	// Layers is where each repeating layer lives and what it holds.
	Layers []LayerPlacement `json:"layers"`
}

// LayerPlacement is one repeating layer's share of the memory.
type LayerPlacement struct {
	Device int `json:"device"` // index into Breakdown.Devices
	// WeightsBytes counts all the layer's tensors; MovedBytes the part that
	// tensor overrides placed on another device than Device.
	WeightsBytes uint64 `json:"weights_bytes"`
	MovedBytes   uint64 `json:"moved_bytes"`
	// KVDevice holds the layer's cache: Device, or the CPU with
	// no-KV-offload.
	KVDevice int `json:"kv_device"`
	// KVCells is the length of the layer's cache: the padded n_ctx, or the
	// window for a sliding-window layer; 0 for a recurrent layer.
	KVCells int    `json:"kv_cells"`
	KBytes  uint64 `json:"k_bytes"`
	VBytes  uint64 `json:"v_bytes"`
	// StateBytes is a recurrent layer's state (Mamba conv and SSM states,
	// f32, one per sequence).
	StateBytes uint64 `json:"state_bytes"`
}

// DeviceMemory is one device's share. For the CPU, WeightsBytes counts every
// host-placed weight whether mapped or read; AnonWeightsBytes is the part in
// anonymous memory (all of it without mmap), MappedBytes the part that stays
// file-backed page cache, of which ResidentBytes must stay in RAM for decode
// to run at memory speed: every mapped weight decode multiplies, that is all
// but the repacked ones (read once into RepackBytes) and the token embedding
// (decode reads one row of it per token) unless it is also the output
// projection or --mlock locks the whole mapping.
type DeviceMemory struct {
	Name             string `json:"name"`
	WeightsBytes     uint64 `json:"weights_bytes"`
	AnonWeightsBytes uint64 `json:"anon_weights_bytes"`
	MappedBytes      uint64 `json:"mapped_bytes"`
	ResidentBytes    uint64 `json:"resident_working_set_bytes"`
	RepackBytes      uint64 `json:"repack_bytes"`
	KVBytes          uint64 `json:"kv_bytes"`
	StateBytes       uint64 `json:"state_bytes,omitempty"` // recurrent state (Mamba-style layers)
	ComputeBytes     uint64 `json:"compute_bytes"`
	ComputeLowBytes  uint64 `json:"compute_low_bytes"`
	ComputeHighBytes uint64 `json:"compute_high_bytes"`
	OutputBytes      uint64 `json:"output_bytes"`
	OverheadBytes    uint64 `json:"overhead_bytes"`
	// StagingBytes is the pinned host memory for uploading weights read
	// without mmap to GPUs; counted in AnonWeightsBytes and TotalBytes.
	StagingBytes uint64 `json:"staging_bytes,omitempty"`
	// TotalBytes is what must be allocated on the device: anonymous weights,
	// repacked copies, KV, recurrent state, compute, output and overhead.
	// Mapped weights are not in it: for the CPU, add ResidentBytes (the
	// mapped weights decode reads every token, which must stay in the page
	// cache) to get the memory the host needs.
	TotalBytes uint64 `json:"total_bytes"`
	// TotalLowBytes and TotalHighBytes bound TotalBytes by the compute
	// buffer's range, the one approximate term.
	TotalLowBytes  uint64 `json:"total_low_bytes"`
	TotalHighBytes uint64 `json:"total_high_bytes"`
	Layers         []int  `json:"layers"`
}

// model is the shape of a parsed file the estimate needs, computed once.
type model struct {
	f        *gguf.File
	h        gguf.HParams
	nLayer   int
	tensors  []tinfo
	expertsN uint64 // bytes of expert tensors (MoE)
	// tied is token_embd when the file has no output.weight: llama.cpp
	// then uses the embedding matrix as the output projection too.
	tied *tinfo
	// perLayer lists the tensors every layer duplicates.
	perLayer []*tinfo
	// rwkvHeadSize and rwkvShifts size RWKV's recurrent state.
	rwkvHeadSize, rwkvShifts uint64
	// matches caches which tensors each override pattern matches: the
	// search tries the same patterns many times.
	matches map[string][]bool
	// expertK maps the patterns expertPattern generated to their layer
	// count, so that they are matched without running the regexp.
	expertK map[string]int
	// ollama and ollamaGroups are Ollama's view of the header, computed
	// once for the runtimes driven through Ollama (plan_ollama.go).
	ollama       *ollamaKV
	ollamaGroups map[string]uint64
	// graphs simulates the compute graph (compute.go), built on first use.
	simOnce sync.Once
	graphs  *computeSim
}

type tinfo struct {
	name  string
	typ   gguf.Type
	shape []uint64
	size  uint64
	layer int  // -1 for non-layer tensors
	out   bool // output group: placed with the output layer
	exps  bool // MoE expert tensor (…_exps)
	// perLayer marks a tensor stored once but used by every layer (rope
	// frequency factors): llama.cpp gives each layer its own copy.
	perLayer bool
	// first marks a tensor outside the layers that llama.cpp creates with
	// layer 0 (see globalClass): it lives on that layer's device.
	first bool
	// gpuSize is what the tensor takes in a CUDA/ROCm buffer: quantized
	// rows padded to 512 values (one partial row's worth, as ggml-cuda's
	// get_alloc_size adds), then aligned to the buffer's 128 bytes.
	gpuSize uint64
}

// outputBeforeEmbd lists the architectures whose loader creates the tied
// output (a duplicate of token_embd) before token_embd itself
// (src/models/gemma3n.cpp, gemma4.cpp).
var outputBeforeEmbd = map[string]bool{"gemma3n": true, "gemma4": true}

// Classes of the tensors outside blk.N besides the input's (the token
// embeddings, kept on the host).
const (
	classInput = iota
	classOutput
	classFirstLayer
)

// globalClass places a tensor outside blk.N as llama.cpp's
// llm_tensor_info_mapping (src/llama-arch.cpp) classes it:
// LLM_TENSOR_LAYER_OUTPUT tensors go with the output layer, and the
// LLM_TENSOR_LAYER_REPEATING ones are created with layer number 0
// (tn(..., 0) in src/models/*.cpp), so llama-model-loader.cpp's
// create_tensor takes layer 0's buffer types for them. LFM2 names its
// output norm token_embd_norm (LLM_TENSOR_OUTPUT_NORM_LFM2).
func globalClass(arch, name string) int {
	switch name {
	case "altup_proj.weight", "altup_unembd_proj.weight", "cls.weight", "cls.bias", "cls.output.weight", "cls.output.bias":
		return classOutput
	case "per_layer_model_proj.weight", "per_layer_proj_norm.weight":
		return classFirstLayer
	case "token_embd_norm.weight", "token_embd_norm.bias":
		if arch == "lfm2" || arch == "lfm2moe" {
			return classOutput
		}
		return classFirstLayer
	}
	return classInput
}

// perLayerTensors are the tensors llama.cpp loads with layer 0 and
// duplicates into every other layer (Llama-3.1's rope_freqs, Phi-3's long
// and short rope factors).
var perLayerTensors = map[string]bool{"rope_freqs.weight": true, "rope_factors_long.weight": true, "rope_factors_short.weight": true}

// cudaRowPadding and cudaAlignment are ggml-cuda's MATRIX_ROW_PADDING and
// buffer alignment.
const (
	cudaRowPadding = 512
	cudaAlignment  = 128
)

func gpuAllocSize(typ gguf.Type, shape []uint64, size uint64) uint64 {
	if typ.BlockSize() > 1 && len(shape) > 0 && shape[0]%cudaRowPadding != 0 {
		if pad, ok := typ.RowBytes(cudaRowPadding - shape[0]%cudaRowPadding); ok {
			size += pad
		}
	}
	return (size + cudaAlignment - 1) / cudaAlignment * cudaAlignment
}

func newModel(f *gguf.File) *model {
	m := &model{f: f, h: f.HParams(), matches: map[string][]bool{}, expertK: map[string]int{}}
	m.tensors = make([]tinfo, 0, len(f.Tensors))
	m.nLayer = m.h.BlockCount
	if recurrentArch[m.h.Architecture] == "rwkv" {
		arch := m.h.Architecture
		m.rwkvHeadSize, _ = f.Metadata.Uint(arch + ".wkv.head_size")
		var ok bool
		if m.rwkvShifts, ok = f.Metadata.Uint(arch + ".token_shift_count"); !ok {
			m.rwkvShifts = 2 // llama.cpp's default
		}
	}
	// Next-token-prediction (MTP) layers at the end of block_count are
	// created with TENSOR_SKIP unless MTP is asked for (llama-server
	// does not by default): their weights are never loaded
	// (load_arch_tensors of glm4, glm4-moe, deepseek2, nemotron-h, qwen3next
	// and the other MTP-capable architectures). Their KV cache is still
	// allocated: no layer filter excludes them (llama_model::create_memory).
	nextn := m.h.NextNPredictLayers
	firstSkipped := m.nLayer - int(min(nextn, uint64(m.nLayer)))
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if nextn > 0 && t.Layer >= firstSkipped {
			continue
		}
		ti := tinfo{name: t.Name, typ: t.Type, shape: t.Shape, size: uint64(t.Size), layer: t.Layer,
			out: t.Group() == gguf.GroupOutput, exps: strings.Contains(t.Name, "_exps")}
		ti.gpuSize = gpuAllocSize(ti.typ, ti.shape, ti.size)
		ti.perLayer = perLayerTensors[ti.name]
		switch globalClass(m.h.Architecture, ti.name) {
		case classOutput:
			ti.out = true
		case classFirstLayer:
			ti.first = true
		}
		if ti.layer >= m.nLayer {
			// Layers past block_count (e.g. DeepSeek's next-token-prediction
			// layer) are not run; llama.cpp leaves them on the CPU.
			ti.layer = -1
		}
		if ti.exps {
			m.expertsN += ti.size
		}
		m.tensors = append(m.tensors, ti)
	}
	for i := range m.tensors {
		if m.tensors[i].perLayer {
			m.perLayer = append(m.perLayer, &m.tensors[i])
		}
	}
	if _, ok := f.Tensor("output.weight"); !ok {
		for i := range m.tensors {
			if m.tensors[i].name == "token_embd.weight" {
				m.tied = &m.tensors[i]
			}
		}
	}
	return m
}

// Estimate computes the memory every device needs for file f under settings
// s. It is exact for weights and KV (as the runtime sizes them) and an
// approximation, with a low/high range, for compute buffers.
func Estimate(f *gguf.File, s Settings, env Env) (*Breakdown, error) {
	return newModel(f).estimate(s, env)
}

func (m *model) estimate(s Settings, env Env) (*Breakdown, error) {
	if m.nLayer <= 0 {
		return nil, fmt.Errorf("planner: %s: no block_count for architecture %q", m.f.Parts[0].Path, m.h.Architecture)
	}
	if recurrentArch[m.h.Architecture] == "rwkv" && m.rwkvHeadSize == 0 {
		return nil, fmt.Errorf("planner: architecture %q without wkv.head_size: %w", m.h.Architecture, ErrUnmodeled)
	}
	kt, ok := gguf.ParseType(orDefault(s.CacheTypeK, "f16"))
	if !ok {
		return nil, fmt.Errorf("planner: unknown K cache type %q", s.CacheTypeK)
	}
	vt, ok := gguf.ParseType(orDefault(s.CacheTypeV, "f16"))
	if !ok {
		return nil, fmt.Errorf("planner: unknown V cache type %q", s.CacheTypeV)
	}
	if vt.BlockSize() > 1 && !s.FlashAttn {
		return nil, fmt.Errorf("planner: a quantized V cache (%s) needs flash attention", vt)
	}
	if m.vLess(env.Runtime) && kt != vt {
		// llama_init_from_model: "model does not support different K and
		// V cache types" (MLA: V is a view of K).
		return nil, fmt.Errorf("planner: %s keeps V inside the K cache: K and V cache types must match (%s, %s): %w", m.h.Architecture, kt, vt, ErrBadCacheType)
	}
	nSeq := max(s.NParallel, 1)
	// llama.cpp caps the batch at the context (causal attention only: an
	// encoder keeps its n_batch, src/llama-context.cpp) and the physical
	// batch at the batch; it reserves for min(n_ctx, n_ubatch) tokens,
	// n_ctx padded (llama_context::sched_reserve), which only an encoder's
	// uncapped batch reaches.
	ub := max(min(s.NUbatch, s.NBatch, max(s.NCtx, 1)), 1)
	if noMemoryArch[m.h.Architecture] {
		ub = max(min(s.NUbatch, s.NBatch, cacheCells(m.h, max(s.NCtx, 1), nSeq, 1).nCtx), 1)
	}
	nGPU := len(env.GPUs)
	cells := streamCells(m.h, max(s.NCtx, 1), nSeq, ub, s.KVUnified)
	if env.Runtime.profile().engine {
		cells = engineCacheCells(m.h, max(s.NCtx, 1), nSeq, max(s.NBatch, 1))
	}
	b := &Breakdown{NCtx: cells.nCtx}
	b.Devices = make([]DeviceMemory, 1+nGPU)
	b.Devices[0].Name = "CPU"
	for i, n := range env.GPUs {
		b.Devices[1+i].Name = n
		if env.remote(1+i) != RemoteCPU {
			b.Devices[1+i].OverheadBytes = orDefaultU(env.GPUOverheadBytes, DefaultGPUOverhead)
		}
	}

	// Layers to devices, as llama.cpp's load_tensors: the offloaded layers
	// are split over the GPUs by cumulative proportions.
	ngl := min(max(s.NGPULayers, 0), m.nLayer+1)
	if nGPU == 0 {
		ngl = 0
	}
	split := splitPoints(s.TensorSplit, env.GPUFree, nGPU)
	// Layer il (il == n_layer being the output) is offloaded when il >=
	// start: the last ngl of the n_layer+1 layers with the output first, or
	// of the repeating layers alone in older builds.
	start := max(m.nLayer-ngl, 0)
	if env.Runtime.profile().outputFirst() {
		start = max(m.nLayer+1-ngl, 0)
	}
	devOf := func(il int) int {
		if il < start || il-start >= ngl {
			return 0
		}
		x := float64(il-start) / float64(ngl)
		for g, p := range split {
			if x < p {
				return 1 + g
			}
		}
		return nGPU
	}
	b.LayerDevice = make([]int, m.nLayer)
	b.Layers = make([]LayerPlacement, m.nLayer)
	for il := range b.LayerDevice {
		d := devOf(il)
		b.LayerDevice[il] = d
		b.Layers[il].Device = d
		b.Devices[d].Layers = append(b.Devices[d].Layers, il)
	}
	b.Output = devOf(m.nLayer)

	overrides, err := m.overrides(s.Overrides, b.Devices)
	if err != nil {
		return nil, err
	}
	repacks := repackRows(env)
	cpu := &b.Devices[0]
	// hostLayer and hostOutput hold the largest tensor each layer and the
	// output leave on the host: with GPUs, llama.cpp runs their products on
	// the first GPU for large batches and copies them there one at a time
	// (see opOffloadStaging).
	hostLayer := make([]uint64, m.nLayer)
	var hostOutput uint64
	mapped := mappedRanges{}
	// tensorDev is each tensor's device, for the scheduler's split of the
	// graph (graph_sched.go).
	tensorDev := make([]int8, len(m.tensors))
	for i := range m.tensors {
		t := &m.tensors[i]
		d := 0
		switch {
		case t.layer >= 0:
			d = b.LayerDevice[t.layer]
		case t.out:
			d = b.Output
		case t.perLayer, t.first:
			// Created with layer 0; the other layers get duplicates of a
			// perLayer tensor.
			d = b.LayerDevice[0]
		}
		for _, o := range overrides {
			if o.match[i] {
				d = o.dev
				break
			}
		}
		tensorDev[i] = int8(d)
		if t.perLayer {
			tensorDev[i] = anyBackend
		}
		if t.layer >= 0 {
			lp := &b.Layers[t.layer]
			lp.WeightsBytes += t.size
			if d != lp.Device {
				lp.MovedBytes += t.size
			}
		}
		if d == 0 {
			switch {
			case t.layer >= 0:
				hostLayer[t.layer] = max(hostLayer[t.layer], t.size)
			case t.out:
				hostOutput = max(hostOutput, t.size)
			}
		}
		dm := &b.Devices[d]
		if env.hostMapped(d) {
			mapped.add(m, i, d, dm, s.MMap) // Metal: see unified.go
			continue
		}
		if d != 0 {
			dm.WeightsBytes += env.allocSize(d, t)
			dm.AnonWeightsBytes += env.allocSize(d, t)
			continue
		}
		dm.WeightsBytes += t.size
		repacked := !s.NoRepack && repackableRows(t, repacks[t.typ])
		if repacked {
			cpu.RepackBytes += t.size
		}
		switch {
		case s.MMap:
			cpu.MappedBytes += t.size
			if !repacked && (t.name != "token_embd.weight" || s.MLock || m.tied == t && b.Output == 0) {
				cpu.ResidentBytes += t.size
			}
		case !repacked:
			cpu.AnonWeightsBytes += t.size
		}
	}
	for _, t := range m.perLayer {
		// llama.cpp duplicates it once into each other buffer type the
		// layers use: one copy per further device (on the host, a view of
		// the same file pages when mapped).
		dup := map[int]bool{b.LayerDevice[0]: true}
		for il := 1; il < m.nLayer; il++ {
			d := b.LayerDevice[il]
			if dup[d] {
				continue
			}
			dup[d] = true
			switch {
			case d != 0:
				b.Devices[d].WeightsBytes += env.allocSize(d, t)
				b.Devices[d].AnonWeightsBytes += env.allocSize(d, t)
			case !s.MMap:
				cpu.WeightsBytes += t.size
				cpu.AnonWeightsBytes += t.size
			}
		}
	}
	if m.tied != nil {
		// Tied embeddings: llama.cpp creates the output as a duplicate of
		// token_embd in the output layer's buffer type, unless that is the
		// embedding's own: a second copy on a GPU, or in CPU_REPACK when the
		// host repacks it for the output's matrix products.
		t := m.tied
		dm := &b.Devices[b.Output]
		switch {
		case env.hostMapped(b.Output) && s.MMap:
			// Metal maps the embedding's own pages for it (unified.go).
			mapped.add(m, m.tensorIndex(t), b.Output, &DeviceMemory{}, true)
		case b.Output != 0:
			dm.WeightsBytes += env.allocSize(b.Output, t)
			dm.AnonWeightsBytes += env.allocSize(b.Output, t)
		case !s.NoRepack && repackableRows(&tinfo{shape: t.shape}, repacks[t.typ]):
			// The duplicate (not token_embd by name) is a matrix-product weight.
			cpu.RepackBytes += t.size
		}
		if b.Output == 0 {
			hostOutput = max(hostOutput, t.size)
		}
		if b.Output == 0 && !s.MMap && outputBeforeEmbd[m.h.Architecture] &&
			(s.NoRepack || !repackableRows(&tinfo{shape: t.shape}, repacks[t.typ])) {
			// Gemma 3n and 4 create the tied output before token_embd: the
			// loader's de-duplication only finds a tensor created earlier
			// (llama_model_loader::create_tensor), so when both land in the
			// CPU buffer the embedding is read twice. With mmap both map
			// the same file pages.
			cpu.WeightsBytes += t.size
			cpu.AnonWeightsBytes += t.size
		}
	}
	if !s.MMap && nGPU > 0 && ngl > 0 {
		cpu.AnonWeightsBytes += env.Runtime.profile().pinnedStaging()
		cpu.StagingBytes = env.Runtime.profile().pinnedStaging()
	}

	// KV cache and recurrent state, per layer on its layer's device.
	b.KVCells = b.NCtx
	swaCells := cells.swa
	// kvDevMax is the longest cache the attention on each device attends
	// (the layer's device, where its attention runs even when its cache
	// stays on the host); hostKV the largest K+V of a layer whose cache is
	// on the host while the layer is on a GPU: each attention split copies
	// those views into the GPU's compute buffer.
	kvDevMax := map[int]int{}
	hostKV := map[int]uint64{}
	for il := 0; il < m.nLayer; il++ {
		lp := &b.Layers[il]
		d := lp.Device
		if s.NoKVOffload {
			d = 0
		}
		lp.KVDevice = d
		if mtpWithoutKV[m.h.Architecture] && m.mtpLayer(il) || !m.hasKV(il) {
			continue
		}
		if m.recurrent(il) {
			lp.StateBytes = uint64(nSeq) * 4 * m.stateFloats()
			b.Devices[d].StateBytes += lp.StateBytes
			if !m.attendsToo() {
				continue
			}
		}
		n, attended := b.NCtx, cells.seq
		if m.h.IsSWA(il) {
			n, attended = swaCells, cells.swaSeq
			b.SWACells = swaCells
		}
		kRow, vRow, err := m.kvRowsFor(env.Runtime.profile(), il, kt, vt, s.FlashAttn, env.Runtime)
		if err != nil {
			return nil, err
		}
		lp.KVCells = n
		lp.KBytes, lp.VBytes = uint64(n)*kRow, uint64(n)*vRow
		b.Devices[d].KVBytes += lp.KBytes + lp.VBytes
		kvDevMax[lp.Device] = max(kvDevMax[lp.Device], attended)
		if d != lp.Device && ub >= opOffloadMinBatch {
			hostKV[lp.Device] = max(hostKV[lp.Device], lp.KBytes+lp.VBytes)
		}
	}

	// llama.cpp pipelines ubatches over several GPUs when the whole model
	// is on them, split by layers, with no tensor overrides and the cache
	// on the GPUs; never with RPC devices, which have no async compute or
	// events (llama-context.cpp, ggml-rpc.cpp device props).
	pipeline := nGPU > 1 && s.NGPULayers > m.nLayer && len(s.Overrides) == 0 && !s.NoKVOffload && !env.hasRemote()
	// Compute buffers: the peak of the graph's live tensors on each device.
	// The scheduler's split, simulated on first need.
	var sched []uint64
	schedDone := false
	for d := range b.Devices {
		dm := &b.Devices[d]
		hasLayers := len(dm.Layers) > 0
		hasOutput := b.Output == d
		nKV := kvDevMax[d]
		staging := hostKV[d]
		// The first local GPU: ggml-rpc devices have no offload_op.
		if d == 1+env.remoteCount() && d <= nGPU && ub >= opOffloadMinBatch {
			if hosted := opOffloadStaging(b, hostLayer, hostOutput); hosted > 0 {
				staging = max(staging, hosted)
				// The first GPU runs the host layers' large-batch graph
				// too (even at -ngl 0), attending the host's cache.
				hasLayers, hasOutput = hasLayers || len(cpu.Layers) > 0, hasOutput || b.Output == 0
				nKV = max(nKV, kvDevMax[0])
			}
		}
		if !hasLayers && !hasOutput && d != 0 {
			continue
		}
		low, point, high := m.compute(s, env.Runtime, ub, nKV, cells.swaSeq, hasLayers, hasOutput, d == 0 && nGPU > 0, staging)
		// One GPU runs the whole graph when it holds every layer, or runs
		// the host's layers too (op offload).
		whole := nGPU == 1 && hasLayers && hasOutput && (len(dm.Layers) == m.nLayer || ub >= opOffloadMinBatch && env.remote(d) == RemoteNone)
		low, point, high = m.graphDevice(s, env.Runtime, ub, cells, d, nGPU, whole, !hasLayers && !hasOutput, pipeline, staging, low, point, high)
		// The scheduler's split sizes what the whole graph does not: a
		// device holding some layers, and the host beside several
		// devices (pipeline parallelism keeps graphDevice's inputs). A
		// single local GPU taking over the host's large batches (op
		// offload) keeps the approximation for the host: simulating its
		// split for every placement the search tries costs more than the
		// host's few MiB of inputs are worth (BenchmarkPlan).
		useSplit := nGPU > 0 && !whole && (hasLayers || hasOutput || nGPU > 1 && !pipeline) &&
			(nGPU > 1 || env.hasRemote() || ub < opOffloadMinBatch)
		if useSplit && !schedDone {
			sched, schedDone = m.schedSplit(s, env, ub, ngl, cells, b, tensorDev), true
		}
		switch {
		case !useSplit:
		case sched != nil:
			low, point, high = m.splitDevice(s, env, ub, d, cells, b, sched)
		case env.remote(d) != RemoteNone && hasLayers:
			low, point, high = m.remoteCompute(s, env.Runtime, ub, cells, low, point, high)
		}
		if pipeline && d > 0 && hasLayers {
			extra := m.pipelineCopies(s, env.Runtime, ub, cells, kvDevMax[d])
			point, high = point+extra, high+extra
		}
		dm.ComputeLowBytes, dm.ComputeBytes, dm.ComputeHighBytes = low, point, high
	}
	cpu.OutputBytes = uint64(nSeq) * m.h.VocabSize * 4
	for d := range b.Devices {
		dm := &b.Devices[d]
		fixed := dm.AnonWeightsBytes + dm.RepackBytes + dm.KVBytes + dm.StateBytes + dm.OutputBytes + dm.OverheadBytes
		dm.TotalBytes = fixed + dm.ComputeBytes
		dm.TotalLowBytes, dm.TotalHighBytes = fixed+dm.ComputeLowBytes, fixed+dm.ComputeHighBytes
	}
	mapped.finish(b)
	return b, nil
}

// splitPoints returns the cumulative share of offloaded layers at which each
// GPU ends, from an explicit split or else from free memory.
func splitPoints(ts []float64, free []uint64, n int) []float64 {
	if n == 0 {
		return nil
	}
	w := make([]float64, n)
	sum := 0.0
	for i := range w {
		switch {
		case len(ts) == n:
			w[i] = ts[i]
		case len(free) == n:
			w[i] = float64(free[i])
		default:
			w[i] = 1
		}
		sum += w[i]
	}
	if sum <= 0 {
		for i := range w {
			w[i] = 1
		}
		sum = float64(n)
	}
	acc := 0.0
	for i := range w {
		acc += w[i]
		w[i] = acc / sum
	}
	return w
}

type compiledOverride struct {
	match []bool // per tensor of the model
	dev   int
}

// overrides resolves tensor overrides to the tensors they match (first
// match wins, as in llama.cpp) and the device index.
func (m *model) overrides(os []Override, devs []DeviceMemory) ([]compiledOverride, error) {
	var out []compiledOverride
	for _, o := range os {
		match, ok := m.matches[o.Pattern]
		if k, isExp := m.expertK[o.Pattern]; !ok && isExp {
			match = make([]bool, len(m.tensors))
			for i := range m.tensors {
				t := &m.tensors[i]
				match[i] = t.exps && t.layer >= 0 && t.layer < k && isFFNExpert(t.name)
			}
			m.matches[o.Pattern], ok = match, true
		}
		if !ok {
			re, err := regexp.Compile(o.Pattern)
			if err != nil {
				return nil, fmt.Errorf("planner: override %q: %w", o.Pattern, err)
			}
			match = make([]bool, len(m.tensors))
			for i := range m.tensors {
				match[i] = re.MatchString(m.tensors[i].name)
			}
			m.matches[o.Pattern] = match
		}
		dev := -1
		for i, d := range devs {
			if strings.EqualFold(d.Name, o.Device) {
				dev = i
			}
		}
		if dev < 0 {
			return nil, fmt.Errorf("planner: override %q=%s: no such device", o.Pattern, o.Device)
		}
		out = append(out, compiledOverride{match, dev})
	}
	return out, nil
}

func padTo(n, p int) int { return (n + p - 1) / p * p }

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func orDefaultU(v, d uint64) uint64 {
	if v == 0 {
		return d
	}
	return v
}

// isFFNExpert reports whether name is an up, down or gate expert tensor.
func isFFNExpert(name string) bool {
	return strings.Contains(name, ".ffn_up_exps") || strings.Contains(name, ".ffn_down_exps") || strings.Contains(name, ".ffn_gate_exps")
}
