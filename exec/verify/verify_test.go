package verify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/exec/launch"
	"github.com/modelfit/modelfit/exec/llamaserver"
	"github.com/modelfit/modelfit/exec/measure"
	"github.com/modelfit/modelfit/exec/verify/internal/layout"
	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/probe"
)

func binary(t *testing.T) string {
	t.Helper()
	return testutil.Shared(t, "tools", "llama.cpp", "bin", "llama-server")
}

// plan plans model for this machine (or the machine as a process in the
// cgroup at cgroupPath sees it) with the given settings pinned.
func plan(t *testing.T, model, cgroupPath string, mmap, repack bool, edit func(*planner.Request)) *planner.Plan {
	t.Helper()
	f, err := gguf.Open(model)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	snap, err := probe.Probe(context.Background(), probe.Options{Files: []string{model}, NoGPU: true, CgroupPath: cgroupPath})
	if err != nil {
		t.Fatal(err)
	}
	req := planner.Request{ModelPath: model}
	req.Settings.MMap, req.Pinned.MMap = mmap, true
	req.Settings.NoRepack, req.Pinned.NoRepack = !repack, true
	if edit != nil {
		edit(&req)
	}
	p, err := planner.Make(context.Background(), f, snap, req)
	if p == nil {
		t.Fatal(err)
	}
	return p
}

// check asserts that every figure of the report is within its tolerance:
// the plan's weights, repack, KV, compute and output buffers against what
// llama.cpp logged, and its anonymous and mapped memory against what the
// process held.
func check(t *testing.T, rep *Report) {
	t.Helper()
	for i := range rep.Rows {
		r := &rep.Rows[i]
		if !r.OK {
			t.Errorf("%s %s: predicted %.4f MiB [%.4f–%.4f], %s %s (tolerance %s)", r.Device, r.Figure, mib(r.Predicted),
				mib(r.Low), mib(r.High), r.Source, actual(r), r.Tolerance)
		}
	}
	if rep.PromptTokens != min(rep.Settings.NUbatch, rep.Settings.NCtx-9) || rep.DecodeTokens != 8 {
		t.Errorf("prompt %d tokens, decode %d; want n_ubatch (%d) and 8", rep.PromptTokens, rep.DecodeTokens, rep.Settings.NUbatch)
	}
	for _, s := range rep.Speed {
		if s.Measured <= 0 {
			t.Errorf("%s not measured", s.What)
		}
	}
}

// checkLargeVocab is check for a model with a large vocabulary: there the
// planner's compute point is llama-cli's graph, with logits for the whole
// ubatch, while llama-server reserves one output per sequence, more than
// the planner's low bound allows (docs/verify.md). The compute buffer is
// then only reported, and the allocated total must be off by exactly its
// error; every other figure must be within its tolerance.
func checkLargeVocab(t *testing.T, rep *Report) {
	t.Helper()
	var compute, alloc *Row
	for i := range rep.Rows {
		r := &rep.Rows[i]
		switch r.Figure {
		case "compute":
			compute = r
			t.Logf("%s compute: predicted %.2f MiB [%.2f–%.2f], llama.cpp %.2f MiB", r.Device, mib(r.Predicted), mib(r.Low), mib(r.High), mib(*r.Actual))
			if *r.Actual > r.Predicted {
				t.Errorf("llama-server's compute buffer (%.2f MiB) is larger than the planner's point (%.2f MiB)", mib(*r.Actual), mib(r.Predicted))
			}
		case "allocated":
			alloc = r
		default:
			if !r.OK {
				t.Errorf("%s %s: predicted %.4f MiB [%.4f–%.4f], %s %s (tolerance %s)", r.Device, r.Figure, mib(r.Predicted),
					mib(r.Low), mib(r.High), r.Source, actual(r), r.Tolerance)
			}
		}
	}
	if compute == nil || alloc == nil {
		t.Fatalf("no compute or allocated row: %+v", rep.Rows)
	}
	d := func(r *Row) float64 { return mib(r.Predicted) - mib(*r.Actual) }
	if off := d(alloc) - d(compute); off > 4*LoggedMiB || off < -4*LoggedMiB {
		t.Errorf("allocated is off by %.3f MiB, beyond the compute buffer's error (%.3f MiB)", d(alloc), d(compute))
	}
}

