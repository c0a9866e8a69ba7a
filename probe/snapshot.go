package probe

// SchemaVersion identifies the JSON layout of a Snapshot.
const SchemaVersion = "probe/v1"

// Snapshot is what a machine has for a model right now. It is the planner's
// only view of the hardware: build it with Probe on the machine itself, read
// it from JSON, or describe an assumed machine with Describe.
type Snapshot struct {
	Schema  string     `json:"schema"`
	Source  string     `json:"source"` // "probe", "described", "file"
	Memory  Memory     `json:"memory"`
	CPU     CPU        `json:"cpu"`
	NUMA    []NUMANode `json:"numa,omitempty"`
	GPUs    []GPU      `json:"gpus"`
	GPUNote string     `json:"gpu_note,omitempty"` // why no GPUs were found, e.g. "no NVIDIA GPUs: libnvidia-ml.so.1 not found"
	Files   []FileInfo `json:"files,omitempty"`
}

// Memory is host memory in bytes.
type Memory struct {
	TotalBytes     uint64 `json:"total_bytes"`
	FreeBytes      uint64 `json:"free_bytes"`
	AvailableBytes uint64 `json:"available_bytes"` // MemAvailable
	PageCacheBytes uint64 `json:"page_cache_bytes"`
	BuffersBytes   uint64 `json:"buffers_bytes"`
	ActiveFile     uint64 `json:"active_file_bytes"`
	InactiveFile   uint64 `json:"inactive_file_bytes"`
	SReclaimable   uint64 `json:"sreclaimable_bytes"`
	ShmemBytes     uint64 `json:"shmem_bytes"`
	SwapTotalBytes uint64 `json:"swap_total_bytes"`
	SwapFreeBytes  uint64 `json:"swap_free_bytes"`
	HugePagesTotal uint64 `json:"huge_pages_total"`
	HugePagesFree  uint64 `json:"huge_pages_free"`
	HugePageBytes  uint64 `json:"huge_page_bytes"`

	CgroupVersion    int     `json:"cgroup_version,omitempty"` // 1, 2, or 0 when none applies
	CgroupLimitBytes *uint64 `json:"cgroup_limit_bytes"`       // nil when unlimited
	CgroupUsageBytes uint64  `json:"cgroup_usage_bytes,omitempty"`
	CgroupCacheBytes uint64  `json:"cgroup_reclaimable_bytes,omitempty"` // reclaimable file cache charged to the cgroup

	// EffectiveAvailableBytes is what a new model can really allocate:
	// min(host available, cgroup limit − usage + reclaimable cache).
	EffectiveAvailableBytes uint64 `json:"effective_available_bytes"`
	LimitSource             string `json:"limit_source"` // "meminfo", "cgroup v1", "cgroup v2", "vm_stat", "GlobalMemoryStatusEx", "commit limit", "gopsutil", "described"

	// CommitLimitBytes and CommitTotalBytes are Windows' commit limit (RAM
	// plus page files) and charge: anonymous memory must fit under the
	// limit. Zero elsewhere.
	CommitLimitBytes uint64 `json:"commit_limit_bytes,omitempty"`
	CommitTotalBytes uint64 `json:"commit_total_bytes,omitempty"`

	// MlockLimitBytes is RLIMIT_MEMLOCK: nil when unlimited, or when the
	// process has CAP_IPC_LOCK (as root normally does), which exempts it.
	MlockLimitBytes *uint64 `json:"mlock_limit_bytes"`
}

// CPU describes the processors usable by this process.
type CPU struct {
	Model         string   `json:"model"`
	Arch          string   `json:"arch"` // GOARCH
	PhysicalCores int      `json:"physical_cores"`
	LogicalCores  int      `json:"logical_cores"`
	UsableCores   float64  `json:"usable_cores"` // under the cgroup CPU quota and affinity
	QuotaSource   string   `json:"quota_source,omitempty"`
	Features      []string `json:"features"` // "avx2", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "f16c", "fma", "neon", "dotprod", "i8mm", "sve", "sve256" (256-bit SVE)
	// SVEVectorBits is the SVE vector length on arm64 (0 without SVE or
	// when unknown): llama.cpp picks Q4_0's repacked layout by it.
	SVEVectorBits int `json:"sve_vector_bits,omitempty"`
	// MemoryBandwidth is an assumed or measured host memory bandwidth in
	// bytes/s (0 when unknown).
	MemoryBandwidth float64 `json:"memory_bandwidth_bytes_per_second,omitempty"`
}

// HasFeature reports whether the CPU has the named feature.
func (c *CPU) HasFeature(name string) bool {
	for _, f := range c.Features {
		if f == name {
			return true
		}
	}
	return false
}

// NUMANode is one NUMA node's memory and CPUs.
type NUMANode struct {
	ID         int    `json:"id"`
	TotalBytes uint64 `json:"total_bytes"`
	FreeBytes  uint64 `json:"free_bytes"`
	CPUs       []int  `json:"cpus"`
}

// GPU is one accelerator.
type GPU struct {
	Index             int     `json:"index"`
	Vendor            string  `json:"vendor"` // "nvidia", "amd", "apple", "described"
	Name              string  `json:"name"`
	UUID              string  `json:"uuid,omitempty"`
	TotalBytes        uint64  `json:"total_bytes"`
	FreeBytes         uint64  `json:"free_bytes"`
	UsedBytes         uint64  `json:"used_bytes"`
	ComputeCapability string  `json:"compute_capability,omitempty"`
	PCIBusID          string  `json:"pci_bus_id,omitempty"`
	MemoryBusWidth    uint32  `json:"memory_bus_width_bits,omitempty"`
	MemoryClockMHz    uint32  `json:"memory_clock_mhz,omitempty"`
	BandwidthBytes    float64 `json:"bandwidth_bytes_per_second,omitempty"` // derived or described
	Driver            string  `json:"driver_version,omitempty"`
	CUDAVersion       string  `json:"cuda_version,omitempty"`
	// UnifiedMemory marks a GPU that has no memory of its own and shares
	// host RAM (GB10/DGX Spark, Jetson, Apple Silicon); what it allocates
	// comes out of the host's memory, so the planner must not count it
	// twice. An NVIDIA or AMD one reports the host's total and free; an
	// Apple one (Vendor "apple") the Metal working set, its budget within
	// that RAM (see MetalWorkingSet).
	UnifiedMemory bool `json:"unified_memory,omitempty"`
}

// FileInfo is a model file's size and page-cache residency.
type FileInfo struct {
	Path          string  `json:"path"`
	SizeBytes     int64   `json:"size_bytes"`
	ResidentBytes *int64  `json:"resident_bytes"` // nil when it cannot be known truthfully
	ResidencyNote string  `json:"residency_note,omitempty"`
	Method        string  `json:"method,omitempty"` // "cachestat", "mincore"
	Filesystem    string  `json:"filesystem"`       // "ext4", "xfs", "btrfs", "tmpfs", "overlay", "nfs", "cifs", "fuse", …
	Rotational    *bool   `json:"rotational"`       // nil when unknown
	ReadBandwidth float64 `json:"read_bandwidth_bytes_per_second,omitempty"`
}
