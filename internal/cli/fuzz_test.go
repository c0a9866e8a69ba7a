package cli

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/internal/testutil"
)

// FuzzPlanArgs runs the dry run with arbitrary flags and values on the tiny
// model for an assumed machine: whatever the values, it answers with one of
// the exit statuses and never panics. The arguments are the fuzzed string
// split at NUL bytes.
func FuzzPlanArgs(f *testing.F) {
	for _, s := range []string{
		"-c\x000", "-c\x00-5", "-c\x0099999999999", "-b\x000", "-ub\x00100000", "-np\x00-1", "-t\x001000", "-t\x00-1",
		"-ngl\x0099999", "-ngl\x00-2", "-ts\x001,2", "-ts\x001/0/3", "-ot\x00blk.(0=CPU", "-ot\x00exps=CPU", "-fa\x00maybe",
		"-ctk\x00q3_Z", "-ctv\x00q8_0\x00-fa\x00off", "--load-mode\x00mlock", "--gpu\x0024GiB\x00--sweep", "--min-tok-s\x001e9",
		"--no-mmap\x00--mlock", "--host-margin\x00-1", "--gpu\x00H100=80GiB@90GiB:3350GB/s", "--timeout\x00-1s", "--print-args\x00--args-style\x00load-mode",
		"--unified\x00M2 Ultra=192GiB", "--unified\x0064GiB\x00--wired-limit-mb\x0050000", "--link\x0010GbE",
	} {
		f.Add(s)
	}
	model := testutil.Path("models", "synth-llama-gqa-Q4_K_M.gguf")
	f.Fuzz(func(t *testing.T, s string) {
		args := append([]string{model, "--ram", "8GiB"}, strings.Split(s, "\x00")...)
		for _, a := range args {
			// Flags that would read files or probe this machine: not
			// what this target is about.
			name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if name == "probe" || name == "profile" || name == "host" || a == "run" || a == "help" {
				return
			}
		}
		switch code := Run(context.Background(), append(args, "--json"), io.Discard, io.Discard); code {
		case ExitOK, ExitError, ExitUsage, ExitNoFit:
		default:
			t.Fatalf("exit %d for %q", code, args)
		}
	})
}
