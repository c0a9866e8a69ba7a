// Package modelfit decides how a GGUF language model should be placed on a
// machine whose RAM and VRAM may be smaller than the model, explains the
// decision, and proves it by running the plan.
//
// The module is a set of small packages, each with one job; dependencies
// point one way (gguf and probe know nothing of planner; planner knows
// nothing of exec):
//
//   - gguf: reads GGUF headers (v2, v3, split files, header-only or truncated
//     files, any io.ReaderAt or an HTTP URL) into typed metadata and exact
//     per-tensor byte sizes. Never trusts the file.
//   - probe: what the machine has right now: memory with page cache and
//     cgroup limits, NUMA, CPU features and quota, GPUs and free VRAM, and how
//     much of a model file is already in the page cache. Linux is read from
//     /proc and /sys; macOS, Windows and FreeBSD through gopsutil, with
//     Apple Silicon's unified memory and Metal working set.
//   - calibrate: measures this machine's speeds (memory bandwidth, disk,
//     llama-bench on synthetic layouts) and fits the speed model to them.
//   - planner: weighs tensor sizes against a probe snapshot: the memory every
//     device needs, the best settings (GPU layers, context, batch, KV type,
//     mmap), predicted load time and speed, and the reason for each choice.
//   - ollama: finds a model in Ollama's local store by name (its GGUF blob
//     and the parameters stored with it), as Ollama v0.17.4 lays it out.
//   - mmapio: maps model files read-only with madvise hints, prefetches,
//     reports residency, and turns SIGBUS on a truncated file into an error.
//   - quant, tokenizer, exec: a pure-Go CPU engine for llama-family models
//     that runs a plan.
//   - exec/cluster: runs a plan over several hosts (llama.cpp's RPC backend)
//     on one machine, each host's ggml-rpc-server in a memory cgroup.
//   - cmd/plan: the plan command (inspect, probe, the dry-run plan, run,
//     calibrate).
//
// See README.md for the commands.
package modelfit
