package planner

import (
	"sort"
)

// This file mirrors how Ollama v0.17.4's scheduler assigns layers to GPUs
// (llm/server.go: buildLayout, assignLayers, findBestFit, greedyFit). Layers
// are numbered as Ollama numbers them: 0 … block_count-1 the repeating
// layers, block_count the output layer.

// olGPU is one GPU as the layout sees it (ml.DeviceInfo's fields it uses).
type olGPU struct {
	id         int    // index into the snapshot's GPUs
	library    string // "CUDA", "ROCm": layouts are built per library
	free       uint64 // FreeMemory, then what is left for layers
	integrated bool
	graph      uint64 // the graph already reserved on it (memory.GPUs[j].Graph)
}

// olAssign is ml.GPULayersList: the layers each GPU takes.
type olAssign []olGPULayers

type olGPULayers struct {
	id     int
	layers []int
}

func (l olAssign) sum() int {
	n := 0
	for _, g := range l {
		n += len(g.layers)
	}
	return n
}

func (l olAssign) key() string {
	b := make([]byte, 0, 64)
	for _, g := range l {
		if len(g.layers) == 0 {
			continue
		}
		b = append(b, byte(g.id), ':')
		for _, x := range g.layers {
			b = append(b, byte(x>>8), byte(x))
		}
		b = append(b, ';')
	}
	return string(b)
}

// on returns the GPU holding layer il, or -1.
func (l olAssign) on(il int) int {
	for _, g := range l {
		for _, x := range g.layers {
			if x == il {
				return g.id
			}
		}
	}
	return -1
}

// olLayout is buildLayout: sizes are each layer's weights plus cache
// wherever it is, the GPUs sorted by free memory (largest first), each
// library's GPUs reduced by the graph, the minimum and OLLAMA_GPU_OVERHEAD,
// and the library that takes the most layers wins.
//
// stuck reports that Ollama would never return: findBestFit bisects a
// float32 capacity factor down to a 1e-6 gap, which float32 cannot
// resolve above 16 (its spacing there is 1.9e-6), so a num_gpu that asks a
// GPU for more than about 16 times what it holds spins forever.
func olLayout(sizes []uint64, gpus []olGPU, numGPU int, overhead uint64, spread bool, backoff float32) (best olAssign, stuck bool) {
	gs := append([]olGPU(nil), gpus...)
	// sort.Sort(sort.Reverse(ml.ByFreeMemory(gpus))): discrete before
	// integrated, then by free memory, largest first.
	sort.SliceStable(gs, func(i, j int) bool {
		if gs[i].integrated != gs[j].integrated {
			return !gs[i].integrated
		}
		return gs[i].free > gs[j].free
	})
	for _, lib := range olByLibrary(gs) {
		lastUsed := 0
		for i := range lib {
			if lib[i].graph != 0 {
				lastUsed = i
			}
			// reserved = FreeMemory*backoff + MinimumMemory() +
			// GpuOverhead() + Graph (ml.DeviceInfo.MinimumMemory: 457 MiB
			// for CUDA and ROCm).
			reserved := uint64(float32(lib[i].free)*backoff) + ollamaMinimumMemory + overhead + lib[i].graph
			if lib[i].free > reserved {
				lib[i].free -= reserved
			} else {
				lib[i].free = 0
			}
		}
		a, st := olAssignLayers(sizes, lib, numGPU, lastUsed, spread)
		stuck = stuck || st
		if a.sum() > best.sum() {
			best = a
		}
	}
	return best, stuck
}

// ollamaMinimumMemory is ml.DeviceInfo.MinimumMemory for CUDA and ROCm.
const ollamaMinimumMemory = 457 << 20

func olByLibrary(gs []olGPU) [][]olGPU {
	var out [][]olGPU
	var libs []string
	for _, g := range gs {
		found := false
		for i, l := range libs {
			if l == g.library {
				out[i] = append(out[i], g)
				found = true
			}
		}
		if !found {
			libs = append(libs, g.library)
			out = append(out, []olGPU{g})
		}
	}
	return out
}

// olAssignLayers is assignLayers (requireFull false): pack the most layers
// onto the fewest GPUs; when not all fit, try again without the output
// layer.
func olAssignLayers(sizes []uint64, gpus []olGPU, requested, lastUsed int, spread bool) (a olAssign, stuck bool) {
	if requested >= 0 || spread {
		for i := range gpus {
			gpus[i].integrated = false
		}
	}
	layers := sizes
	for range 2 {
		requested = min(len(layers), requested)
		var st bool
		if !spread {
			for i := lastUsed; i < len(gpus); i++ {
				force := i == len(gpus)-1
				a, st = olFindBestFit(layers, gpus[:i+1], requested, force)
				if st {
					return a, true
				}
				if a.sum() == len(layers) || a.sum() == requested {
					break
				}
			}
		} else if a, st = olFindBestFit(layers, gpus, requested, true); st {
			return a, true
		}
		if a.sum() == len(layers) {
			return a, false
		}
		layers = layers[:len(layers)-1]
	}
	return a, false
}

// olFindBestFit is findBestFit: the smallest capacity factor that still
// fits the most layers, so that they spread evenly; with a requested count
// on the last GPU tried, capacity up to 1000 (the request is forced).
func olFindBestFit(layers []uint64, gpus []olGPU, requested int, force bool) (out olAssign, stuck bool) {
	for _, group := range olByPerformance(gpus) {
		high, low := float32(1), float32(0)
		if requested >= 0 && force {
			high = 1000
		}
		best := olGreedyFit(layers, group, high, requested)
		most := best.sum()
		for step := 0; high-low > 1e-6; step++ {
			if step == 200 {
				// Bisection from 1000 reaches 1e-6 in about 30 steps
				// wherever float32 can represent the gap.
				return out, true
			}
			mid := (low + high) / 2
			a := olGreedyFit(layers, group, mid, requested)
			if a.sum() == most {
				high, best = mid, a
			} else {
				low = mid
			}
		}
		layers = layers[:len(layers)-best.sum()]
		requested -= best.sum()
		out = append(best, out...)
	}
	return out, false
}

func olByPerformance(gs []olGPU) [][]olGPU {
	var out [][]olGPU
	var keys []bool
	for _, g := range gs {
		found := false
		for i, k := range keys {
			if k == g.integrated {
				out[i] = append(out[i], g)
				found = true
			}
		}
		if !found {
			keys = append(keys, g.integrated)
			out = append(out, []olGPU{g})
		}
	}
	return out
}

// olGreedyFit is greedyFit: from the last layer down, onto the last GPU
// until it is full, then the one before.
func olGreedyFit(layers []uint64, gpus []olGPU, capacity float32, requested int) olAssign {
	device := len(gpus) - 1
	a := olAssign{{id: gpus[device].id}}
	free := uint64(float32(gpus[device].free) * capacity)
	for i := len(layers) - 1; i >= 0; i-- {
		if requested >= 0 && len(layers)-1-i >= requested {
			break
		}
		for {
			if layers[i] <= free {
				a[0].layers = append([]int{i}, a[0].layers...)
				free -= layers[i]
				break
			}
			device--
			if device < 0 {
				return a
			}
			a = append(olAssign{{id: gpus[device].id}}, a...)
			free = uint64(float32(gpus[device].free) * capacity)
		}
	}
	return a
}
