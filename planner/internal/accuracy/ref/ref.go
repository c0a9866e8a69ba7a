// Package ref reads the memory figures llama.cpp itself logged for the
// reference models (testdata/planner/ref): the rows the planner's memory
// model is checked against and docs/accuracy.md is generated from.
package ref

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
)

// Absent marks a figure a row does not have.
const Absent = -1.0

// Row is one configuration llama.cpp loaded, with its buffer sizes in MiB
// as llama.cpp logged them (two decimals; Absent where not logged).
type Row struct {
	Source string // "zoo" (Ollama v0.17.4's llama.cpp, zoo layouts), "tiny" (same build, tiny models), "upstream" (llama.cpp b6529)
	Model  string // file stem, e.g. "llama-3.1-8b-Q4_K_M"
	// File is the model file's name: "<stem>.header.gguf" for zoo layouts
	// (testdata/zoo or the shared zoo), "<stem>.gguf" for tiny models
	// (testdata/models or the shared testdata/models).
	File string

	NCtx, NBatch, NUbatch, NSeq int
	FlashAttn                   string // "on", "off" or "auto"
	TypeK, TypeV                string
	MMap                        bool
	// Repack is true where the build repacked CPU weights (upstream
	// without --no-repack).
	Repack bool

	Cells int // KV cells llama.cpp reported (the largest cache's); 0 when not logged
	// NoAlloc rows were sized by llama.cpp's allocator without allocating:
	// only the compute buffer and the KV summary are logged.
	NoAlloc bool

	// Weights is the CPU model buffer: all host weights when mapped, the
	// non-repacked ones when read (mmap off).
	Weights, RepackMiB                   float64
	KV, K, V, Compute, Output, TotalHost float64
	// RepackBytes is the exact CPU_REPACK size from an allocation failure.
	RepackBytes uint64
	// Failed is llama.cpp's error line when the load failed.
	Failed string
}

// Name is a short label for the row's configuration.
func (r Row) Name() string {
	return fmt.Sprintf("%s/%s ctx %d ub %d fa %s k %s v %s mmap %v repack %v", r.Source, r.Model, r.NCtx, r.NUbatch, r.FlashAttn, r.TypeK, r.TypeV, r.MMap, r.Repack)
}

// Load reads every reference row from dir (testdata/planner/ref).
func Load(dir string) ([]Row, error) {
	zoo, err := loadZoo(filepath.Join(dir, "llamacpp-cpu-memory.csv"))
	if err != nil {
		return nil, err
	}
	tiny, err := loadTiny(filepath.Join(dir, "memory-tiny.json"))
	if err != nil {
		return nil, err
	}
	up, err := loadUpstream(filepath.Join(dir, "upstream"))
	if err != nil {
		return nil, err
	}
	return append(append(zoo, tiny...), up...), nil
}

func blank() Row {
	return Row{Weights: Absent, RepackMiB: Absent, KV: Absent, K: Absent, V: Absent, Compute: Absent, Output: Absent, TotalHost: Absent, NSeq: 1, MMap: true}
}

var (
	kvLine     = regexp.MustCompile(`\(\s*(\d+) cells.*?K \((\w+)\):\s*([\d.]+) MiB, V \((\w+)\):\s*([\d.]+) MiB`)
	bufferLine = regexp.MustCompile(`^\w+:\s+(\S+)\s+(model|output|KV|compute) buffer size =\s*([\d.]+) MiB`)
	repackFail = regexp.MustCompile(`failed to allocate CPU_REPACK buffer of size (\d+)`)
)

// kv fills the K/V figures from llama.cpp's KV summary lines: one per
// cache (a model with sliding-window layers has two).
func (r *Row) kv(lines string) error {
	ms := kvLine.FindAllStringSubmatch(lines, -1)
	if ms == nil {
		return fmt.Errorf("ref: no K/V figures in %q", lines)
	}
	r.K, r.V = 0, 0
	for _, m := range ms {
		c, _ := strconv.Atoi(m[1])
		r.Cells = max(r.Cells, c)
		r.TypeK, r.TypeV = m[2], m[4]
		k, _ := strconv.ParseFloat(m[3], 64)
		v, _ := strconv.ParseFloat(m[5], 64)
		r.K += k
		r.V += v
	}
	return nil
}

// buffer fills one figure from a "X buffer size = N MiB" line; it reports
// whether the line was one.
func (r *Row) buffer(line string) bool {
	m := bufferLine.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		return false
	}
	v, _ := strconv.ParseFloat(m[3], 64)
	switch {
	case m[2] == "model" && m[1] == "CPU_REPACK":
		r.RepackMiB = v
	case m[2] == "model":
		r.Weights = v
	case m[2] == "output":
		r.Output = v
	case m[2] == "KV":
		r.KV = v
	case m[2] == "compute":
		r.Compute = v
	}
	return true
}

