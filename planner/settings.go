package planner

// Settings are the runtime parameters a plan chooses (or the user pins):
// everything a llama.cpp-family runtime needs to place and run the model.
// JSON keys follow the plan's documented schema.
type Settings struct {
	NCtx        int       `json:"n_ctx"`        // total context (all sequences)
	NBatch      int       `json:"n_batch"`      // logical batch
	NUbatch     int       `json:"n_ubatch"`     // physical batch (prefill chunk)
	NParallel   int       `json:"n_parallel"`   // sequences sharing the KV cache
	NGPULayers  int       `json:"n_gpu_layers"` // repeating layers (+ output) offloaded; 0 = CPU only
	FlashAttn   bool      `json:"flash_attn"`
	CacheTypeK  string    `json:"cache_type_k"` // ggml type name: "f16", "q8_0", …
	CacheTypeV  string    `json:"cache_type_v"`
	MMap        bool      `json:"mmap"`
	MLock       bool      `json:"mlock"`
	Threads     int       `json:"threads"`
	NoRepack    bool      `json:"no_repack,omitempty"`
	NoKVOffload bool      `json:"no_kv_offload,omitempty"`
	SplitMode   string    `json:"split_mode,omitempty"`   // "layer" (default), "row", "none"
	TensorSplit []float64 `json:"tensor_split,omitempty"` // per-GPU proportions
	// Overrides place tensors matching a pattern on a buffer type, as
	// llama.cpp's -ot "regex=CPU".
	Overrides []Override `json:"overrides,omitempty"`
}

// Override places the tensors whose names match Pattern (a regular
// expression, as llama.cpp's --override-tensor) on Device ("CPU", "CUDA0", …).
type Override struct {
	Pattern string `json:"pattern"`
	Device  string `json:"device"`
}
