package llamacpp

/*
#include <stdlib.h>
#include "llama.h"
#include "ggml-cpu.h"

static void mf_quiet(enum ggml_log_level level, const char *text, void *user) {
	(void)level; (void)text; (void)user;
}

static void mf_init(int quiet) {
	if (quiet) llama_log_set(mf_quiet, NULL);
	llama_backend_init();
}

static struct llama_model *mf_load(const char *path) {
	struct llama_model_params p = llama_model_default_params();
	p.n_gpu_layers = 0;
	p.use_mmap = true;
	return llama_model_load_from_file(path, p);
}

static struct llama_context *mf_context(struct llama_model *m, int n_ctx, int n_batch, int threads) {
	struct llama_context_params p = llama_context_default_params();
	p.n_ctx = n_ctx;
	p.n_batch = n_batch;
	p.n_ubatch = n_batch;
	p.n_seq_max = 1;
	p.n_threads = threads;
	p.n_threads_batch = threads;
	p.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
	p.no_perf = true;
	return llama_init_from_model(m, p);
}

// mf_threadpool attaches a persistent CPU threadpool (as llama-bench and
// llama-cli do) instead of the per-graph one ggml creates when none is set.
static struct ggml_threadpool *mf_threadpool(struct llama_context *c, int threads, int poll) {
	struct ggml_threadpool_params p = ggml_threadpool_params_default(threads);
	p.poll = poll;
	struct ggml_threadpool *tp = ggml_threadpool_new(&p);
	if (tp != NULL) llama_attach_threadpool(c, tp, tp);
	return tp;
}

static int mf_decode(struct llama_context *c, llama_token *toks, int n) {
	return llama_decode(c, llama_batch_get_one(toks, n));
}

static llama_token mf_argmax(struct llama_context *c, int n_vocab) {
	const float *l = llama_get_logits_ith(c, -1);
	int best = 0;
	for (int i = 1; i < n_vocab; i++) if (l[i] > l[best]) best = i;
	return best;
}

static void mf_clear(struct llama_context *c) { llama_memory_clear(llama_get_memory(c), true); }
*/
import "C"

import (
	"context"
	"fmt"
	"sync"
	"time"
	"unsafe"
)

var backendInit sync.Once

// Options configures a Model's context. The zero value means 2 threads and
// a 256-token context, the settings of the project's reference data.
type Options struct {
	Threads int // CPU threads for prefill and decode
	Ctx     int // context length in tokens
	Batch   int // logical and physical batch size; defaults to Ctx
	// NoPoll makes idle threadpool workers sleep at once instead of
	// spinning (ggml's default polling level, 50, is what llama-bench uses).
	NoPoll  bool
	Verbose bool // show llama.cpp's log
}

// Model is a GGUF model loaded by llama.cpp on the CPU with one context.
type Model struct {
	model  *C.struct_llama_model
	ctx    *C.struct_llama_context
	pool   *C.struct_ggml_threadpool
	vocab  *C.struct_llama_vocab
	nVocab int
	nCtx   int
	pos    int
}

// Load loads path with llama.cpp (CPU only, mmap) and creates a context.
func Load(path string, o Options) (*Model, error) {
	if o.Threads <= 0 {
		o.Threads = 2
	}
	if o.Ctx <= 0 {
		o.Ctx = 256
	}
	if o.Batch <= 0 {
		o.Batch = o.Ctx
	}
	backendInit.Do(func() {
		q := C.int(1)
		if o.Verbose {
			q = 0
		}
		C.mf_init(q)
	})
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	m := &Model{model: C.mf_load(cpath), nCtx: o.Ctx}
	if m.model == nil {
		return nil, fmt.Errorf("llamacpp: llama.cpp could not load %s", path)
	}
	m.ctx = C.mf_context(m.model, C.int(o.Ctx), C.int(o.Batch), C.int(o.Threads))
	if m.ctx == nil {
		C.llama_model_free(m.model)
		return nil, fmt.Errorf("llamacpp: llama.cpp could not create a context for %s", path)
	}
	poll := C.int(50)
	if o.NoPoll {
		poll = 0
	}
	if m.pool = C.mf_threadpool(m.ctx, C.int(o.Threads), poll); m.pool == nil {
		m.Close()
		return nil, fmt.Errorf("llamacpp: ggml could not create a %d-thread pool", o.Threads)
	}
	m.vocab = C.llama_model_get_vocab(m.model)
	m.nVocab = int(C.llama_vocab_n_tokens(m.vocab))
	return m, nil
}

