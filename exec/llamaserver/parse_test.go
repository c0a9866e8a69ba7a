package llamaserver

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/exec/launch"
	"github.com/modelfit/modelfit/planner"
)

// helpNew is an excerpt of build 10587's --help; helpOld of a 2025 build's
// (before --load-mode, --repack and --fit).
const helpNew = `----- common params -----

-h,    --help, --usage                  print usage and exit
--version                               show version and build info
-t,    --threads N                      number of CPU threads to use during generation (default: -1)
-c,    --ctx-size N                     size of the prompt context (default: 0, 0 = loaded from model)
-ub,   --ubatch-size N                  physical maximum batch size (default: 512)
-fa,   --flash-attn [on|off|auto]       set Flash Attention use ('on', 'off', or 'auto', default: 'auto')
-kvo,  --kv-offload, -nkvo, --no-kv-offload
                                        whether to enable KV cache offloading (default: enabled)
--repack, -nr, --no-repack              whether to enable weight repacking (default: enabled)
--mmap, --no-mmap                       DEPRECATED in favor of ` + "`--load-mode`" + `: whether to memory-map model. (if
-lm,   --load-mode MODE                 model loading mode (default: auto)
-ot,   --override-tensor <tensor name pattern>=<buffer type>,...
-ts,   --tensor-split N0,N1,N2,...      fraction of the model to offload to each GPU, comma-separated list of
-fit,  --fit [on|off]                   whether to adjust unset arguments to fit in device memory ('on' or
-fitt, --fit-target MiB0,MiB1,MiB2,...
-lv,   --verbosity, --log-verbosity N   Set the verbosity threshold. Messages with a higher verbosity will be
--cache-ram, -cram N                    set the maximum cache size in MiB (default: 8192, -1 - no limit, 0 -
--port PORT                             port to listen (default: 8080)
`

const helpOld = `-m,    --model FNAME                    model path (default: ` + "`models/$filename`" + ` with filename from ` + "`--hf-file`" + `
-t,    --threads N                      number of threads to use during generation (default: -1)
-c,    --ctx-size N                     size of the prompt context (default: 4096, 0 = loaded from model)
-b,    --batch-size N                   logical maximum batch size (default: 2048)
-ub,   --ubatch-size N                  physical maximum batch size (default: 512)
-fa,   --flash-attn [on|off|auto]       set Flash Attention use ('on', 'off', or 'auto', default: 'auto')
-nkvo, --no-kv-offload                  disable KV offload
-ctk,  --cache-type-k TYPE              KV cache data type for K
-ctv,  --cache-type-v TYPE              KV cache data type for V
-np,   --parallel N                     number of parallel sequences to decode (default: 1)
--mlock                                 force system to keep model in RAM rather than swapping or compressing
--no-mmap                               do not memory-map model (slower load but may reduce pageouts if not
-ot,   --override-tensor <tensor name pattern>=<buffer type>,...
-ngl,  --gpu-layers, --n-gpu-layers N   number of layers to store in VRAM
-ts,   --tensor-split N0,N1,N2,...      fraction of the model to offload to each GPU, comma-separated list of
-lv,   --verbosity, --log-verbosity N   Set the verbosity threshold. Messages with a higher verbosity will be
--host HOST                             ip address to listen, or bind to an UNIX socket if the address ends with
--port PORT                             port to listen (default: 8080)
`

