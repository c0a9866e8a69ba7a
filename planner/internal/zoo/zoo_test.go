package zoo

import (
	"bytes"
	"reflect"
	"testing"
)

// A llama-fit-params -v log cut to the lines the parser reads (Gemma-3
// style: a full and a sliding-window cache; one recurrent-state line).
const sampleLog = `0.00.063.140 D llama_context: n_ctx                 = 5120
0.00.063.140 D llama_context: n_ctx_seq             = 1280
0.00.077.805 D llama_context:        CPU  output buffer size =     2.32 MiB
0.00.080.000 I llama_kv_cache_iswa: creating non-SWA KV cache, size = 1280 cells
0.00.083.715 D llama_kv_cache: size =   45.94 MiB (  1280 cells,  24 layers,  4/4 seqs), K (q8_0):   15.94 MiB, V (f16):   30.00 MiB
0.00.083.717 D llama_kv_cache: attn_rot_k = 1, n_embd_head_k_all = 64
0.00.083.717 D llama_kv_cache: attn_rot_v = 0, n_embd_head_k_all = 64
0.00.083.800 I llama_kv_cache_iswa: creating     SWA KV cache, size = 768 cells
0.00.083.815 D llama_kv_cache: size =   10.00 MiB (   768 cells,  10 layers,  4/4 seqs), K (q8_0):    4.00 MiB, V (f16):    6.00 MiB
0.00.083.900 D llama_memory_recurrent: size =    1.50 MiB (     4 cells,  10 layers,  4 seqs  0 rs_seq), R (f32):    0.50 MiB, S (f32):    1.00 MiB
0.00.093.243 D sched_reserve:        CPU compute buffer size =   150.13 MiB
0.00.094.909 I common_memory_breakdown_print: |   - Host               |                  541 =   345 +      45 +     150                |
0.00.094.923 I common_memory_breakdown_print: |   - CPU_REPACK         |                   28 =    28 +       0 +       0                |
`

func TestParseLog(t *testing.T) {
	m, complete := ParseLog(sampleLog)
	want := Measured{Ctx: 5120, CtxSeq: 1280, HostModelMiB: 345, RepackModelMiB: 28, ContextMiB: 45, Cells: 1280, SWACells: 768,
		K: 15.94, V: 30, KSWA: 4, VSWA: 6, R: 0.5, S: 1, Output: 2.32, Compute: 150.13, AttnRotK: true}
	if !complete || !reflect.DeepEqual(m, want) {
		t.Errorf("parsed %+v (complete %v), want %+v", m, complete, want)
	}
	m, complete = ParseLog("0.01 E llama_init_from_model: quantized V cache requires flash_attn to be enabled\n")
	if complete || m.Error != "llama_init_from_model: quantized V cache requires flash_attn to be enabled" {
		t.Errorf("error line: %+v", m)
	}
}

func TestRoundTrip(t *testing.T) {
	s := SampleSettings("x", 8192, 12)
	if len(s) != 12 || s[0].NCtx != 4096 {
		t.Fatalf("settings %+v", s)
	}
	in := &Truth{Meta: [][2]string{{"cpu_features", "avx2 avx512f"}}}
	for i, st := range s {
		in.Rows = append(in.Rows, Row{Layout: "x", Settings: st, Measured: Measured{Ctx: i, K: 1.25, AttnRotV: i%2 == 0}, Build: Build, Command: Command("x", st)})
	}
	var b bytes.Buffer
	if err := in.Write(&b); err != nil {
		t.Fatal(err)
	}
	out, err := Read(&b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) || len(out.CPUFeatures()) != 2 {
		t.Errorf("round trip changed the rows:\n%+v\n%+v", in, out)
	}
}
