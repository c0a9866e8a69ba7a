// Package planner decides how a GGUF model should be placed on a machine: the
// memory every device needs under given settings, the best settings for a
// probed or assumed machine, and predictions of load time and speed, each
// choice with its reason. It is pure: no I/O, no environment, no clock.
//
// Make(ctx, file, snapshot, request) returns the *Plan: the issue names both
// the planning function and its result Plan, and a Go package cannot give one
// name to a function and a type, so the function is Make. When nothing fits,
// Make returns the nearest plan (Fits false) together with a *NoFitError
// that says what each device would need and which relaxed request would fit.
// Estimate is the memory model alone for fixed settings; Sweep tabulates
// n_gpu_layers against memory and predicted speed. A Plan renders itself as
// llama.cpp arguments (LlamaCppArgs, in the classic or the --load-mode
// spelling) and, when made for Ollama, as Ollama options (OllamaOptions,
// Modelfile, OllamaEnv).
//
// llama.cpp's rules change between builds: a Runtime names the profile a
// plan follows (Profiles lists them), each rule keyed to the upstream PR
// that introduced it. DecideOllama reproduces what Ollama v0.17.4 itself
// would decide for a model on a machine, rule by rule from its source.
//
// With Request.Hosts the plan spans several machines on llama.cpp's RPC
// backend: which hosts and devices take how many layers, each host's
// ggml-rpc-server command and memory (Plan.Hosts), and llama-server's
// --rpc and -ts (hosts.go has llama.cpp's rules for RPC devices).
package planner