func loadZoo(path string) ([]Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ref: %w", err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("ref: %s: %w", path, err)
	}
	if len(recs) < 2 || len(recs[0]) != 12 {
		return nil, fmt.Errorf("ref: %s: unexpected layout", path)
	}
	var rows []Row
	for _, c := range recs[1:] {
		r := blank()
		r.Source, r.Model, r.File = "zoo", c[0], c[0]+".header.gguf"
		r.NCtx, _ = strconv.Atoi(c[1])
		r.NBatch, _ = strconv.Atoi(c[2])
		r.NUbatch, _ = strconv.Atoi(c[3])
		r.FlashAttn = c[4]
		nums := []*float64{&r.Weights, &r.KV, &r.Compute, &r.Output, &r.TotalHost}
		for i, p := range nums {
			if *p, err = strconv.ParseFloat(c[6+i], 64); err != nil {
				return nil, fmt.Errorf("ref: %s: %q: %w", path, c[6+i], err)
			}
		}
		if err := r.kv(c[11]); err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func loadTiny(path string) ([]Row, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ref: %w", err)
	}
	var doc struct {
		Runs []struct {
			Model  string `json:"model"`
			Params struct {
				NCtx    int    `json:"n_ctx"`
				NBatch  int    `json:"n_batch"`
				NUbatch int    `json:"n_ubatch"`
				NSeq    int    `json:"n_seq_max"`
				FA      string `json:"flash_attn"`
				K       string `json:"type_k"`
				V       string `json:"type_v"`
				MMap    bool   `json:"use_mmap"`
				NoAlloc bool   `json:"no_alloc"`
			} `json:"params"`
			Buffers []string `json:"buffers"`
			KV      []string `json:"kv_cache"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("ref: %s: %w", path, err)
	}
	var rows []Row
	for _, run := range doc.Runs {
		if len(run.KV) == 0 {
			continue // the run failed before the context existed
		}
		r := blank()
		p := run.Params
		r.Source, r.File = "tiny", run.Model
		r.Model = strings.TrimSuffix(run.Model, ".gguf")
		r.NCtx, r.NBatch, r.NUbatch, r.NSeq, r.FlashAttn, r.MMap = p.NCtx, p.NBatch, p.NUbatch, max(p.NSeq, 1), p.FA, p.MMap
		for _, l := range run.Buffers {
			r.buffer(l)
		}
		if r.NoAlloc = p.NoAlloc; r.NoAlloc {
			// Buffers llama.cpp did not allocate are logged as 0.00.
			r.Weights, r.KV, r.Output = Absent, Absent, Absent
		}
		if err := r.kv(run.KV[0]); err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// loadUpstream reads the upstream llama-cli logs: the command line, then
// the buffer lines, allocation errors and /usr/bin/time's report.
func loadUpstream(dir string) ([]Row, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		return nil, fmt.Errorf("ref: %w", err)
	}
	sort.Strings(names)
	var rows []Row
	for _, name := range names {
		r, err := readUpstream(name)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func readUpstream(name string) (Row, error) {
	f, err := os.Open(name)
	if err != nil {
		return Row{}, fmt.Errorf("ref: %w", err)
	}
	defer f.Close()
	r := blank()
	r.Source, r.Repack = "upstream", true
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "# command:"):
			args := strings.Fields(strings.TrimPrefix(l, "# command:"))
			for i := 0; i < len(args); i++ {
				next := ""
				if i+1 < len(args) {
					next = args[i+1]
				}
				switch args[i] {
				case "-m":
					r.Model = strings.TrimSuffix(next, ".gguf")
					r.File = r.Model + ".header.gguf"
				case "-c":
					r.NCtx, _ = strconv.Atoi(next)
				case "-b":
					r.NBatch, _ = strconv.Atoi(next)
				case "-ub":
					r.NUbatch, _ = strconv.Atoi(next)
				case "-fa":
					r.FlashAttn = next
				case "-ctk":
					r.TypeK = next
				case "-ctv":
					r.TypeV = next
				case "--no-mmap":
					r.MMap = false
				case "--no-repack":
					r.Repack = false
				}
			}
		case r.buffer(l):
		case repackFail.MatchString(l):
			r.RepackBytes, _ = strconv.ParseUint(repackFail.FindStringSubmatch(l)[1], 10, 64)
		case strings.Contains(l, "error loading model"):
			r.Failed = strings.TrimSpace(l)
		}
	}
	if err := sc.Err(); err != nil {
		return Row{}, fmt.Errorf("ref: %s: %w", name, err)
	}
	if r.Model == "" || r.NCtx == 0 {
		return Row{}, fmt.Errorf("ref: %s: no command line", name)
	}
	return r, nil
}

// Dir is the reference figures' directory in the repository.
func Dir() string { return testutil.Path("planner", "ref") }

// Open opens a row's model: the repository's testdata first (zoo/,
// models/), then the project's shared data beside the checkout. It reports
// false when the file is in neither.
func Open(file string) (*gguf.File, bool) {
	for _, p := range []string{testutil.Path("zoo", file), testutil.Path("models", file)} {
		if f, err := gguf.Open(p); err == nil {
			return f, true
		}
	}
	for _, p := range [][]string{{"zoo", file}, {"testdata", "models", file}} {
		if sp, ok := testutil.SharedPath(p...); ok {
			if f, err := gguf.Open(sp); err == nil {
				return f, true
			}
		}
	}
	return nil, false
}