func mib(b uint64) float64 { return float64(b) / llamaserver.MiB }

func actual(r *Row) string {
	if r.Actual == nil {
		return "nothing"
	}
	return fmt.Sprintf("%.4f MiB", mib(*r.Actual))
}

// TestModels verifies every model in testdata/models with mmap and
// repacking, and one of them in every combination of the two.
func TestModels(t *testing.T) {
	bin := binary(t)
	models, _ := filepath.Glob(testutil.Path("models", "*.gguf"))
	if len(models) == 0 {
		t.Fatal("no test models")
	}
	type run struct {
		model        string
		mmap, repack bool
	}
	var runs []run
	q4 := testutil.Path("models", "synth-llama-gqa-Q4_K_M.gguf")
	if testing.Short() {
		models = []string{q4}
	}
	for _, m := range models {
		runs = append(runs, run{m, true, true})
	}
	runs = append(runs, run{q4, false, true}, run{q4, true, false}, run{q4, false, false})
	for _, r := range runs {
		t.Run(fmt.Sprintf("%s/mmap=%v/repack=%v", strings.TrimSuffix(filepath.Base(r.model), ".gguf"), r.mmap, r.repack), func(t *testing.T) {
			p := plan(t, r.model, "", r.mmap, r.repack, func(req *planner.Request) {
				req.Settings.NCtx, req.Pinned.NCtx = 1024, true
			})
			rep, err := Run(context.Background(), p, Options{Server: llamaserver.Options{Binary: bin}})
			if err != nil {
				t.Fatal(err)
			}
			check(t, rep)
			if rep.Args[len(rep.Args)-1] == "" || !strings.Contains(strings.Join(rep.Args, " "), "-lv 4") {
				t.Errorf("args %v", rep.Args)
			}
		})
	}
}

// TestLayout1B verifies a 1B-sized layout (sparse, zero weights) and the
// planner's verdict inside memory-limited cgroups: a plan that fits the
// limit (planned as a process in that cgroup sees the machine) survives its
// load and a completion; one that does not is not started by Run, and
// started anyway it dies. Without the right to make cgroups, the layout is
// verified on the machine as it is.
func TestLayout1B(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: loads an 800 MB model")
	}
	bin := binary(t)
	model := filepath.Join(t.TempDir(), "llama-1b.gguf")
	if _, err := layout.Write(model, layout.Llama1B); err != nil {
		t.Fatal(err)
	}
	ub128 := func(req *planner.Request) { req.Settings.NUbatch, req.Pinned.NUbatch = 128, true }
	for _, tt := range []struct {
		name  string
		limit uint64
		mmap  bool
		fits  bool
	}{
		{"mmap in 2.5 GiB", 5 << 29, true, true},
		{"no mmap in 768 MiB", 768 << 20, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var cg *launch.Cgroup
			var err error
			if os.Geteuid() == 0 {
				cg, err = launch.NewCgroup(fmt.Sprintf("modelfit-verify-test-%d", os.Getpid()), tt.limit)
			}
			if cg == nil {
				if !tt.fits {
					t.Skipf("cannot make a memory cgroup here (root: %v): %v", os.Geteuid() == 0, err)
				}
				t.Logf("no memory cgroup (root: %v, %v): verifying on the machine as it is", os.Geteuid() == 0, err)
				rep, err := Run(context.Background(), plan(t, model, "", true, true, ub128), Options{Server: llamaserver.Options{Binary: bin}})
				if err != nil {
					t.Fatal(err)
				}
				checkLargeVocab(t, rep)
				return
			}
			defer cg.Remove()
			p := plan(t, model, cgroupPath(cg), tt.mmap, true, ub128)
			if p.Fits != tt.fits {
				t.Fatalf("the planner says fits=%v in %d MiB, want %v: %v", p.Fits, tt.limit>>20, tt.fits, p.NoFit)
			}
			opts := Options{Server: llamaserver.Options{Binary: bin, Cgroups: cg.Dirs}, Cgroup: cg}
			rep, err := Run(context.Background(), p, opts)
			if !tt.fits {
				if !errors.Is(err, ErrNoFit) {
					t.Fatalf("Run = %v, want ErrNoFit", err)
				}
				// Started anyway, it fails: the verdict was right.
				s, err := llamaserver.Start(context.Background(), p, opts.Server)
				if err == nil {
					s.Close()
					t.Fatal("a plan the planner refused loaded in the cgroup")
				}
				if !errors.Is(err, llamaserver.ErrOOMKilled) && !errors.Is(err, llamaserver.ErrLoad) {
					t.Fatalf("started anyway: %v; want an OOM kill or a load failure", err)
				}
				t.Logf("started anyway: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("a plan that fits failed in its cgroup: %v", err)
			}
			checkLargeVocab(t, rep)
			if c := rep.Cgroup; c == nil || c.OOMKills != 0 || c.PeakBytes == 0 || c.PeakBytes > tt.limit {
				t.Errorf("cgroup %+v", rep.Cgroup)
			} else {
				t.Logf("cgroup peak %d MiB of %d MiB", c.PeakBytes>>20, tt.limit>>20)
			}
		})
	}
}

