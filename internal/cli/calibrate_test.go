package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/planner"
)

// A profile given with --profile drives the prediction (for any machine);
// the stored one only for this machine probed, never for a described one.
func TestPlanWithProfile(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	rate := map[string]float64{"q8_0": 1e-10, "q4_0": 1e-10, "q6_k": 1e-10, "k_quant": 1e-10}
	prof := &planner.SpeedProfile{Schema: planner.SpeedSchema, Measured: "2026-12-05T00:00:00Z",
		Points: []planner.SpeedPoint{{Threads: 2, DecodeSecondsPerByte: rate, PrefillSecondsPerFLOP: rate}}}
	path := filepath.Join(t.TempDir(), "speed.json")
	if err := writeProfile(path, prof); err != nil {
		t.Fatal(err)
	}
	synth := testutil.Path("models", "synth-llama-gqa-Q4_K_M.gguf")
	assumptions := func(args ...string) (string, int, string) {
		var out, errb bytes.Buffer
		code := Run(context.Background(), append([]string{synth, "--ram", "8GiB", "--cores", "2", "--json"}, args...), &out, &errb)
		var doc struct {
			Predicted planner.Prediction `json:"predicted"`
		}
		json.Unmarshal(out.Bytes(), &doc)
		return strings.Join(doc.Predicted.Assumptions, "; "), code, errb.String()
	}
	if as, code, _ := assumptions("--profile", path); code != ExitOK || !strings.Contains(as, "host speed measured") {
		t.Errorf("--profile: exit %d, assumptions %q", code, as)
	}
	def, err := DefaultProfilePath()
	if err != nil {
		t.Fatal(err)
	}
	if err := writeProfile(def, prof); err != nil {
		t.Fatal(err)
	}
	if as, code, _ := assumptions(); code != ExitOK || strings.Contains(as, "measured:") || strings.Contains(as, "host speed") {
		t.Errorf("the stored profile was used for a described machine: exit %d, %q", code, as)
	}
	os.WriteFile(path, []byte(`{"schema":"speed/v1","points":[{"threads":2}]}`), 0o644)
	if _, code, errs := assumptions("--profile", path); code != ExitUsage || !strings.Contains(errs, path) {
		t.Errorf("a profile without rates: exit %d, %q", code, errs)
	}
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"calibrate", "extra"}, &out, &errb); code != ExitUsage {
		t.Errorf("calibrate with an argument: exit %d", code)
	}
}
