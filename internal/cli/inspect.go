package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/units"
)

func init() {
	commands["inspect"] = command{run: runInspect, summary: "a GGUF model's header: architecture, hyperparameters, quantization, sizes"}
}

// InspectVersion is the schema version of `plan inspect --json`. It changes
// only when a field is removed or changes meaning; new fields may be added.
const InspectVersion = 1

// maxInlineArray is the longest metadata array printed in full; longer ones
// are summarised by element type and length.
const maxInlineArray = 16

// Inspection is the JSON document `plan inspect --json` prints.
type Inspection struct {
	Version      int            `json:"version"` // InspectVersion
	Path         string         `json:"path"`
	GGUFVersion  uint32         `json:"gguf_version"`
	Architecture string         `json:"architecture"`
	Name         string         `json:"name,omitempty"`
	FileType     uint64         `json:"file_type"`
	Alignment    uint64         `json:"alignment"`
	DataOffset   int64          `json:"data_offset"`
	TensorCount  int            `json:"tensor_count"`
	TensorBytes  int64          `json:"tensor_bytes"`
	DataPresent  bool           `json:"data_present"`
	MissingBytes int64          `json:"missing_bytes"`
	Parts        []gguf.Part    `json:"parts"`
	HParams      map[string]any `json:"hparams"`
	Types        []inspectType  `json:"types"`
	InputBytes   int64          `json:"input_bytes"`
	OutputBytes  int64          `json:"output_bytes"`
	LayerBytes   []int64        `json:"layer_bytes"`
	// ShapeError is why llama.cpp's loader would refuse the file: a tensor
	// whose shape contradicts the hyperparameters; empty when none does.
	ShapeError string          `json:"shape_error,omitempty"`
	Metadata   map[string]any  `json:"metadata"`
	Tensors    []inspectTensor `json:"tensors"`
}

type inspectType struct {
	Type    string `json:"type"`
	Tensors int    `json:"tensors"`
	Bytes   int64  `json:"bytes"`
}

type inspectTensor struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Shape  []uint64 `json:"shape"`
	Offset int64    `json:"offset"` // absolute, in its part's file
	Size   int64    `json:"size"`
	Part   int      `json:"part,omitempty"`
	Layer  *int     `json:"layer,omitempty"`
}

// arraySummary stands in for a long metadata array.
type arraySummary struct {
	Array string `json:"array"` // element type
	Len   int    `json:"len"`
}

func runInspect(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	set := newFlagSet("plan inspect", "Prints a GGUF model's header: architecture, hyperparameters, quantization mix,\nper-layer sizes, and whether every tensor's shape agrees with the hyperparameters\n(as llama.cpp's loader checks). Exit status: 0, or 1 for a file llama.cpp would refuse.",
		"plan inspect [flags] MODEL.gguf|URL|OLLAMA-NAME")
	var asJSON bool
	var timeout time.Duration
	set.boolVar(&asJSON, groupOutput, "print the versioned JSON document instead of tables", "--json")
	set.durationVar(&timeout, gguf.DefaultRemoteTimeout, groupNetwork, "bound on fetching a URL's header (and on each phase)", "--timeout")
	if code, ok := set.parse(args, stdout, stderr); !ok {
		return code
	}
	switch set.fs.NArg() {
	case 0:
		return set.usageError(stderr, "no model given: plan inspect MODEL.gguf, a URL or an Ollama name")
	case 1:
	default:
		return set.usageError(stderr, "one model at a time, got %d: %s", set.fs.NArg(), strings.Join(set.fs.Args(), " "))
	}
	f, err := OpenModel(ctx, set.fs.Arg(0), timeout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "plan inspect:", err)
		return ExitError
	}
	defer f.Close()
	in := NewInspection(set.fs.Arg(0), f)
	code := ExitOK
	if in.ShapeError != "" {
		fmt.Fprintln(stderr, "plan inspect:", in.ShapeError)
		code = ExitError
	}
	if asJSON {
		if err := writeJSON(stdout, in); err != nil {
			fmt.Fprintln(stderr, "plan inspect:", err)
			return ExitError
		}
		return code
	}
	printInspection(stdout, in)
	return code
}

func isURL(s string) bool { return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") }

// writeJSON writes v as the commands' indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// reorderFlags moves flags after positional arguments to the front, so that
// `plan inspect MODEL --json` works as users expect from llama.cpp's tools.
func reorderFlags(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if fl := fs.Lookup(name); fl != nil {
			if bf, ok := fl.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
				continue
			}
			if i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
		}
	}
	return append(flags, pos...)
}

