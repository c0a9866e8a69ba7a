package planner

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/modelfit/modelfit/gguf"
)

// OllamaEnv is the Ollama server's environment that its decisions depend
// on. The planner reads no environment: the caller fills it
// (OllamaEnvFrom(os.Getenv)).
type OllamaEnv struct {
	FlashAttention string // OLLAMA_FLASH_ATTENTION as set; "" when unset
	KVCacheType    string // OLLAMA_KV_CACHE_TYPE
	ContextLength  uint64 // OLLAMA_CONTEXT_LENGTH; 0 when unset
	NumParallel    uint64 // OLLAMA_NUM_PARALLEL; 0 when unset (1)
	NewEngine      bool   // OLLAMA_NEW_ENGINE
	GPUOverhead    uint64 // OLLAMA_GPU_OVERHEAD in bytes
	SchedSpread    bool   // OLLAMA_SCHED_SPREAD
	// OS is the server's operating system as Go names it; "" is linux.
	// Ollama's mmap rule differs by OS.
	OS string
}

// OllamaEnvFrom reads the variables as Ollama v0.17.4's envconfig parses
// them (values quoted or padded are trimmed; an unparsable number is
// ignored, an unparsable boolean counts as true). getenv is os.Getenv or a
// test's map.
func OllamaEnvFrom(getenv func(string) string) OllamaEnv {
	v := func(k string) string { return strings.Trim(strings.TrimSpace(getenv(k)), `"'`) }
	num := func(k string) uint64 {
		n, _ := strconv.ParseUint(v(k), 10, 64)
		return n
	}
	boolean := func(k string) bool {
		if s := v(k); s != "" {
			b, err := strconv.ParseBool(s)
			return err != nil || b
		}
		return false
	}
	return OllamaEnv{FlashAttention: v("OLLAMA_FLASH_ATTENTION"), KVCacheType: v("OLLAMA_KV_CACHE_TYPE"),
		ContextLength: num("OLLAMA_CONTEXT_LENGTH"), NumParallel: num("OLLAMA_NUM_PARALLEL"), NewEngine: boolean("OLLAMA_NEW_ENGINE"),
		GPUOverhead: num("OLLAMA_GPU_OVERHEAD"), SchedSpread: boolean("OLLAMA_SCHED_SPREAD")}
}

// flashAttention is envconfig.FlashAttention(def): unset gives def, an
// unparsable value true.
func (e OllamaEnv) flashAttention(def bool) bool {
	if e.FlashAttention == "" {
		return def
	}
	b, err := strconv.ParseBool(e.FlashAttention)
	return err != nil || b
}

func (e OllamaEnv) goos() string {
	if e.OS == "" {
		return "linux"
	}
	return e.OS
}

// OllamaOptions are the options a user gives Ollama for a model: stored
// with it (Modelfile PARAMETER lines, its params layer) or sent with a
// request. Nil means not given.
type OllamaOptions struct {
	NumCtx, NumBatch, NumGPU, NumThread *int
	UseMMap                             *bool
}

// ollamaEngineArchs is fs/ggml KV.OllamaEngineRequired: architectures
// Ollama v0.17.4 always tries on its Go engine.
var ollamaEngineArchs = []string{"bert", "deepseek2", "deepseekocr", "gemma3", "gemma3n", "gptoss", "gpt-oss", "llama4", "mistral3",
	"mllama", "nemotron_h", "nemotron_h_moe", "nomic-bert", "olmo3", "qwen25vl", "qwen3", "qwen3moe", "qwen35", "qwen35moe",
	"qwen3next", "qwen3vl", "qwen3vlmoe", "glm4moelite", "glmocr", "lfm2", "lfm2moe"}

// ollamaEngineModels are the architectures model/models/ registers (the
// models.go imports): with OLLAMA_NEW_ENGINE these run on the engine too.
var ollamaEngineModels = []string{"llama", "qwen35", "qwen35moe", "qwen3next", "lfm2", "lfm2moe", "glm4moelite", "llama4", "nomic-bert",
	"nomic-bert-moe", "gemma3", "mllama", "qwen3vl", "qwen3vlmoe", "deepseek2", "qwen25vl", "glmocr", "deepseekocr", "qwen2", "olmo3",
	"qwen3", "qwen3moe", "nemotron_h", "nemotron_h_moe", "gptoss", "gpt-oss", "bert", "gemma2", "mistral3", "gemma3n"}

