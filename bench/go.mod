module github.com/modelfit/modelfit/bench

go 1.26.0

replace github.com/modelfit/modelfit => ../

require (
	github.com/gpustack/gguf-parser-go v0.28.1
	github.com/modelfit/modelfit v0.0.0-00010101000000-000000000000
	github.com/ollama/ollama v0.17.4
)

require (
	github.com/NVIDIA/go-nvml v0.13.4-1 // indirect
	github.com/henvic/httpretty v0.1.4 // indirect
	github.com/json-iterator/go v1.1.12 // indirect
	github.com/modern-go/concurrent v0.0.0-20180306012644-bacd9c7ef1dd // indirect
	github.com/modern-go/reflect2 v1.0.2 // indirect
	github.com/smallnest/ringbuffer v0.0.0-20241116012123-461381446e3d // indirect
	golang.org/x/crypto v0.43.0 // indirect
	golang.org/x/exp v0.0.0-20250218142911-aa4b98e5adaa // indirect
	golang.org/x/mod v0.30.0 // indirect
	golang.org/x/sync v0.17.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/tools v0.38.0 // indirect
	gonum.org/v1/gonum v0.17.0 // indirect
)
