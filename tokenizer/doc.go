// Package tokenizer turns text into token ids and back exactly as llama.cpp
// does, from the tokenizer.ggml.* metadata of a GGUF file: SentencePiece-style
// vocabularies (tokenizer.ggml.model "llama": llama, mistral, phi-3; byte
// fallback), GPT-2-style byte-level BPE ("gpt2") with the pre-tokenizer
// splits of the common families (tokenizer.ggml.pre "gpt-2", "llama-bpe",
// "qwen2", "qwen35", "tekken", "gpt-4o"/"llama4", "deepseek-coder",
// "deepseek-llm", "deepseek-v3", "kimi-k2", "seed-coder", "exaone-moe",
// "jais-2", "bloom", "default", starcoder and falcon styles, and the names
// llama.cpp maps to them), and BERT's WordPiece ("bert").
//
// Encode, Piece and Decode follow llama_tokenize, llama_token_to_piece and
// llama_detokenize, including the defaults and fix-ups llama.cpp applies when
// it loads a vocabulary (special tokens found by their text, end-of-generation
// set, Phi-3's stripping around special tokens). The results are checked
// against llama.cpp's own tokenizer tests and reference outputs.
//
// Where llama.cpp's behaviour is undefined or ends in an exception this
// package chooses: a SentencePiece byte with no byte token becomes the
// unknown token; a code point past U+10FFFF becomes U+FFFD; of several
// tokens whose text marks them as, say, end-of-turn, the lowest id is taken
// (llama.cpp takes the first in hash order); special tokens of equal length
// are matched in id order. Code point classes come from Go's Unicode 15.0
// tables, WordPiece's accent stripping from Python's unicodedata 14.0.
//
// Not implemented (FromGGUF returns an error wrapping ErrUnsupported):
// Unigram ("t5"), RWKV and PLaMo-2 tokenizers, and the BPE pre-tokenizers
// youtu, chameleon, tiny_aya, superbpe and afmoe.
package tokenizer