// OllamaRunnerFor returns the runner Ollama v0.17.4 loads file f with and
// why: llm.NewLlamaServer tries the Go engine when the architecture
// requires it (fs/ggml OllamaEngineRequired) or OLLAMA_NEW_ENGINE is set,
// and falls back to its llama.cpp runner when the Go model refuses the
// file (model.NewTextProcessor → the model's New).
func OllamaRunnerFor(f *gguf.File, env OllamaEnv) (Runtime, string) {
	arch := f.Architecture()
	md := &f.Metadata
	if !slices.Contains(ollamaEngineArchs, arch) && !env.NewEngine {
		return RuntimeOllama, fmt.Sprintf("Ollama runs %s on its llama.cpp runner (llm.NewLlamaServer: not in fs/ggml OllamaEngineRequired, OLLAMA_NEW_ENGINE unset)", arch)
	}
	name := arch
	if v, ok := md.Uint(arch + ".pooling_type"); ok && v != 0 {
		name = arch + "_embed" // model.modelForArch
	}
	refuse := ""
	switch {
	case !slices.Contains(ollamaEngineModels, name) && !slices.Contains([]string{"bert_embed", "nomic-bert_embed", "nomic-bert-moe_embed", "gemma3_embed", "qwen3_embed"}, name):
		refuse = "the engine has no model for " + name + " (model/models)"
	case arch == "deepseek2" && md.String("tokenizer.ggml.pre") != "deepseek-v3":
		refuse = fmt.Sprintf("model/models/deepseek2 New accepts only the deepseek-v3 pre-tokenizer, not %q", md.String("tokenizer.ggml.pre"))
	case arch == "glm4moelite" && md.String("tokenizer.ggml.pre") != "glm4":
		refuse = fmt.Sprintf("model/models/glm4moelite New accepts only the glm4 pre-tokenizer, not %q", md.String("tokenizer.ggml.pre"))
	case (arch == "lfm2" || arch == "lfm2moe") && md.String("tokenizer.ggml.model") != "gpt2":
		refuse = "model/models/lfm2 New accepts only a gpt2 tokenizer"
	case arch == "llama" && md.String("tokenizer.ggml.model") != "gpt2" && md.String("tokenizer.ggml.model") != "llama":
		refuse = fmt.Sprintf("model/models/llama New has no %q tokenizer", md.String("tokenizer.ggml.model"))
	case arch == "qwen2" && md.String("tokenizer.ggml.model") == "llama":
		refuse = "model/models/qwen2 New refuses the llama tokenizer"
	case arch == "qwen2" && strings.HasPrefix(md.String("general.name"), "Qwen2-beta"):
		refuse = "model/models/qwen2 New refuses Qwen2-beta"
	}
	if refuse != "" {
		return RuntimeOllama, fmt.Sprintf("Ollama tries its Go engine for %s but %s, so it falls back to its llama.cpp runner (llm.NewLlamaServer)", arch, refuse)
	}
	why := "fs/ggml OllamaEngineRequired lists it"
	if !slices.Contains(ollamaEngineArchs, arch) {
		why = "OLLAMA_NEW_ENGINE is set"
	}
	return RuntimeOllamaEngine, fmt.Sprintf("Ollama runs %s on its Go engine, model/models/%s (llm.NewLlamaServer: %s)", arch, strings.ReplaceAll(arch, "-", ""), why)
}

// ollamaFlashAttentionArchs is fs/ggml GGML.FlashAttention: the
// architectures whose flash attention is on by default.
var ollamaFlashAttentionArchs = []string{"bert", "gemma3", "glm4moelite", "glmocr", "gptoss", "gpt-oss", "lfm2", "lfm2moe", "mistral3",
	"nemotron_h", "nemotron_h_moe", "olmo3", "qwen3", "qwen3moe", "qwen35", "qwen35moe", "qwen3next", "qwen3vl", "qwen3vlmoe"}

// ollamaKV is fs/ggml's view of the header: Ollama's defaults differ from
// llama.cpp's (a missing head_count_kv is 1, head sizes derive from the
// smallest head count).
type ollamaKV struct {
	arch                            string
	blocks                          int
	embd, heads, headsMin           uint64
	headsArr, headsKVArr            []uint64
	headsKVMax, headsKVMin          uint64
	headK, headV, embdHeads         uint64
	vocab                           uint64
	train                           uint64
	ssmConv, ssmState, ssmInner, ng uint64
	embedding                       bool
	swa                             uint64
}

