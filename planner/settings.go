package planner

// Settings are the runtime parameters a plan chooses (or the user pins):
// everything a llama.cpp-family runtime needs to place and run the model.
// JSON keys follow the plan's documented schema.
type Settings struct {
	NCtx        int    `json:"n_ctx"`        // total context; with NParallel > 1 each sequence's stream gets n_ctx/n_parallel cells
	NBatch      int    `json:"n_batch"`      // logical batch
	NUbatch     int    `json:"n_ubatch"`     // physical batch (prefill chunk)
	NParallel   int    `json:"n_parallel"`   // sequences sharing the KV cache
	NGPULayers  int    `json:"n_gpu_layers"` // llama.cpp's -ngl: the output layer first (current builds; last in b6529), then repeating layers from the top
	FlashAttn   bool   `json:"flash_attn"`
	CacheTypeK  string `json:"cache_type_k"` // ggml type name: "f16", "q8_0", …
	CacheTypeV  string `json:"cache_type_v"`
	MMap        bool   `json:"mmap"`
	MLock       bool   `json:"mlock"`
	Threads     int    `json:"threads"`
	NoRepack    bool   `json:"no_repack"`
	NoKVOffload bool   `json:"no_kv_offload,omitempty"`
	// TensorSplit is the share of the offloaded layers each GPU takes
	// (llama.cpp's -ts); empty means proportional to free memory.
	TensorSplit []float64 `json:"tensor_split,omitempty"`
	// Overrides place the tensors matching a pattern on a device, as
	// llama.cpp's -ot "regex=CPU".
	Overrides []Override `json:"overrides,omitempty"`
	// StreamWeights (built-in engine, with MMap): when the host weights do
	// not fit in memory, keep the part that fits resident and read the rest
	// from disk every token into a small ring of buffers, ahead of use and
	// dropped after (exec's streaming policy), instead of paging on demand.
	// llama.cpp has no such mode.
	StreamWeights bool `json:"stream_weights,omitempty"`
}

// Override places the tensors whose names match Pattern (a regular
// expression, as llama.cpp's --override-tensor) on Device ("CPU", "CUDA0", …).
type Override struct {
	Pattern string `json:"pattern"`
	Device  string `json:"device"`
}

// DefaultSettings are llama-server's defaults for one sequence on the CPU.
func DefaultSettings() Settings {
	return Settings{NCtx: 4096, NBatch: 2048, NUbatch: 512, NParallel: 1, FlashAttn: true,
		CacheTypeK: "f16", CacheTypeV: "f16", MMap: true, Threads: 1}
}
