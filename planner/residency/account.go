package residency

import (
	"fmt"
	"path/filepath"

	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/probe"
)

// Memory is the accounting of a set of models side by side on one machine.
type Memory struct {
	Host   HostMemory    `json:"host"`
	GPUs   []GPUMemory   `json:"gpus,omitempty"`
	Models []ModelMemory `json:"models"`
}

// HostMemory is the host's share. Anonymous memory (weights read into RAM,
// each process's repacked copy, KV cache, compute and output buffers) adds
// up across processes. Mapped weights live in the page cache, which the
// kernel shares between processes: a file mapped by two models is counted
// once, while the working sets of different files compete for what RAM the
// anonymous memory leaves.
type HostMemory struct {
	// AvailableBytes is what the machine has without any of the models.
	AvailableBytes uint64 `json:"available_bytes"`
	MarginBytes    uint64 `json:"margin_bytes"`
	AnonBytes      uint64 `json:"anon_bytes"`
	// PageCacheBytes is the mapped weights decode reads every token, each
	// file once; SharedBytes is what counting a file once saved.
	PageCacheBytes uint64 `json:"page_cache_bytes"`
	SharedBytes    uint64 `json:"shared_bytes"`
	// FreeAfterBytes is available − margin − anonymous − page cache
	// (negative: weights are paged in from disk, or it does not fit).
	FreeAfterBytes int64 `json:"free_after_bytes"`
	// PagedBytes is the part of the working sets that cannot stay in RAM
	// and is read from disk again as the models decode.
	PagedBytes uint64 `json:"paged_bytes"`
}

// GPUMemory is one GPU's share: every process allocates its own buffers,
// so they add up.
type GPUMemory struct {
	Name           string `json:"name"`
	FreeBytes      uint64 `json:"free_bytes"` // without any of the models
	MarginBytes    uint64 `json:"margin_bytes"`
	UsedBytes      uint64 `json:"used_bytes"`
	FreeAfterBytes int64  `json:"free_after_bytes"`
}

// ModelMemory is what one model holds.
type ModelMemory struct {
	ID   string `json:"id"`
	File string `json:"file"`
	// AnonBytes is its host allocation (the plan's CPU total, its
	// process's overhead, and its share on a GPU that uses host memory);
	// RepackBytes is the part that is its own copy of repacked weights.
	AnonBytes      uint64   `json:"anon_bytes"`
	RepackBytes    uint64   `json:"repack_bytes"`
	PageCacheBytes uint64   `json:"page_cache_bytes"`
	Locked         bool     `json:"locked,omitempty"` // mlock: its page cache cannot be reclaimed
	GPUBytes       []uint64 `json:"gpu_bytes,omitempty"`
}

// holding is what one model holds, taken from its plan.
type holding struct {
	ModelMemory
	plan *planner.Plan
	// ownMiss is the fraction of its working set its plan already
	// predicted to read from disk every token.
	ownMiss float64
}

func fileKey(file, path string) string {
	if file != "" {
		return file
	}
	return filepath.Clean(path)
}

// holdingOf reads what the model planned by p holds on machine m, its
// process's overhead included.
func holdingOf(id, file string, p *planner.Plan, m *probe.Snapshot, overhead uint64) (holding, error) {
	if len(p.Devices) == 0 || len(p.Devices)-1 > len(m.GPUs) {
		return holding{}, fmt.Errorf("residency: model %q: its plan has %d devices, the machine has the CPU and %d GPUs", id, len(p.Devices), len(m.GPUs))
	}
	cpu := p.Devices[0]
	h := holding{plan: p, ModelMemory: ModelMemory{ID: id, File: fileKey(file, p.Model.Path), AnonBytes: cpu.TotalBytes + overhead, RepackBytes: cpu.RepackBytes}}
	if p.Settings.MMap {
		h.PageCacheBytes = cpu.ResidentBytes
		h.Locked = p.Settings.MLock
	}
	if len(p.Devices) > 1 {
		h.GPUBytes = make([]uint64, len(m.GPUs))
		for g, d := range p.Devices[1:] {
			h.GPUBytes[g] = d.TotalBytes
			if m.GPUs[g].UnifiedMemory {
				// A GPU without memory of its own allocates from host RAM
				// (the planner charges the host for it too).
				h.AnonBytes += d.TotalBytes
			}
		}
	}
	h.ownMiss = ownMiss(p)
	return h, nil
}