func newOllamaKV(f *gguf.File) ollamaKV {
	md := &f.Metadata
	arch := f.Architecture()
	u := func(k string, def uint64) uint64 {
		if v, ok := md.Uint(arch + "." + k); ok {
			return v
		}
		return def
	}
	arr := func(k string) []uint64 {
		if v, ok := md.Get(arch + "." + k); ok {
			if xs, ok := v.Uints(); ok && len(xs) > 0 {
				return xs
			}
			if x, ok := v.Uint(); ok {
				return []uint64{x}
			}
		}
		return []uint64{1}
	}
	kv := ollamaKV{arch: arch, embd: u("embedding_length", 0), train: u("context_length", 0),
		ssmConv: u("ssm.conv_kernel", 0), ssmState: u("ssm.state_size", 0), ssmInner: u("ssm.inner_size", 0), ng: u("ssm.group_count", 0),
		embedding: md.Has(arch + ".pooling_type"), swa: u("attention.sliding_window", 0)}
	kv.blocks = int(u("block_count", 0))
	perLayer := func(xs []uint64) []uint64 {
		def := uint64(1)
		if len(xs) == 1 {
			def = xs[0]
		}
		out := make([]uint64, max(kv.blocks, 0))
		for i := range out {
			out[i] = def
			if i < len(xs) {
				out[i] = xs[i]
			}
		}
		return out
	}
	h, hkv := arr("attention.head_count"), arr("attention.head_count_kv")
	kv.heads, kv.headsMin = slices.Max(h), slices.Min(h)
	kv.headsKVMax, kv.headsKVMin = slices.Max(hkv), slices.Min(hkv)
	kv.headsArr, kv.headsKVArr = perLayer(h), perLayer(hkv)
	if kv.headsMin > 0 {
		kv.embdHeads = kv.embd / kv.headsMin
	}
	kv.headK, kv.headV = u("attention.key_length", kv.embdHeads), u("attention.value_length", kv.embdHeads)
	if v, ok := md.Get("tokenizer.ggml.tokens"); ok {
		if a, ok := v.Array(); ok {
			kv.vocab = uint64(a.Len())
		}
	}
	return kv
}

// supportsFlashAttention is fs/ggml GGML.SupportsFlashAttention.
func (kv ollamaKV) supportsFlashAttention() bool {
	switch {
	case kv.embedding:
		return false
	case slices.Contains([]string{"qwen35", "qwen35moe", "qwen3next"}, kv.arch):
		return true
	case kv.arch == "gemma2":
		return false
	}
	return kv.headK != 0 && kv.headV != 0 && kv.headK == kv.headV
}

// ollamaKVBytes is fs/ggml kvCacheBytesPerElement.
func ollamaKVBytes(t string) float64 {
	switch t {
	case "q8_0":
		return 1
	case "q4_0":
		return 0.5
	case "f32":
		return 4
	}
	return 2
}