// cgroupPath is the cgroup's path as /proc/PID/cgroup names it.
func cgroupPath(cg *launch.Cgroup) string {
	for _, mount := range []string{"/sys/fs/cgroup/memory", "/sys/fs/cgroup"} {
		if rel, ok := strings.CutPrefix(cg.Dir, mount); ok && (cg.Version == 1) == (mount != "/sys/fs/cgroup") {
			return rel
		}
	}
	return ""
}

func TestNoFitIsNotStarted(t *testing.T) {
	p := &planner.Plan{Fits: false}
	if _, err := Run(context.Background(), p, Options{}); !errors.Is(err, ErrNoFit) {
		t.Errorf("err = %v", err)
	}
}

func TestJudge(t *testing.T) {
	rows := compareRows(t)
	rep := &Report{Rows: rows}
	rep.judge()
	if rep.OK || rep.WorstRow().Figure != "compute" || len(rep.Failed()) != 2 {
		t.Errorf("ok %v worst %+v failed %v", rep.OK, rep.WorstRow(), rep.Failed())
	}
}

// compareRows builds rows from a synthetic plan and log: all exact but a
// compute buffer 30% below the prediction (which the allocated total shows).
func compareRows(t *testing.T) []Row {
	p := &planner.Plan{Fits: true, Settings: planner.Settings{MMap: false}, Model: planner.ModelInfo{FileBytes: 100 << 20}}
	p.Devices = []planner.PlanDevice{{DeviceMemory: planner.DeviceMemory{Name: "CPU", WeightsBytes: 90 << 20, AnonWeightsBytes: 90 << 20,
		KVBytes: 8 << 20, ComputeBytes: 10 << 20, ComputeLowBytes: 9 << 20, ComputeHighBytes: 12 << 20, OutputBytes: 1 << 20,
		TotalBytes: 109 << 20}, MarginBytes: 1 << 30}}
	b := llamaserver.ParseBuffers(`load_tensors:          CPU model buffer size =    90.00 MiB
llama_context:        CPU  output buffer size =     1.00 MiB
llama_kv_cache:        CPU KV buffer size =     8.00 MiB
sched_reserve:        CPU compute buffer size =     7.00 MiB
`)
	rows := compare(p, b, measure.Memory{RSSAnon: 110 << 20}, nil, false)
	want := map[string]bool{"weights": true, "repack": true, "KV": true, "compute": false, "output": true, "allocated": false, "anonymous": true}
	for _, r := range rows {
		if ok, listed := want[r.Figure]; !listed || ok != r.OK {
			t.Errorf("%s: ok %v score %.2f, want %v", r.Figure, r.OK, r.Score, ok)
		}
	}
	return rows
}

