package exec

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"
)

// GenerateOptions control Generate.
type GenerateOptions struct {
	MaxTokens int // tokens to generate; <= 0 means until end of generation or a full context
	Sample    SampleOptions
	// NoSpecial tokenizes the prompt without adding BOS and without parsing
	// special-token text.
	NoSpecial bool
	// IgnoreEOG keeps generating past an end-of-generation token.
	IgnoreEOG bool
}

// Token is one generated token.
type Token struct {
	ID   int32
	Text string // its piece; concatenating pieces gives the text
}

// Generate tokenizes prompt, runs it through the model from an empty cache
// (in ubatch chunks) and yields generated tokens one by one until MaxTokens,
// an end-of-generation token, a full context or the context's cancellation
// (yielded as an error). Stopping the iteration early is allowed.
func (m *Model) Generate(ctx context.Context, prompt string, opts GenerateOptions) iter.Seq2[Token, error] {
	return func(yield func(Token, error) bool) {
		toks := m.tok.Encode(prompt, !opts.NoSpecial, !opts.NoSpecial)
		if len(toks) == 0 {
			yield(Token{}, errors.New("exec: empty prompt"))
			return
		}
		m.Reset()
		m.stats.PromptTokens, m.stats.GeneratedTokens = len(toks), 0
		m.stats.Prefill, m.stats.Decode, m.stats.FirstToken = 0, 0, 0
		before := readUsage()
		defer func() { m.stats.usage(before, readUsage()) }()
		smp := newSampler(opts.Sample)
		history := append([]int32(nil), toks...)
		logits := make([]float32, m.hp.nVocab)
		start := time.Now()
		err := m.eval(ctx, toks, false, func(l []float32) { copy(logits, l) })
		m.stats.Prefill = time.Since(start)
		if err != nil {
			yield(Token{}, err)
			return
		}
		decodeStart := time.Now()
		for n := 0; opts.MaxTokens <= 0 || n < opts.MaxTokens; n++ {
			id := smp.sample(logits, history)
			if n == 0 {
				m.stats.FirstToken = time.Since(start)
			}
			m.stats.GeneratedTokens++
			if m.tok.IsEOG(id) && !opts.IgnoreEOG {
				return
			}
			history = append(history, id)
			if !yield(Token{ID: id, Text: m.tok.Piece(id, false)}, nil) {
				return
			}
			if opts.MaxTokens > 0 && n+1 == opts.MaxTokens {
				return
			}
			if m.kv.n >= m.kv.nCtx {
				yield(Token{}, fmt.Errorf("exec: context full (%d tokens)", m.kv.nCtx))
				return
			}
			err := m.eval(ctx, []int32{id}, false, func(l []float32) { copy(logits, l) })
			m.stats.Decode = time.Since(decodeStart)
			if err != nil {
				yield(Token{}, err)
				return
			}
		}
	}
}