// ollamaGraphSize mirrors fs/ggml GGML.GraphSize: the per-layer cache and
// the graph sizes Ollama's scheduler assumes for its llama.cpp runner
// (partial and full offload); 0 where it has no formula for the
// architecture.
func ollamaGraphSize(f *gguf.File, kv ollamaKV, context, batch uint64, parallel int, kvType string, faEnabled bool) (cache []uint64, partial, full uint64) {
	context *= uint64(parallel)
	embd, heads, headsKV, vocab := kv.embd, kv.heads, kv.headsKVMax, kv.vocab
	embdHeads, headK, headV := kv.embdHeads, kv.headK, kv.headV
	bpe := ollamaKVBytes(kvType)
	cache = make([]uint64, max(kv.blocks, 0))
	var kvTotal uint64
	for i := range cache {
		if kv.headsArr[i] > 0 && kv.headsKVArr[i] > 0 {
			cache[i] = uint64(float64(context*(headK+headV)*kv.headsKVArr[i]) * bpe)
		} else {
			var r uint64
			if kv.ssmConv > 0 {
				r = (kv.ssmConv - 1) * (kv.ssmInner + 2*kv.ng*kv.ssmState)
			}
			cache[i] = (r + kv.ssmState*kv.ssmInner) * 4
		}
		kvTotal += cache[i]
	}
	tensor := func(name string) (*gguf.Tensor, bool) { return f.Tensor(name) }
	switch kv.arch {
	case "llama", "llama4":
		full = max(4*batch*(1+4*embd+context*(1+heads)), 4*batch*(embd+vocab))
		partial = 4 * batch * embd
		partial += max(4*batch*(1+embd+max(context, embd))+embd*embd*9/16+4*context*(batch*heads+embdHeads*headsKV),
			4*batch*(embd+vocab)+embd*vocab*105/128)
		if t, ok := tensor("blk.0.ffn_gate_exps.weight"); ok {
			ff := uint64(0)
			if v, ok := f.Metadata.Uint(kv.arch + ".feed_forward_length"); ok {
				ff = v
			}
			partial = max(3*uint64(t.Size)+4*batch*(2*ff+headsKV+embd+context+embdHeads*headsKV),
				4*(context*batch*heads+context*embdHeads*headsKV+batch*1024+embdHeads*headsKV*batch))
		} else if t, ok := tensor("blk.0.ffn_gate.0.weight"); ok {
			ff1 := uint64(0)
			if len(t.Shape) > 1 {
				ff1 = t.Shape[1]
			}
			full = 4 * batch * (2 + 3*embd + context*(1+heads) + 2*headsKV + ff1)
			partial = max(4*batch*(3+embdHeads*headsKV+embd+context*(1+heads)+ff1)+(embd*embd+3*embd*headsKV*ff1)*9/16,
				4*batch*(1+2*embd+context*(1+heads))+embd*(6*context*headsKV/max(heads, 1)+embd*9/16))
		}
	case "gemma", "gemma2", "gemma3", "gemma3n":
		full = max(4*batch*(embd+vocab), 4*batch*(2+context+context*heads+2*embd+2*headK*heads))
		partial = max(4*embd*batch+embd*vocab*105/128+4*vocab*batch,
			4*batch*(2*embd+1+2*headK*heads+context+context*heads)+4*headK*context*8+embd*headK*heads*9/16)
		if kv.arch == "gemma3n" {
			full, partial = full*4, partial*4
		}
		if kv.arch == "gemma3" {
			window := uint64(parallel)*kv.swa + batch
			for i := range cache {
				if (i+1)%6 != 0 {
					cache[i] = uint64(float64(window*(headK+headV)*headsKV) * bpe)
				}
			}
		}
	case "command-r":
		full = max(4*batch*(embd+vocab), 4*batch*(2+4*embd+context*(1+heads)))
		partial = max(4*batch*(embd+vocab)+embd*vocab*105/128, 4*batch*(1+2*embd+context*(1+heads))+4*embd*context+embd*embd*9/16)
	case "qwen2":
		full = max(4*batch*(embd+vocab), 4*batch*(1+2*embd+context+context*heads))
		partial = max(4*batch*(embd+vocab)+embd*vocab*105/128, 4*(batch*(1+2*embd+context*(1+heads))+embd*(1+context)))
	case "phi2":
		full = max(4*batch*(embd+vocab), 4*batch*(1+4*embd+context+context*heads))
		partial = max(4*batch*(2*embd+vocab)+embd*vocab*105/128, 4*batch*(2+3*embd+context+context*heads))
	case "stablelm":
		full = 4 * batch * (context*(1+heads) + 3*embd + 2)
		partial = max(4*batch*(vocab+2*embd), full)
	case "deepseek2":
		full = max(4*batch*(3*embd+vocab), 4*batch*(3*embd+2+context*(1+headsKV)+2*headK*headsKV))
		partial = max(4*batch*(3*embd+vocab)+embd*vocab*105/128,
			4*batch*(2*embd+1+2*headK*headsKV+context+context*headsKV)+4*headK*context*headsKV+embd*headK*headsKV*9/16)
	case "chatglm":
		full = 4 * batch * (embd + vocab)
		partial = 4*batch*(embd+vocab) + embd*vocab*105/128
		if t, ok := tensor("blk.0.attn_qkv.bias"); ok && len(t.Shape) > 0 {
			full = max(full, 4*batch*(2+2*embd+context+context*heads+headK*heads+t.Shape[0]))
			partial = max(partial, 4*batch*(1+2*embd+headK*heads+context+context*heads)+4*headK*context+4*context*headK+4*t.Shape[0])
		}
	case "gptoss", "gpt-oss":
		for i := range cache {
			cache[i] = uint64(float64((headK+headV)*headsKV) * bpe)
			if i%2 == 0 {
				cache[i] *= uint64(parallel)*4096 + batch
			} else {
				cache[i] *= context
			}
		}
		partial = 2 * kv.heads / max(kv.headsKVMin, 1) * kvTotal / 6
		if faEnabled {
			partial = (4*uint64(parallel) + context>>10 + 110) << 20
		}
	}
	return cache, partial, full
}

// ollamaGroupSizes are fs/ggml Tensors.GroupLayers' sizes: per "blk.N"
// and per other first name part ("output", "output_norm", "token_embd").
func ollamaGroupSizes(f *gguf.File) map[string]uint64 {
	out := map[string]uint64{}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		parts := strings.Split(t.Name, ".")
		key := parts[0]
		if j := slices.IndexFunc(parts, func(s string) bool { return s == "blk" || s == "mm" }); j != -1 && len(parts) > j+2 {
			key = strings.Join(parts[:j+2], ".")
		}
		out[key] += uint64(t.Size)
	}
	return out
}
