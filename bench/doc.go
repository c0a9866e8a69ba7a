// Package bench compares modelfit with its peers: parse speed against
// gguf-parser-go, llama.cpp's own numbers through cgo (package llamacpp and
// the commands under cmd/), and golden data for the quant package. It is a
// separate module so that the main module never depends on them.
package bench
