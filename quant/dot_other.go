//go:build !amd64 || purego

package quant

import "github.com/modelfit/modelfit/gguf"

// Off amd64 (or with -tags purego) the scalar reference runs.
const (
	hasAVX2   = false
	hasAVX512 = false
)

func fastKernels() map[gguf.Type]dotKernel { return nil }