func TestParseFeatures(t *testing.T) {
	f := parseFeatures("llama-server", []byte(helpNew), []byte("version: 0.2.0-dev (build 10587, commit 3f545becc)\nbuilt with GNU 12.2.0 for Linux x86_64\n"))
	for _, flag := range []string{"-h", "--usage", "--version", "-t", "--threads", "-ub", "-fa", "-kvo", "-nkvo", "--no-kv-offload",
		"--repack", "-nr", "--no-repack", "--mmap", "--no-mmap", "-lm", "--load-mode", "-ot", "-ts", "--fit", "-fitt", "-lv", "--cache-ram", "--port"} {
		if !f.Has(flag) {
			t.Errorf("new build: %s not detected", flag)
		}
	}
	for _, notFlag := range []string{"-1", "--load-mode`", "N", "MODE", "--mlock", "-ngl"} {
		if f.Has(notFlag) {
			t.Errorf("new build: %q detected as a flag", notFlag)
		}
	}
	if f.Build != 10587 || f.ArgsStyle() != planner.ArgsLoadMode {
		t.Errorf("build %d style %v", f.Build, f.ArgsStyle())
	}
	old := parseFeatures("llama-server", []byte(helpOld), []byte("version: 4589 (1d1e6a90)\n"))
	if old.Build != 4589 || old.ArgsStyle() != planner.ArgsClassic || old.Has("--load-mode") || !old.Has("--no-mmap") || !old.Has("-ngl") {
		t.Errorf("old build: %+v", old)
	}
	err := old.Check([]string{"-m", "x.gguf", "-c", "4096", "-t", "-1", "--no-mmap", "--no-repack"})
	var e *Error
	if !errors.Is(err, ErrUnsupportedFlag) || !errors.As(err, &e) || e.Flag != "--no-repack" || !strings.Contains(err.Error(), "build 4589") {
		t.Errorf("Check = %v, want --no-repack unsupported by build 4589", err)
	}
	if err := f.Check([]string{"-c", "4096", "--load-mode", "mmap", "-ot", "blk\\.0\\.=CPU", "--fit", "off"}); err != nil {
		t.Errorf("Check on the new build: %v", err)
	}
}

