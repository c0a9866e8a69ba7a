// Package zoo holds the planner's ground truth from upstream llama.cpp: for
// every generated layout (internal/layouts) and a spread of settings, what
// llama.cpp's own memory fitting tool (llama-fit-params, build 10587)
// allocated, stored as a CSV in testdata/planner/zoo. It reads and writes
// that file, samples the settings, parses the tool's debug log and compares
// a row with planner.Estimate.
package zoo

import (
	"encoding/csv"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/modelfit/modelfit/internal/testutil"
)

// Build is the llama.cpp build number of the stored ground truth.
const Build = 10587

// File is the CSV of the ground truth in the repository.
func File() string {
	return testutil.Path("planner", "zoo", fmt.Sprintf("llamacpp-b%d.csv", Build))
}

// Settings are the llama.cpp options of one row.
type Settings struct {
	NCtx, NBatch, NUbatch, NParallel int
	FlashAttn                        bool
	CacheTypeK, CacheTypeV           string
	MMap, Repack                     bool
	// KVUnified rows are measured with llama-server (-kvu, the only tool
	// that takes it), which also reserves one output row per sequence.
	KVUnified bool
}

// Args returns the llama-fit-params arguments for the settings.
func (s Settings) Args() []string {
	a := []string{"-c", strconv.Itoa(s.NCtx), "-b", strconv.Itoa(s.NBatch), "-ub", strconv.Itoa(s.NUbatch),
		"-np", strconv.Itoa(s.NParallel), "-fa", onOff(s.FlashAttn), "-ctk", s.CacheTypeK, "-ctv", s.CacheTypeV}
	if !s.MMap {
		a = append(a, "--no-mmap")
	}
	if !s.Repack {
		a = append(a, "--no-repack")
	}
	if s.KVUnified {
		a = append(a, "-kvu")
	}
	return a
}

// serverArgs are the llama-server options of a server row beside Args:
// no warmup (it would read the weights), no fitting of unset options, the
// debug log; the harness stops the server once the compute buffer is
// logged.
var serverArgs = []string{"--no-warmup", "-fit", "off"}

// Command is the exact command a row was measured with; the layout is
// written as <id>.gguf (header and a hole up to the full size).
func Command(layout string, s Settings) string {
	if s.KVUnified {
		return strings.Join(slices.Concat([]string{"llama-server", "-m", layout + ".gguf", "-v"}, serverArgs, s.Args()), " ")
	}
	return strings.Join(append([]string{"llama-fit-params", "-m", layout + ".gguf", "--fit-print", "on", "-v"}, s.Args()...), " ")
}

// ServerArgs returns llama-server's arguments for a server row (Command
// without the program and the model).
func ServerArgs(s Settings) []string { return slices.Concat(serverArgs, s.Args()) }

// Measured is what llama.cpp logged for one layout and settings. MiB
// figures with two decimals are as logged; the model buffers only appear
// in whole MiB (the memory breakdown table, rounded down).
type Measured struct {
	Ctx, CtxSeq     int // n_ctx and n_ctx_seq as llama.cpp padded them
	HostModelMiB    int // the host (CPU) model buffer
	RepackModelMiB  int // the CPU_REPACK model buffer
	ContextMiB      int // the breakdown's context column (KV and recurrent state)
	Cells, SWACells int // cells of the full-attention and sliding-window caches
	K, V            float64
	KSWA, VSWA      float64
	R, S            float64 // recurrent state (conv and SSM)
	Output          float64
	Compute         float64
	AttnRotK        bool // the KV log's attn_rot_k (quantized K rotated: Hadamard inputs in the graph)
	AttnRotV        bool
	Error           string // llama.cpp's error when it refused the settings
}

// Row is one line of the ground truth.
type Row struct {
	Layout string
	Settings
	Measured
	Build   int
	Command string
}

var header = []string{"layout", "n_ctx", "n_batch", "n_ubatch", "n_parallel", "fa", "ctk", "ctv", "mmap", "repack", "kvu",
	"out_n_ctx", "out_n_ctx_seq", "host_model_mib", "repack_model_mib", "context_mib", "cells", "swa_cells",
	"k_mib", "v_mib", "k_swa_mib", "v_swa_mib", "r_mib", "s_mib", "output_mib", "compute_mib", "attn_rot",
	"error", "build", "command"}