// set is the loaded models less those gone, and the new model if any:
// the decision tries many sets and builds none of them.
type set struct {
	hs    []holding
	gone  []bool // by index of hs; nil when none is gone
	extra *holding
}

func (s set) all() func(yield func(*holding) bool) {
	return func(yield func(*holding) bool) {
		for i := range s.hs {
			if (s.gone == nil || !s.gone[i]) && !yield(&s.hs[i]) {
				return
			}
		}
		if s.extra != nil {
			yield(s.extra)
		}
	}
}

// with returns the set plus the new model h.
func (s set) with(h *holding) set { s.extra = h; return s }

// list returns the models of the set.
func (s set) list() []holding {
	var out []holding
	for h := range s.all() {
		out = append(out, *h)
	}
	return out
}

// fileSet is one file's working set in a set of models.
type fileSet struct {
	file   string
	ws     uint64
	locked bool
}

// fileSets returns each file's working set: the largest of the models
// mapping it. llama.cpp keeps the first layers on the CPU and offloads from
// the top (llama-model.cpp, load_tensors: layers i < n_layer − n_gpu_layers
// use the CPU buffer type), so the host layers of one model are a prefix
// of another's and the union of their working sets is the larger one.
// Sets are small: a linear search beats a map.
func fileSets(s set) []fileSet {
	out := make([]fileSet, 0, len(s.hs)+1)
next:
	for h := range s.all() {
		if h.PageCacheBytes == 0 {
			continue
		}
		for i := range out {
			if f := &out[i]; f.file == h.File {
				f.ws = max(f.ws, h.PageCacheBytes)
				f.locked = f.locked || h.Locked
				continue next
			}
		}
		out = append(out, fileSet{h.File, h.PageCacheBytes, h.Locked})
	}
	return out
}

// account adds up the set s on machine m. fits is false when the
// anonymous (or locked) memory or a GPU's buffers exceed what the device
// has less its margin: someone would be killed or fail to allocate.
// Page-cache shortfall is not a failure but PagedBytes. With detail it
// lists the models and names the GPUs.
func account(m *probe.Snapshot, s set, hostMargin, gpuMargin uint64, detail bool) (mem Memory, fits bool) {
	fits = true
	host := &mem.Host
	host.AvailableBytes, host.MarginBytes = m.Memory.EffectiveAvailableBytes, hostMargin
	for h := range s.all() {
		host.AnonBytes += h.AnonBytes
		host.SharedBytes += h.PageCacheBytes
		if detail {
			mem.Models = append(mem.Models, h.ModelMemory)
		}
	}
	var lockedBytes uint64
	for _, f := range fileSets(s) {
		host.PageCacheBytes += f.ws
		if f.locked {
			lockedBytes += f.ws
		}
	}
	host.SharedBytes -= host.PageCacheBytes
	room := int64(host.AvailableBytes) - int64(hostMargin) - int64(host.AnonBytes)
	host.FreeAfterBytes = room - int64(host.PageCacheBytes)
	if room < int64(lockedBytes) {
		fits = false
	}
	if host.FreeAfterBytes < 0 {
		host.PagedBytes = uint64(-host.FreeAfterBytes)
	}
	for g, gpu := range m.GPUs {
		var used uint64
		for h := range s.all() {
			if g < len(h.GPUBytes) {
				used += h.GPUBytes[g]
			}
		}
		free := int64(gpu.FreeBytes) - int64(gpuMargin) - int64(used)
		if used > 0 && free < 0 {
			fits = false
		}
		if detail {
			mem.GPUs = append(mem.GPUs, GPUMemory{Name: gpuName(gpu, g), FreeBytes: gpu.FreeBytes, MarginBytes: gpuMargin, UsedBytes: used, FreeAfterBytes: free})
		}
	}
	return mem, fits
}

// gpuName names GPU i as the plans do.
func gpuName(g probe.GPU, i int) string {
	if g.Vendor == "amd" {
		return fmt.Sprintf("ROCm%d", i)
	}
	return fmt.Sprintf("CUDA%d", i)
}

