package zoo

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/planner"
)

// SplitFile is the CSV of the split-graph ground truth: every device's
// compute buffer when llama.cpp splits a layout over ggml-rpc-server
// devices (planner/internal/splittruth).
func SplitFile() string {
	return testutil.Path("planner", "zoo", fmt.Sprintf("rpc-b%d.csv", Build))
}

// SplitSettings are one split row's options: the common ones, -ngl and
// -ts (one weight per RPC device).
type SplitSettings struct {
	Settings
	NGL int
	TS  []int
}

// Args returns the llama-fit-params arguments (without -m and --rpc).
func (s SplitSettings) Args() []string {
	ts := make([]string, len(s.TS))
	for i, v := range s.TS {
		ts[i] = strconv.Itoa(v)
	}
	return append(s.Settings.Args(), "-ngl", strconv.Itoa(s.NGL), "-ts", strings.Join(ts, ","))
}

// SplitCommand is the exact command of a split row; H1… are the
// ggml-rpc-server addresses (one per -ts weight, on the same machine).
func SplitCommand(file string, s SplitSettings) string {
	hosts := make([]string, len(s.TS))
	for i := range hosts {
		hosts[i] = "H" + strconv.Itoa(i+1)
	}
	return strings.Join(append([]string{"llama-fit-params", "-m", file, "--fit-print", "on", "-v", "-t", "1", "--rpc", strings.Join(hosts, ",")}, s.Args()...), " ")
}

// SplitSamples are the settings each layout of nLayer layers is split
// with: every layer and the output over two and over three devices (flash
// attention on and off), part of them with the host keeping the first
// layers (a quantized cache), and a batch under 32 tokens with two
// sequences (graph_get_cb pins each layer's norm to its device).
func SplitSamples(nLayer int) []SplitSettings {
	base := Settings{NCtx: 4096, NBatch: 2048, NUbatch: 512, NParallel: 1, FlashAttn: true, CacheTypeK: "f16", CacheTypeV: "f16", MMap: true, Repack: true}
	noFA := base
	noFA.FlashAttn = false
	q8 := base
	q8.NCtx, q8.NUbatch, q8.CacheTypeK, q8.CacheTypeV = 8192, 256, "q8_0", "q8_0"
	small := base
	small.NCtx, small.NUbatch, small.NParallel = 2048, 16, 2
	return []SplitSettings{
		{Settings: base, NGL: 999, TS: []int{1, 1}},
		{Settings: noFA, NGL: 999, TS: []int{3, 2, 1}},
		{Settings: q8, NGL: max(nLayer/2, 1), TS: []int{1, 1}},
		{Settings: small, NGL: 999, TS: []int{1, 2}},
	}
}

// SplitRow is one split measurement: the layers each device got and its
// compute buffer in MiB (two decimals, as logged), the RPC devices in -ts
// order, then the CPU.
type SplitRow struct {
	Layout string
	SplitSettings
	Layers  []int
	Compute []float64
	Error   string
	Build   int
	Command string
}

var splitHeader = []string{"layout", "n_ctx", "n_batch", "n_ubatch", "n_parallel", "fa", "ctk", "ctv", "ngl", "ts",
	"layers", "compute_mib", "error", "build", "command"}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ";")
}

