package llamaserver

import (
	"regexp"
	"strconv"
	"strings"
)

// MiB is the unit llama.cpp logs buffer sizes in.
const MiB = 1 << 20

// Buffers are the buffer sizes llama.cpp logged while loading (in MiB, with
// the two decimals it prints; llama-server logs them at -lv 4). Keys are
// ggml buffer type names: "CPU_Mapped" (mapped weights), "CPU" (weights read
// into memory, or host KV/compute/output), "CPU_REPACK", "CUDA0",
// "CUDA_Host", … A model with several caches (sliding-window layers) logs
// several KV buffers on a device: they are summed.
type Buffers struct {
	Model   map[string]float64 `json:"model"`
	KV      map[string]float64 `json:"kv"`
	Compute map[string]float64 `json:"compute"`
	Output  map[string]float64 `json:"output"`
	RS      map[string]float64 `json:"rs,omitempty"` // recurrent state
	// K and V sum the KV summary lines of every cache; KType and VType are
	// the cache types they name; Cells the largest cache's cells.
	K, V         float64
	KType, VType string
	Cells        int
	// LoadMode is "mmap" or "none" as load_tensors reported it ("" when not
	// logged).
	LoadMode string
}

var (
	// "load_tensors:   CPU_Mapped model buffer size =     1.46 MiB",
	// "llama_context:        CPU  output buffer size =     0.01 MiB",
	// "sched_reserve:        CPU compute buffer size =     5.01 MiB"
	// (llama-model.cpp, llama-context.cpp, llama-kv-cache.cpp)
	bufferSize = regexp.MustCompile(`(?m)\w+:\s+(\S+)\s+(model|output|KV|compute|RS) buffer size =\s*([\d.]+) MiB`)
	// "llama_kv_cache: size =    1.00 MiB (   512 cells,   4 layers,  4/1 seqs), K (f16):    0.50 MiB, V (f16):    0.50 MiB"
	kvSummary = regexp.MustCompile(`(?m)\(\s*(\d+) cells.*?K \((\w+)\):\s*([\d.]+) MiB, V \((\w+)\):\s*([\d.]+) MiB`)
	// "load_tensors: loading model tensors, this can take a while... (load_mode = mmap)"
	loadMode = regexp.MustCompile(`load_mode = (\w+)`)
)

// ParseBuffers reads the buffer sizes from a llama.cpp log.
func ParseBuffers(log string) Buffers {
	b := Buffers{Model: map[string]float64{}, KV: map[string]float64{}, Compute: map[string]float64{},
		Output: map[string]float64{}, RS: map[string]float64{}}
	for _, m := range bufferSize.FindAllStringSubmatch(log, -1) {
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			continue
		}
		dst := map[string]map[string]float64{"model": b.Model, "output": b.Output, "KV": b.KV, "compute": b.Compute, "RS": b.RS}[m[2]]
		dst[m[1]] += v
	}
	for _, m := range kvSummary.FindAllStringSubmatch(log, -1) {
		c, _ := strconv.Atoi(m[1])
		b.Cells = max(b.Cells, c)
		k, _ := strconv.ParseFloat(m[3], 64)
		v, _ := strconv.ParseFloat(m[5], 64)
		b.K += k
		b.V += v
		b.KType, b.VType = m[2], m[4]
	}
	if m := loadMode.FindStringSubmatch(log); m != nil {
		b.LoadMode = m[1]
	}
	return b
}

// Empty reports whether no buffer size was logged (llama-server below -lv 4
// does not print them).
func (b Buffers) Empty() bool { return len(b.Model)+len(b.KV)+len(b.Compute)+len(b.Output) == 0 }

// Device sums the buffers of kind ("model", "KV", "compute", "output")
// whose buffer type belongs to device dev ("CPU" takes CPU, CPU_Mapped and
// the host buffers of GPU backends such as CUDA_Host; "CUDA0" takes CUDA0).
// "CPU_REPACK" is left out of "model": it is asked for by its own name.
func (b Buffers) Device(kind, dev string) (mib float64, ok bool) {
	m := map[string]map[string]float64{"model": b.Model, "output": b.Output, "KV": b.KV, "compute": b.Compute, "RS": b.RS}[kind]
	for name, v := range m {
		if bufferDevice(name) == dev {
			mib += v
			ok = true
		}
	}
	return mib, ok
}

// bufferDevice maps a ggml buffer type name to the device whose memory it
// takes: host types (CPU, CPU_Mapped, CPU_REPACK, CUDA_Host, …) to "CPU",
// the rest to their own name.
func bufferDevice(name string) string {
	switch {
	case name == "CPU_REPACK":
		return "CPU_REPACK"
	case strings.HasPrefix(name, "CPU") || strings.HasSuffix(name, "_Host"):
		return "CPU"
	}
	return name
}
