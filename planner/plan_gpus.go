package planner

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

func explainNGL(add func(setting, choice, format string, args ...any), ngl, nLayer int, margin uint64) {
	switch {
	case ngl == nLayer+1:
		add("n_gpu_layers", fmt.Sprint(ngl), "every layer and the output fit on the GPU(s) with the margin")
	case ngl == 0:
		add("n_gpu_layers", "0", "not even one layer fits on the GPU(s) next to the runtime overhead and margin")
	default:
		add("n_gpu_layers", fmt.Sprint(ngl), "the most whole layers that fit on the GPU(s) with a %s margin; one more would not", human(margin))
	}
}

// roomSplit shares layers in proportion to what each GPU has free after its
// runtime overhead and margin.
func roomSplit(mc *machine, req Request) []float64 {
	_, gm := margins(mc, req)
	ts := make([]float64, len(mc.gpus))
	for i, g := range mc.gpus {
		room := int64(g.FreeBytes) - int64(orDefaultU(req.GPUOverheadBytes, DefaultGPUOverhead)) - int64(gm)
		ts[i] = math.Round(float64(max(room, 0))/(1<<30)*100) / 100
	}
	return ts
}

// fillGPUs gives each GPU a number of layers (llama.cpp's -ts takes counts
// as proportions). Two fills are compared: GPUs in order of bandwidth (then
// free memory), each taking as many layers as it holds; and, when that
// leaves layers on the CPU, llama.cpp's back-to-front fill with the most
// layers it places. The fill with more layers wins and is then polished.
// It returns the counts in device order and the speed order.
func fillGPUs(m *model, mc *machine, s Settings, req Request) ([]float64, []int, error) {
	n := len(mc.gpus)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := mc.gpus[order[i]], mc.gpus[order[j]]
		if a.BandwidthBytes != b.BandwidthBytes {
			return a.BandwidthBytes > b.BandwidthBytes
		}
		return a.FreeBytes > b.FreeBytes
	})
	fits := func(counts []float64) (bool, error) {
		t := s
		t.NGPULayers = 0
		for _, c := range counts {
			t.NGPULayers += int(c)
		}
		t.TensorSplit = counts
		if t.NGPULayers == 0 {
			return true, nil
		}
		a, err := check(m, mc, t, req)
		if err != nil {
			return false, err
		}
		return gpusFit(a), nil
	}
	// fill gives the GPUs in seq, one after the other, the most layers each
	// holds, then takes layers back from the last ones filled until all fit
	// (layers shift between GPUs as later counts grow).
	fill := func(seq []int) ([]float64, int, error) {
		counts := make([]float64, n)
		left := m.nLayer + 1
		for _, g := range seq {
			lo, hi := 0, left
			for lo < hi {
				mid := (lo + hi + 1) / 2
				counts[g] = float64(mid)
				ok, err := fits(counts)
				if err != nil {
					return nil, 0, err
				}
				if ok {
					lo = mid
				} else {
					hi = mid - 1
				}
			}
			counts[g] = float64(lo)
			left -= lo
		}
		for k := n - 1; k >= 0; k-- {
			for g := seq[k]; counts[g] > 0; counts[g]-- {
				ok, err := fits(counts)
				if err != nil {
					return nil, 0, err
				}
				if ok {
					return counts, m.nLayer + 1 - left, nil
				}
				left++
			}
		}
		return counts, m.nLayer + 1 - left, nil
	}
	bySpeed, nSpeed, err := fill(order)
	if err != nil {
		return nil, nil, err
	}
	counts := bySpeed
	if nSpeed < m.nLayer+1 {
		// Filling one GPU after the other can strand layers: adding one to
		// a later GPU hands it the top unit (the output layer) and shifts
		// a layer down onto a full GPU. llama.cpp's back-to-front fill does
		// not; search the most layers it places.
		n, err := maxTrue(nSpeed+1, m.nLayer+1, nSpeed+1, func(n int) (bool, error) {
			_, ok, err := fillBack(m, mc, s, req, n)
			return ok, err
		})
		if err != nil {
			return nil, nil, err
		}
		if n > nSpeed {
			if c, ok, err := fillBack(m, mc, s, req, n); err != nil {
				return nil, nil, err
			} else if ok {
				counts = c
			}
		}
	}
	// Polish: layers differ in size (Q4_K_M keeps some at Q6_K), so a GPU
	// may take one more once another took the heavier top layers; and
	// layers move from slower to faster GPUs while they fit.
	total := 0
	for _, c := range counts {
		total += int(c)
	}
	for changed := true; changed; {
		changed = false
		for _, g := range order {
			for total < m.nLayer+1 {
				counts[g]++
				ok, err := fits(counts)
				if err != nil {
					return nil, nil, err
				}
				if !ok {
					counts[g]--
					break
				}
				total++
				changed = true
			}
		}
		for i, fast := range order {
			for k := n - 1; k > i; k-- {
				slow := order[k]
				if mc.gpus[slow].BandwidthBytes >= mc.gpus[fast].BandwidthBytes {
					continue
				}
				for counts[slow] > 0 {
					counts[slow]--
					counts[fast]++
					ok, err := fits(counts)
					if err != nil {
						return nil, nil, err
					}
					if !ok {
						counts[slow]++
						counts[fast]--
						break
					}
					changed = true
				}
			}
		}
	}
	return counts, order, nil
}