// Truth is the stored ground truth: its rows and the "# key: value"
// comment lines before them (the build, the CPU it ran on).
type Truth struct {
	Meta [][2]string
	Rows []Row
}

// Get returns the value of a meta key.
func (t *Truth) Get(key string) string {
	for _, kv := range t.Meta {
		if kv[0] == key {
			return kv[1]
		}
	}
	return ""
}

// CPUFeatures are the x86 features of the CPU the rows were measured on
// (they decide which weights llama.cpp repacks).
func (t *Truth) CPUFeatures() []string { return strings.Fields(t.Get("cpu_features")) }

// Write writes the ground truth as CSV, the meta lines first.
func (t *Truth) Write(w io.Writer) error {
	for _, kv := range t.Meta {
		if _, err := fmt.Fprintf(w, "# %s: %s\n", kv[0], kv[1]); err != nil {
			return err
		}
	}
	rows := t.Rows
	cw := csv.NewWriter(w)
	cw.Write(header)
	f2 := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	for _, r := range rows {
		rot := ""
		if r.AttnRotK {
			rot += "k"
		}
		if r.AttnRotV {
			rot += "v"
		}
		cw.Write([]string{r.Layout, itoa(r.NCtx), itoa(r.NBatch), itoa(r.NUbatch), itoa(r.NParallel), onOff(r.FlashAttn),
			r.CacheTypeK, r.CacheTypeV, onOff(r.MMap), onOff(r.Repack), onOff(r.KVUnified),
			itoa(r.Ctx), itoa(r.CtxSeq), itoa(r.HostModelMiB), itoa(r.RepackModelMiB), itoa(r.ContextMiB),
			itoa(r.Cells), itoa(r.SWACells), f2(r.K), f2(r.V), f2(r.KSWA), f2(r.VSWA), f2(r.R), f2(r.S),
			f2(r.Output), f2(r.Compute), rot, r.Error, itoa(r.Build), r.Command})
	}
	cw.Flush()
	return cw.Error()
}

// Load reads the ground truth CSV.
func Load(path string) (*Truth, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f)
}

// Read parses the ground truth CSV.
func Read(r io.Reader) (*Truth, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	t := &Truth{}
	for _, line := range strings.Split(string(raw), "\n") {
		if c, ok := strings.CutPrefix(line, "# "); ok {
			if k, v, ok := strings.Cut(c, ": "); ok {
				t.Meta = append(t.Meta, [2]string{k, v})
			}
		}
	}
	cr := csv.NewReader(strings.NewReader(string(raw)))
	cr.Comment = '#'
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("zoo: %w", err)
	}
	if len(recs) == 0 || !slices.Equal(recs[0], header) {
		return nil, fmt.Errorf("zoo: unexpected header")
	}
	t.Rows = make([]Row, 0, len(recs)-1)
	for i, rec := range recs[1:] {
		p := parser{rec: rec}
		var r Row
		r.Layout = rec[0]
		r.NCtx, r.NBatch, r.NUbatch, r.NParallel = p.int(1), p.int(2), p.int(3), p.int(4)
		r.FlashAttn, r.CacheTypeK, r.CacheTypeV, r.MMap, r.Repack, r.KVUnified = p.on(5), rec[6], rec[7], p.on(8), p.on(9), p.on(10)
		m := &r.Measured
		m.Ctx, m.CtxSeq, m.HostModelMiB, m.RepackModelMiB, m.ContextMiB = p.int(11), p.int(12), p.int(13), p.int(14), p.int(15)
		m.Cells, m.SWACells = p.int(16), p.int(17)
		m.K, m.V, m.KSWA, m.VSWA, m.R, m.S, m.Output, m.Compute = p.f(18), p.f(19), p.f(20), p.f(21), p.f(22), p.f(23), p.f(24), p.f(25)
		m.AttnRotK, m.AttnRotV = strings.Contains(rec[26], "k"), strings.Contains(rec[26], "v")
		m.Error = rec[27]
		r.Build, r.Command = p.int(28), rec[29]
		if p.err != nil {
			return nil, fmt.Errorf("zoo: row %d (%s): %w", i+2, rec[0], p.err)
		}
		t.Rows = append(t.Rows, r)
	}
	return t, nil
}