// NewInspection summarises f for `plan inspect`.
func NewInspection(path string, f *gguf.File) *Inspection {
	h := f.HParams()
	in := &Inspection{
		Version:      InspectVersion,
		Path:         path,
		GGUFVersion:  f.Version,
		Architecture: f.Architecture(),
		Name:         f.Metadata.String("general.name"),
		FileType:     h.FileType,
		Alignment:    f.Alignment,
		DataOffset:   f.DataOffset,
		TensorCount:  len(f.Tensors),
		TensorBytes:  f.TensorBytes(),
		DataPresent:  f.DataPresent(),
		MissingBytes: f.MissingBytes(),
		Parts:        f.Parts,
		HParams:      hparamsMap(&h),
		InputBytes:   f.GroupBytes(gguf.GroupInput),
		OutputBytes:  f.GroupBytes(gguf.GroupOutput),
		LayerBytes:   f.LayerBytes(),
		Metadata:     make(map[string]any, f.Metadata.Len()),
		Tensors:      make([]inspectTensor, len(f.Tensors)),
	}
	if err := f.CheckShapes(); err != nil {
		in.ShapeError = err.Error()
	}
	for _, s := range f.TypeStats() {
		in.Types = append(in.Types, inspectType{s.Type.String(), s.Tensors, s.Bytes})
	}
	for _, kv := range f.Metadata.KVs {
		in.Metadata[kv.Key] = jsonValue(kv.Value.Any())
	}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		it := inspectTensor{Name: t.Name, Type: t.Type.String(), Shape: t.Shape, Offset: t.Offset, Size: t.Size, Part: t.Part}
		if t.Layer >= 0 {
			l := t.Layer
			it.Layer = &l
		}
		in.Tensors[i] = it
	}
	return in
}

// jsonValue makes a metadata value JSON-safe: long arrays summarised, NaN
// and infinities as strings.
func jsonValue(v any) any {
	switch x := v.(type) {
	case gguf.Array:
		if x.Len() > maxInlineArray {
			return arraySummary{Array: x.Elem.String(), Len: x.Len()}
		}
		if inner, ok := x.Values.([]gguf.Array); ok {
			out := make([]any, len(inner))
			for i, a := range inner {
				out[i] = jsonValue(a)
			}
			return out
		}
		if fs, ok := x.Values.([]float32); ok {
			out := make([]any, len(fs))
			for i, f := range fs {
				out[i] = jsonValue(f)
			}
			return out
		}
		if fs, ok := x.Values.([]float64); ok {
			out := make([]any, len(fs))
			for i, f := range fs {
				out[i] = jsonValue(f)
			}
			return out
		}
		return x.Values
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Sprint(x)
		}
		return json.Number(strconv.FormatFloat(float64(x), 'g', -1, 32))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprint(x)
		}
		return x
	}
	return v
}

func hparamsMap(h *gguf.HParams) map[string]any {
	m := map[string]any{
		"block_count":      h.BlockCount,
		"context_length":   h.ContextLength,
		"embedding_length": h.EmbeddingLength,
		"head_count":       perLayer(h.HeadCount),
		"head_count_kv":    perLayer(h.HeadCountKV),
		"key_length":       h.KeyLength,
		"value_length":     h.ValueLength,
		"vocab_size":       h.VocabSize,
	}
	if len(h.FeedForwardLength) > 0 {
		m["feed_forward_length"] = perLayer(h.FeedForwardLength)
	}
	opt := func(key string, v any, present bool) {
		if present {
			m[key] = jsonValue(v)
		}
	}
	opt("rope_dimension_count", h.RopeDimensionCount, h.Has("rope.dimension_count"))
	opt("rope_freq_base", h.RopeFreqBase, h.Has("rope.freq_base"))
	opt("rope_scaling_type", h.RopeScalingType, h.Has("rope.scaling.type"))
	opt("rope_scaling_factor", h.RopeScalingFactor, h.Has("rope.scaling.factor"))
	opt("sliding_window", h.SlidingWindow, h.Has("attention.sliding_window"))
	if h.SlidingWindow > 0 {
		n := 0
		for _, s := range h.SlidingWindowPattern {
			if s {
				n++
			}
		}
		m["sliding_window_layers"] = n
	}
	opt("expert_count", h.ExpertCount, h.Has("expert_count"))
	opt("expert_used_count", h.ExpertUsedCount, h.Has("expert_used_count"))
	opt("expert_shared_count", h.ExpertSharedCount, h.Has("expert_shared_count"))
	opt("expert_feed_forward_length", h.ExpertFeedForwardLength, h.Has("expert_feed_forward_length"))
	opt("leading_dense_block_count", h.LeadingDenseBlockCount, h.Has("leading_dense_block_count"))
	opt("q_lora_rank", h.QLoraRank, h.Has("attention.q_lora_rank"))
	opt("kv_lora_rank", h.KVLoraRank, h.Has("attention.kv_lora_rank"))
	opt("rms_epsilon", h.RMSEpsilon, h.Has("attention.layer_norm_rms_epsilon"))
	return m
}

