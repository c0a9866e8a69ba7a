// Package calibrate measures this machine's speeds for the planner's speed
// model — memory read bandwidth for 1…N threads, cold and warm file reads,
// mmap page-fault throughput, the first touch of fresh memory, and
// llama.cpp's own prefill and decode speed (llama-bench) on small synthetic
// layouts it writes itself — and fits the model's constants to them
// (planner.FitSpeed), giving a machine profile that plans then use instead
// of the reference machine's assumed figures.
package calibrate