// WriteSplit writes split rows as CSV.
func WriteSplit(w io.Writer, rows []SplitRow) error {
	if _, err := fmt.Fprintf(w, "# build: %d\n# devices: ggml-rpc-server (CPU backend) hosts on 127.0.0.1, then the head's CPU; layers and compute_mib list them in that order\n", Build); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(splitHeader); err != nil {
		return err
	}
	for _, r := range rows {
		c := make([]string, len(r.Compute))
		for i, x := range r.Compute {
			c[i] = strconv.FormatFloat(x, 'f', 2, 64)
		}
		if err := cw.Write([]string{r.Layout, strconv.Itoa(r.NCtx), strconv.Itoa(r.NBatch), strconv.Itoa(r.NUbatch), strconv.Itoa(r.NParallel),
			onOff(r.FlashAttn), r.CacheTypeK, r.CacheTypeV, strconv.Itoa(r.NGL), joinInts(r.TS), joinInts(r.Layers), strings.Join(c, ";"),
			r.Error, strconv.Itoa(r.Build), r.Command}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ReadSplit reads the split rows of path.
func ReadSplit(path string) ([]SplitRow, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var body []string
	for _, l := range strings.SplitAfter(string(raw), "\n") {
		if !strings.HasPrefix(l, "#") {
			body = append(body, l)
		}
	}
	recs, err := csv.NewReader(strings.NewReader(strings.Join(body, ""))).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) == 0 || strings.Join(recs[0], ",") != strings.Join(splitHeader, ",") {
		return nil, fmt.Errorf("%s: header is not %v", path, splitHeader)
	}
	var rows []SplitRow
	for i, rec := range recs[1:] {
		r, err := parseSplit(rec)
		if err != nil {
			return nil, fmt.Errorf("%s: row %d: %w", path, i+2, err)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func parseSplit(rec []string) (SplitRow, error) {
	r := SplitRow{Layout: rec[0], Error: rec[12], Command: rec[14]}
	ints := []*int{&r.NCtx, &r.NBatch, &r.NUbatch, &r.NParallel}
	for i, p := range ints {
		v, err := strconv.Atoi(rec[1+i])
		if err != nil {
			return r, fmt.Errorf("%s: %w", splitHeader[1+i], err)
		}
		*p = v
	}
	r.FlashAttn = rec[5] == "on"
	r.CacheTypeK, r.CacheTypeV = rec[6], rec[7]
	r.MMap, r.Repack = true, true
	var err error
	if r.NGL, err = strconv.Atoi(rec[8]); err != nil {
		return r, fmt.Errorf("ngl: %w", err)
	}
	if r.Build, err = strconv.Atoi(rec[13]); err != nil {
		return r, fmt.Errorf("build: %w", err)
	}
	list := func(s string) ([]float64, error) {
		var out []float64
		for _, f := range strings.Split(s, ";") {
			v, err := strconv.ParseFloat(f, 64)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	ts, err := list(rec[9])
	if err != nil {
		return r, fmt.Errorf("ts: %w", err)
	}
	layers, err := list(rec[10])
	if err != nil {
		return r, fmt.Errorf("layers: %w", err)
	}
	if r.Compute, err = list(rec[11]); err != nil {
		return r, fmt.Errorf("compute_mib: %w", err)
	}
	for _, v := range ts {
		r.TS = append(r.TS, int(v))
	}
	for _, v := range layers {
		r.Layers = append(r.Layers, int(v))
	}
	if len(r.Layers) != len(r.TS)+1 || len(r.Compute) != len(r.TS)+1 {
		return r, fmt.Errorf("%d -ts weights but %d layer counts and %d compute figures", len(r.TS), len(r.Layers), len(r.Compute))
	}
	return r, nil
}

// SplitInput returns the planner's settings and environment for a split
// row: one remote CPU device per -ts weight, sized as llama-fit-params
// measures them (Env.NoAllocReserve).
func (r SplitRow) SplitInput(cpuFeatures []string) (planner.Settings, planner.Env) {
	s, env := Row{Settings: r.Settings}.Input(cpuFeatures)
	s.NGPULayers = r.NGL
	env.NoAllocReserve = true
	for i, w := range r.TS {
		s.TensorSplit = append(s.TensorSplit, float64(w))
		env.GPUs = append(env.GPUs, "RPC"+strconv.Itoa(i))
		env.GPUFree = append(env.GPUFree, 1<<40)
		env.Remote = append(env.Remote, planner.RemoteCPU)
	}
	return s, env
}

// SplitFigure is one device of a split row: its layers (the output
// counted as llama.cpp's "layer n_layer"), and its compute buffer with the
// estimate's range.
type SplitFigure struct {
	Device           string
	Layers, Want     int
	Compute          Figure
	ComputeLow, High float64
}

// CheckSplit estimates a split row for file f and pairs each device's
// figures with the measured ones.
func CheckSplit(r SplitRow, f *gguf.File, cpuFeatures []string) ([]SplitFigure, error) {
	if r.Error != "" {
		return nil, nil
	}
	s, env := r.SplitInput(cpuFeatures)
	b, err := planner.Estimate(f, s, env)
	if err != nil {
		return nil, err
	}
	n := len(r.TS)
	var out []SplitFigure
	for i := range n + 1 {
		d, name := i+1, fmt.Sprintf("RPC%d", i)
		if i == n {
			d, name = 0, "CPU"
		}
		dm := b.Devices[d]
		layers := len(dm.Layers)
		if b.Output == d {
			layers++
		}
		out = append(out, SplitFigure{
			Device: name, Layers: layers, Want: r.Layers[i],
			Compute:    Figure{Name: "compute " + name, Pred: float64(dm.ComputeBytes) / mib, Actual: r.Compute[i], Rel: tolCompute},
			ComputeLow: float64(dm.ComputeLowBytes) / mib, High: float64(dm.ComputeHighBytes) / mib,
		})
	}
	return out, nil
}