// perLayer renders a per-layer value as a number when all layers agree.
func perLayer(p gguf.PerLayer) any {
	if len(p) == 0 {
		return nil
	}
	for _, v := range p[1:] {
		if v != p[0] {
			return []uint64(p)
		}
	}
	return p[0]
}

func printInspection(w io.Writer, in *Inspection) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	name := in.Name
	if name == "" {
		name = "(unnamed)"
	}
	fmt.Fprintf(tw, "model\t%s\n", name)
	fmt.Fprintf(tw, "architecture\t%s\n", in.Architecture)
	fmt.Fprintf(tw, "gguf\tv%d, alignment %d, data at offset %d, %d part(s)\n", in.GGUFVersion, in.Alignment, in.DataOffset, len(in.Parts))
	fmt.Fprintf(tw, "tensors\t%d, %s (%d bytes)\n", in.TensorCount, units.Bytes(in.TensorBytes), in.TensorBytes)
	if in.ShapeError != "" {
		fmt.Fprintf(tw, "shapes\tBAD: %s\n", strings.TrimPrefix(in.ShapeError, "gguf: "))
	}
	if in.DataPresent {
		fmt.Fprintf(tw, "data\tall present\n")
	} else {
		fmt.Fprintf(tw, "data\tMISSING %s of %s (header only or truncated: fine to plan, not to run)\n", units.Bytes(in.MissingBytes), units.Bytes(in.TensorBytes))
	}
	tw.Flush()

	fmt.Fprintln(w, "\nhyperparameters")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, k := range sortedKeys(in.HParams) {
		switch v := in.HParams[k].(type) {
		case nil:
		case float64: // 1e-05 and 1e+06 as people write them: 0.00001, 1000000
			fmt.Fprintf(tw, "  %s\t%s\n", k, strconv.FormatFloat(v, 'f', -1, 64))
		case json.Number:
			f, _ := v.Float64()
			fmt.Fprintf(tw, "  %s\t%s\n", k, strconv.FormatFloat(f, 'f', -1, 32))
		default:
			fmt.Fprintf(tw, "  %s\t%v\n", k, v)
		}
	}
	tw.Flush()

	fmt.Fprintln(w, "\nquantization mix")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "type\ttensors\tsize\tshare\t\n")
	for _, t := range in.Types {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.1f%%\t\n", t.Type, t.Tensors, units.Bytes(t.Bytes), 100*float64(t.Bytes)/float64(max(in.TensorBytes, 1)))
	}
	tw.Flush()

	fmt.Fprintln(w, "\nsizes")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  input (token embedding, …)\t%12s\n", units.Bytes(in.InputBytes))
	for _, r := range layerRuns(in.LayerBytes) {
		label := fmt.Sprintf("layer %d", r.from)
		if r.to > r.from {
			label = fmt.Sprintf("layers %d-%d (each)", r.from, r.to)
		}
		fmt.Fprintf(tw, "  %s\t%12s\n", label, units.Bytes(r.bytes))
	}
	fmt.Fprintf(tw, "  output (output, output_norm)\t%12s\n", units.Bytes(in.OutputBytes))
	fmt.Fprintf(tw, "  total\t%12s\n", units.Bytes(in.TensorBytes))
	tw.Flush()
}

type layerRun struct {
	from, to int
	bytes    int64
}

// layerRuns groups consecutive layers of equal size.
func layerRuns(sizes []int64) []layerRun {
	var runs []layerRun
	for i, b := range sizes {
		if n := len(runs); n > 0 && runs[n-1].bytes == b {
			runs[n-1].to = i
			continue
		}
		runs = append(runs, layerRun{i, i, b})
	}
	return runs
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