// Paging is a model predicted to read part of its mapped weights from disk
// every token because the page cache cannot hold every working set.
type Paging struct {
	ID string `json:"id"`
	// MissFraction is the share of its working set not in RAM.
	MissFraction float64 `json:"miss_fraction"`
	// DecodeTokensPerSecond is predicted with the others loaded;
	// PlannedTokensPerSecond is its plan's figure.
	DecodeTokensPerSecond  float64 `json:"decode_tokens_per_second"`
	PlannedTokensPerSecond float64 `json:"planned_tokens_per_second"`
}

// paging predicts the slow-down of every model that reads weights from
// disk in the set hs. The shortfall is spread over the working sets that
// are not locked in proportion to their size, as the kernel's LRU does
// when the models decode at the same time; each token then reads that
// fraction of the model's working set from disk (the planner's own paging
// model, predict.go), beyond what its plan already predicted.
func paging(mem Memory, s set) []Paging {
	if mem.Host.PagedBytes == 0 {
		return nil
	}
	files := fileSets(s)
	locked := map[string]bool{}
	var unlocked uint64
	for _, f := range files {
		if f.locked {
			locked[f.file] = true
		} else {
			unlocked += f.ws
		}
	}
	if unlocked == 0 {
		return nil
	}
	frac := min(float64(mem.Host.PagedBytes)/float64(unlocked), 1)
	var out []Paging
	for h := range s.all() {
		if h.PageCacheBytes == 0 || h.Locked || locked[h.File] {
			continue
		}
		pred := h.plan.Predicted
		tps := pred.DecodeTokensPerSecond
		if extra := frac - h.ownMiss; extra > 0 && tps > 0 && pred.DiskReadBytesPerSecond > 0 {
			tps = 1 / (1/tps + float64(h.PageCacheBytes)*extra/pred.DiskReadBytesPerSecond)
		}
		out = append(out, Paging{ID: h.ID, MissFraction: round3(max(frac, h.ownMiss)), DecodeTokensPerSecond: round3(tps), PlannedTokensPerSecond: pred.DecodeTokensPerSecond})
	}
	return out
}

// reduce returns machine m as a new model sees it next to the set hs: host
// and GPU memory less what they hold and less its own process's overhead.
// The page cache of file own (the requested model's) is not taken: its
// pages are shared with the new process, and account checks the set as a
// whole afterwards. files, when given, replace the snapshot's file
// residency; the requested model's file counts as resident as far as a
// loaded model keeps it in the page cache.
func reduce(m *probe.Snapshot, hs set, own string, files []probe.FileInfo, overhead uint64) *probe.Snapshot {
	s := *m
	take, ownWS := overhead, uint64(0)
	for h := range hs.all() {
		take += h.AnonBytes
	}
	for _, f := range fileSets(hs) {
		if f.file == own {
			ownWS = f.ws
		} else {
			take += f.ws
		}
	}
	sub := func(a, b uint64) uint64 { return a - min(a, b) }
	s.Memory.EffectiveAvailableBytes = sub(m.Memory.EffectiveAvailableBytes, take)
	s.Memory.AvailableBytes = sub(m.Memory.AvailableBytes, take)
	s.Memory.FreeBytes = sub(m.Memory.FreeBytes, take)
	if m.Memory.CgroupLimitBytes != nil {
		s.Memory.CgroupUsageBytes = m.Memory.CgroupUsageBytes + take
	}
	if len(m.GPUs) > 0 {
		s.GPUs = append([]probe.GPU(nil), m.GPUs...)
		for h := range hs.all() {
			for g, n := range h.GPUBytes {
				s.GPUs[g].FreeBytes = sub(s.GPUs[g].FreeBytes, n)
				s.GPUs[g].UsedBytes += n
			}
		}
	}
	if files != nil {
		s.Files = files
	}
	if n := ownWS; n > 0 && len(s.Files) == 1 && s.Files[0].ResidentBytes != nil {
		fi := s.Files[0]
		r := max(*fi.ResidentBytes, min(int64(n), fi.SizeBytes))
		fi.ResidentBytes = &r
		s.Files = []probe.FileInfo{fi}
	}
	return &s
}
