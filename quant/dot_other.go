//go:build !amd64 || purego

package quant

import "github.com/modelfit/modelfit/gguf"

// hasAVX2 is false off amd64: the scalar reference runs.
const hasAVX2 = false

func fastKernels() map[gguf.Type]dotKernel { return nil }