// fillBack offloads n layers (the output layer counted first or last as
// the runtime does) and fills the GPUs from the back, each taking the top
// units it holds and the first GPU the rest; ok is false when that does
// not fit.
func fillBack(m *model, mc *machine, s Settings, req Request, n int) ([]float64, bool, error) {
	nGPU := len(mc.gpus)
	counts := make([]float64, nGPU)
	t := s
	t.NGPULayers, t.TensorSplit = n, counts
	devFits := func(d int) (bool, error) {
		a, err := check(m, mc, t, req)
		if err != nil {
			return false, err
		}
		return a.b.Devices[1+d].TotalBytes+a.margin[1+d] <= a.avail[1+d], nil
	}
	left := n
	for d := nGPU - 1; d > 0; d-- {
		c, err := maxTrue(0, left, left/(d+1), func(c int) (bool, error) {
			counts[d], counts[0] = float64(c), float64(left-c)
			return devFits(d)
		})
		if err != nil {
			return nil, false, err
		}
		counts[d] = float64(max(c, 0))
		left -= max(c, 0)
	}
	counts[0] = float64(left)
	t.TensorSplit = append([]float64(nil), counts...)
	a, err := check(m, mc, t, req)
	if err != nil {
		return nil, false, err
	}
	return t.TensorSplit, gpusFit(a), nil
}

func gpusFit(a *attempt) bool {
	for d := 1; d < len(a.b.Devices); d++ {
		if a.b.Devices[d].TotalBytes+a.margin[d] > a.avail[d] {
			return false
		}
	}
	return true
}

// moeOffload offloads ngl layers and moves the expert tensors of the first
// k layers to the CPU, for the smallest k with which the GPU(s) fit.
func moeOffload(m *model, mc *machine, s Settings, req Request, autoSplit bool, ngl int) (Settings, bool, error) {
	if mc.env.Runtime.profile().Ollama {
		return s, false, nil // Ollama has no tensor overrides
	}
	t := s
	t.NGPULayers = ngl
	fits := func(k int) (bool, error) {
		t.Overrides = []Override{{Pattern: m.expertPattern(k), Device: "CPU"}}
		if autoSplit {
			// The first k layers lose their experts: a proportional split
			// would leave the first GPUs nearly empty. Fill from the back
			// with the layers that keep theirs.
			c, ok, err := fillBack(m, mc, t, req, ngl)
			if ok {
				t.TensorSplit = c
			}
			return ok, err
		}
		a, err := check(m, mc, t, req)
		return err == nil && gpusFit(a), err
	}
	// GPU memory falls as k grows: guess the smallest k that fits from the
	// experts' sizes (one GPU) and search around it.
	guess := m.nLayer / 2
	if len(mc.gpus) == 1 {
		t.Overrides = nil
		a, err := check(m, mc, t, req)
		if err != nil {
			return s, false, err
		}
		over := int64(a.b.Devices[1].TotalBytes+a.margin[1]) - int64(a.avail[1])
		guess = 0
		for ; guess < m.nLayer && over > 0; guess++ {
			over -= int64(mc.expertBytes[guess])
		}
	}
	j, err := maxTrue(0, m.nLayer-1, m.nLayer-max(guess, 1), func(j int) (bool, error) { return fits(m.nLayer - j) })
	if err != nil || j < 0 {
		return s, false, err
	}
	if _, err := fits(m.nLayer - j); err != nil {
		return s, false, err
	}
	return t, true, nil
}

// expertPattern returns the llama.cpp -ot pattern matching the expert
// tensors of layers 0..k-1 (as --n-cpu-moe k does), and remembers it so
// the estimate matches it without the regexp.
func (m *model) expertPattern(k int) string {
	for p, n := range m.expertK {
		if n == k {
			return p
		}
	}
	p := cpuMoEPattern(k)
	m.expertK[p] = k
	return p
}

// cpuMoEPattern is the -ot pattern of llama.cpp's --n-cpu-moe k: the
// up, down and gate expert tensors of layers 0..k-1.
func cpuMoEPattern(k int) string {
	if k == 1 {
		return `blk\.0\.ffn_(up|down|gate)_exps`
	}
	return fmt.Sprintf(`blk\.(%s)\.ffn_(up|down|gate)_exps`, layerAlternation(k))
}

func layerAlternation(k int) string {
	parts := make([]string, k)
	for i := range parts {
		parts[i] = fmt.Sprint(i)
	}
	return strings.Join(parts, "|")
}