// VocabSize is the number of tokens in the model's vocabulary.
func (m *Model) VocabSize() int { return m.nVocab }

// Close frees the context and the model.
func (m *Model) Close() {
	if m.ctx != nil {
		C.llama_free(m.ctx)
		m.ctx = nil
	}
	if m.pool != nil {
		C.ggml_threadpool_free(m.pool)
		m.pool = nil
	}
	if m.model != nil {
		C.llama_model_free(m.model)
		m.model = nil
	}
}

// Tokenize tokenizes text with the model's vocabulary, adding BOS when the
// model asks for it.
func (m *Model) Tokenize(text string) ([]int32, error) {
	if len(text) > 1<<20 {
		return nil, fmt.Errorf("llamacpp: prompt of %d bytes is too long", len(text))
	}
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))
	toks := make([]C.llama_token, len(text)+2)
	n := C.llama_tokenize(m.vocab, ctext, C.int32_t(len(text)), &toks[0], C.int32_t(len(toks)), true, false)
	if n < 0 {
		return nil, fmt.Errorf("llamacpp: tokenize needs %d tokens", -n)
	}
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(toks[i])
	}
	return out, nil
}

// Reset clears the KV cache: the next Eval starts at position 0.
func (m *Model) Reset() {
	C.mf_clear(m.ctx)
	m.pos = 0
}

// Pos is the number of tokens in the KV cache.
func (m *Model) Pos() int { return m.pos }

// Eval decodes tokens in one llama_decode call (logits of the last one
// only) at the current position.
func (m *Model) Eval(tokens []int32) error {
	if len(tokens) == 0 || m.pos+len(tokens) > m.nCtx {
		return fmt.Errorf("llamacpp: %d tokens at position %d do not fit a %d-token context", len(tokens), m.pos, m.nCtx)
	}
	toks := make([]C.llama_token, len(tokens))
	for i, t := range tokens {
		if t < 0 || int(t) >= m.nVocab {
			return fmt.Errorf("llamacpp: token %d out of vocabulary (%d)", t, m.nVocab)
		}
		toks[i] = C.llama_token(t)
	}
	if rc := C.mf_decode(m.ctx, &toks[0], C.int(len(toks))); rc != 0 {
		return fmt.Errorf("llamacpp: llama_decode of %d tokens at position %d: %d", len(tokens), m.pos, rc)
	}
	m.pos += len(tokens)
	return nil
}

// Argmax is the most likely next token after the last Eval.
func (m *Model) Argmax() int32 { return int32(C.mf_argmax(m.ctx, C.int(m.nVocab))) }

// Timing is one prefill of a prompt followed by greedy decoding.
type Timing struct {
	PromptTokens int
	GenTokens    int
	Prefill      time.Duration // Eval of the whole prompt and its argmax
	Decode       time.Duration // GenTokens one-token Evals and their argmax
	Output       []int32       // the greedy tokens
}

// PrefillTPS is prompt tokens per second.
func (t Timing) PrefillTPS() float64 { return float64(t.PromptTokens) / t.Prefill.Seconds() }

// DecodeTPS is generated tokens per second.
func (t Timing) DecodeTPS() float64 { return float64(t.GenTokens) / t.Decode.Seconds() }

// Run clears the KV cache, decodes prompt in one batch, then greedily
// generates gen tokens one at a time (not stopping at end of sequence, so
// every run does the same work).
func (m *Model) Run(ctx context.Context, prompt []int32, gen int) (Timing, error) {
	if len(prompt)+gen > m.nCtx {
		return Timing{}, fmt.Errorf("llamacpp: %d prompt + %d generated tokens do not fit a %d-token context", len(prompt), gen, m.nCtx)
	}
	m.Reset()
	tm := Timing{PromptTokens: len(prompt), GenTokens: gen}
	start := time.Now()
	if err := m.Eval(prompt); err != nil {
		return tm, err
	}
	next := m.Argmax()
	tm.Prefill = time.Since(start)
	start = time.Now()
	one := make([]int32, 1)
	for range gen {
		if err := ctx.Err(); err != nil {
			return tm, err
		}
		tm.Output = append(tm.Output, next)
		one[0] = next
		if err := m.Eval(one); err != nil {
			return tm, err
		}
		next = m.Argmax()
	}
	tm.Decode = time.Since(start)
	return tm, nil
}