// TestCompareGPU: a plan with layers on CUDA0, llama.cpp's log of a CUDA
// build, and NVML's per-process memory (as measure's NVML reader returns it
// from go-nvml; its mocks are in exec/measure).
func TestCompareGPU(t *testing.T) {
	p := &planner.Plan{Fits: true, Settings: planner.Settings{MMap: true, NGPULayers: 33}, Model: planner.ModelInfo{FileBytes: 4700 << 20}}
	p.Devices = []planner.PlanDevice{
		{DeviceMemory: planner.DeviceMemory{Name: "CPU", WeightsBytes: 281 << 20, MappedBytes: 281 << 20, ComputeBytes: 16 << 20,
			ComputeLowBytes: 14 << 20, ComputeHighBytes: 20 << 20, OutputBytes: 500 << 10, TotalBytes: 16<<20 + 500<<10}, MarginBytes: 1 << 30},
		{DeviceMemory: planner.DeviceMemory{Name: "CUDA0", WeightsBytes: 4403 << 20, KVBytes: 512 << 20, ComputeBytes: 258 << 20,
			ComputeLowBytes: 232 << 20, ComputeHighBytes: 302 << 20, OverheadBytes: 512 << 20, TotalBytes: (4403 + 512 + 258 + 512) << 20}, MarginBytes: 1 << 30},
	}
	b := llamaserver.ParseBuffers(`load_tensors:   CPU_Mapped model buffer size =   281.00 MiB
load_tensors:        CUDA0 model buffer size =  4403.00 MiB
llama_context:  CUDA_Host  output buffer size =     0.49 MiB
llama_kv_cache:      CUDA0 KV buffer size =   512.00 MiB
sched_reserve:      CUDA0 compute buffer size =   258.50 MiB
sched_reserve:  CUDA_Host compute buffer size =    16.01 MiB
`)
	for _, tt := range []struct {
		name string
		vram uint64
		ok   bool
	}{
		{"as planned with a 380 MiB context", (4403 + 512 + 258 + 380) << 20, true},
		{"2 GiB more than planned", (4403 + 512 + 258 + 512 + 2048) << 20, false},
		{"buffers missing", 3000 << 20, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			gpus := []measure.GPUMemory{{Index: 0, Name: "H100", Bytes: tt.vram}}
			rows := compare(p, b, measure.Memory{RSSAnon: 60 << 20, Files: map[string]uint64{"": 0}}, gpus, true)
			seen := map[string]bool{}
			for _, r := range rows {
				seen[r.Device+" "+r.Figure] = true
				switch {
				case r.Device == "CUDA0" && r.Figure == "GPU memory":
					if r.OK != tt.ok || r.Actual == nil || *r.Actual != tt.vram {
						t.Errorf("GPU memory %d MiB: ok %v score %.2f [%d–%d MiB]", tt.vram>>20, r.OK, r.Score, r.Low>>20, r.High>>20)
					}
				case r.Figure == "mapped model":
				case !r.OK:
					t.Errorf("%s %s: predicted %.2f, actual %s, score %.2f", r.Device, r.Figure, mib(r.Predicted), actual(&r), r.Score)
				}
			}
			for _, want := range []string{"CUDA0 weights", "CUDA0 KV", "CUDA0 compute", "CUDA0 allocated", "CPU compute", "CPU output"} {
				if !seen[want] {
					t.Errorf("no %s row", want)
				}
			}
		})
	}
}