func TestLocate(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, BinaryName)
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := Locate(bin, "/nonexistent"); err != nil || p != bin {
		t.Errorf("explicit: %q, %v", p, err)
	}
	if p, err := Locate("", bin); err != nil || p != bin {
		t.Errorf("env: %q, %v", p, err)
	}
	if _, err := Locate(filepath.Join(dir, "missing"), bin); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "--llama-server") {
		t.Errorf("a missing explicit binary: %v", err)
	}
	t.Setenv("PATH", dir)
	if p, err := Locate("", ""); err != nil || p != bin {
		t.Errorf("PATH: %q, %v", p, err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := Locate("", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("nothing anywhere: %v", err)
	}
}

func TestClassify(t *testing.T) {
	oom := &launch.ExitError{Code: -1, Signal: 9, OOMKilled: true}
	killed := &launch.ExitError{Code: -1, Signal: 9}
	exit1 := &launch.ExitError{Code: 1}
	tests := []struct {
		name string
		log  string
		exit *launch.ExitError
		kind error
		want Error // the fields checked: Buffer, Size, Flag, Port, and Message as a substring
	}{
		{"oom", "0.00.034.114 I load_tensors:   CPU_Mapped model buffer size =     1.46 MiB\n", oom, ErrOOMKilled, Error{Message: "CPU_Mapped model buffer size"}},
		{"killed", "loading\n", killed, ErrExited, Error{Message: "loading"}},
		{"alloc", `0.01.289.802 E ggml_aligned_malloc: insufficient memory (attempted to allocate 3906.50 MB)
0.01.295.916 E alloc_tensor_range: failed to allocate CPU buffer of size 4096262144
0.01.313.496 E llama_init_from_model: failed to initialize the context: failed to allocate buffer for kv cache
0.01.376.026 E srv  llama_server: exiting due to model loading error
`, exit1, ErrLoad, Error{Buffer: "CPU", Size: 4096262144, Message: "alloc_tensor_range: failed to allocate CPU buffer of size 4096262144; failed to allocate buffer for kv cache"}},
		{"cuda", `ggml_backend_cuda_buffer_type_alloc_buffer: allocating 20480.00 MiB on device 0: cudaMalloc failed: out of memory
alloc_tensor_range: failed to allocate CUDA0 buffer of size 21474836480
llama_model_load: error loading model: unable to allocate CUDA0 buffer
`, exit1, ErrLoad, Error{Buffer: "CUDA0", Size: 21474836480, Message: "unable to allocate CUDA0 buffer"}},
		{"repack", "llama_model_load: error loading model: unable to allocate CPU_REPACK buffer\n", exit1, ErrLoad, Error{Buffer: "CPU_REPACK", Message: "error loading model: unable to allocate CPU_REPACK buffer"}},
		{"corrupt", "0.00.042.963 E llama_model_load: error loading model: tensor 'blk.2.ffn_down.weight' data is not within the file bounds, model is corrupted or incomplete\n0.00.043.274 E llama_model_load_from_file_impl: failed to load model\n", exit1, ErrLoad,
			Error{Message: "llama_model_load: error loading model: tensor 'blk.2.ffn_down.weight' data is not within the file bounds"}},
		{"port", "0.00.017.102 I srv         start: binding port with default address family\n0.00.017.200 E srv    listen: couldn't bind HTTP server socket, hostname: 127.0.0.1, port: 8080\n", exit1, ErrPortInUse, Error{Port: 8080, Message: "couldn't bind"}},
		{"flag", "error while handling argument \"--load-mode\": error: invalid argument: --load-mode\n\nusage:\n", exit1, ErrUnsupportedFlag, Error{Flag: "--load-mode"}},
		{"exit", "something else\n", exit1, ErrExited, Error{Message: "something else"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := classify(tt.log, tt.exit)
			if !errors.Is(e, tt.kind) {
				t.Fatalf("%v: want %v", e, tt.kind)
			}
			w := tt.want
			if e.Buffer != w.Buffer || e.Size != w.Size || e.Flag != w.Flag || e.Port != w.Port || !strings.Contains(e.Message, w.Message) {
				t.Errorf("got %+v\nwant %+v", e, w)
			}
			var exit *launch.ExitError
			if !errors.As(e, &exit) || exit != tt.exit {
				t.Errorf("the exit is not wrapped")
			}
		})
	}
}

// logExcerpt is build 10587's -lv 4 log of the synthetic Q4_K_M model.
const logExcerpt = `0.00.032.986 I load_tensors: loading model tensors, this can take a while... (load_mode = mmap)
0.00.034.114 I load_tensors:   CPU_Mapped model buffer size =     1.46 MiB
0.00.034.128 I load_tensors:   CPU_REPACK model buffer size =     1.09 MiB
0.00.037.703 I llama_context:        CPU  output buffer size =     0.01 MiB
0.00.037.783 I llama_kv_cache:        CPU KV buffer size =     1.00 MiB
0.00.040.198 I llama_kv_cache: size =    1.00 MiB (   512 cells,   4 layers,  4/1 seqs), K (f16):    0.50 MiB, V (f16):    0.50 MiB
0.00.044.765 I sched_reserve:        CPU compute buffer size =     5.01 MiB
load_tensors:        CUDA0 model buffer size =  4403.49 MiB
llama_kv_cache:      CUDA0 KV buffer size =   480.00 MiB
llama_kv_cache: size =  512.00 MiB (  4096 cells,  32 layers,  1/1 seqs), K (q8_0):  136.00 MiB, V (q8_0):  136.00 MiB
sched_reserve:      CUDA0 compute buffer size =   258.50 MiB
sched_reserve:  CUDA_Host compute buffer size =    16.01 MiB
`

func TestParseBuffers(t *testing.T) {
	b := ParseBuffers(logExcerpt)
	check := func(kind, dev string, want float64) {
		t.Helper()
		if got, ok := b.Device(kind, dev); !ok || math.Abs(got-want) > 1e-9 {
			t.Errorf("%s %s = %v (%v), want %v", dev, kind, got, ok, want)
		}
	}
	check("model", "CPU", 1.46)
	check("model", "CPU_REPACK", 1.09)
	check("output", "CPU", 0.01)
	check("KV", "CPU", 1.00)
	check("compute", "CPU", 5.01+16.01)
	check("model", "CUDA0", 4403.49)
	check("KV", "CUDA0", 480)
	check("compute", "CUDA0", 258.50)
	if b.K != 136.5 || b.V != 136.5 || b.Cells != 4096 || b.KType != "q8_0" || b.LoadMode != "mmap" || b.Empty() {
		t.Errorf("summary %+v", b)
	}
	if _, ok := b.Device("output", "CUDA0"); ok {
		t.Error("no CUDA0 output buffer was logged")
	}
	if !ParseBuffers("nothing here").Empty() {
		t.Error("an empty log has buffers")
	}
}

func FuzzParseBuffers(f *testing.F) {
	f.Add(logExcerpt)
	f.Add(helpNew)
	f.Add("CPU KV buffer size = 1e400 MiB (  9999999999999999999 cells K (x): 1 MiB, V (y): 2 MiB")
	f.Fuzz(func(t *testing.T, log string) {
		b := ParseBuffers(log)
		b.Device("model", "CPU")
		classify(log, nil)
		parseFeatures("x", []byte(log), []byte(log)).Check([]string{"-m", "--x"})
	})
}
