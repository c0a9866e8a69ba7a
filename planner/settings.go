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
	// KVUnified is llama.cpp's kv_unified (-kvu): one KV stream of n_ctx
	// cells shared by all NParallel sequences, each of which may use all
	// of it (llama-server's default when -np is left to auto), instead of
	// one stream of n_ctx/n_parallel cells per sequence
	// (src/llama-context.cpp: n_ctx_seq = n_ctx; src/llama-kv-cache.cpp:
	// n_stream = 1).
	KVUnified bool `json:"kv_unified,omitempty"`
	// NOutputsMax is llama_context_params.n_outputs_max: the most logits
	// rows one ubatch computes, which the compute buffer is reserved for.
	// 0 means n_batch (llama-cli, llama-bench, llama-fit-params);
	// llama-server sets n_parallel, one row per slot (PR 23861,
	// tools/server/server-context.cpp).
	NOutputsMax int `json:"n_outputs_max,omitempty"`
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
