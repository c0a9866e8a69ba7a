package exec

import "github.com/modelfit/modelfit/gguf"

// Supports reports whether the built-in engine can run f: its architecture
// (llama, qwen2; no mixture of experts) and hyperparameters. The error says
// why not and matches ErrArchitecture for an architecture it lacks.
func Supports(f *gguf.File) error {
	_, err := readHParams(f)
	return err
}