type parser struct {
	rec []string
	err error
}

func (p *parser) int(i int) int {
	v, err := strconv.Atoi(p.rec[i])
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("column %s: %w", header[i], err)
	}
	return v
}

func (p *parser) f(i int) float64 {
	v, err := strconv.ParseFloat(p.rec[i], 64)
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("column %s: %w", header[i], err)
	}
	return v
}

func (p *parser) on(i int) bool { return p.rec[i] == "on" }

func itoa(v int) string { return strconv.Itoa(v) }

func onOff(v bool) string {
	if v {
		return "on"
	}
	return "off"
}

// SampleServerSettings returns n llama-server settings for a layout, drawn
// deterministically from its id: a unified cache (-kvu) shared by 2, 4 or
// 8 slots, the weights mapped and not repacked (the server would read and
// repack them), over contexts, flash attention, cache types and ubatch.
func SampleServerSettings(id string, n int) []Settings {
	h := fnv.New64a()
	h.Write([]byte("server " + id))
	rng := rand.New(rand.NewPCG(h.Sum64(), Build))
	ctxs := []int{2048, 4096, 8192, 16384, 32768}
	ubs := []int{128, 256, 512, 512, 1024}
	types := []string{"f16", "f16", "q8_0"}
	var out []Settings
	for len(out) < n {
		s := Settings{NCtx: ctxs[rng.IntN(len(ctxs))], NBatch: 2048, NUbatch: ubs[rng.IntN(len(ubs))],
			NParallel: []int{2, 4, 4, 8}[rng.IntN(4)], FlashAttn: rng.IntN(3) > 0, CacheTypeK: types[rng.IntN(len(types))],
			CacheTypeV: "f16", MMap: true, KVUnified: true}
		if s.FlashAttn {
			s.CacheTypeV = types[rng.IntN(len(types))]
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// SampleSettings returns the settings measured for a layout: llama-server's
// defaults (4096 tokens, batch 2048, ubatch 512, one sequence, flash
// attention, f16 cache) and n-1 more drawn deterministically from the
// layout's id, spread over context (512 to 131072 and past the training
// context), flash attention, K and V types (separately), ubatch, batch,
// sequences, mmap and repacking.
func SampleSettings(id string, ctxTrain, n int) []Settings {
	h := fnv.New64a()
	h.Write([]byte(id))
	rng := rand.New(rand.NewPCG(h.Sum64(), Build))
	out := []Settings{{NCtx: 4096, NBatch: 2048, NUbatch: 512, NParallel: 1, FlashAttn: true,
		CacheTypeK: "f16", CacheTypeV: "f16", MMap: true, Repack: true}}
	ctxs := []int{512, 1000, 2048, 3000, 4096, 8192, 10000, 16384, 32768, 50000, 65536, 131072}
	ubs := []int{32, 64, 128, 256, 512, 512, 1024, 2048, 4096}
	types := []string{"f16", "f16", "q8_0", "q4_0"}
	pick := func(xs []int) int { return xs[rng.IntN(len(xs))] }
	for len(out) < n {
		s := Settings{NCtx: pick(ctxs), NUbatch: pick(ubs), NParallel: 1, FlashAttn: rng.IntN(3) > 0,
			CacheTypeK: types[rng.IntN(len(types))], CacheTypeV: "f16", MMap: rng.IntN(2) == 0, Repack: rng.IntN(4) > 0}
		if rng.IntN(5) == 0 && ctxTrain > 0 {
			s.NCtx = min(2*ctxTrain, 262144) // past the training context
		}
		if s.FlashAttn || rng.IntN(6) == 0 {
			// A quantized V without flash attention is refused: a few
			// rows record that.
			s.CacheTypeV = types[rng.IntN(len(types))]
		}
		if rng.IntN(3) == 0 {
			s.NParallel = 4
		}
		switch rng.IntN(4) {
		case 0:
			s.NBatch = s.NUbatch
		case 1:
			s.NBatch = 4 * s.NUbatch
		case 2:
			s.NBatch = 2048
		default:
			s.NBatch = max(32, s.NUbatch/2) // smaller than the ubatch: llama.cpp caps the ubatch
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
