package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/modelfit/modelfit/calibrate"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/probe"
)

func init() {
	commands["calibrate"] = command{run: runCalibrate, summary: "measure this machine's speeds (memory, disk, llama-bench) and store the profile plans then use"}
}

// DefaultProfilePath is where `plan calibrate` stores this machine's speed
// profile and where plans of this machine look for it:
// $XDG_CONFIG_HOME/modelfit/speed.json (~/.config on Linux, ~/Library/
// Application Support on macOS, %AppData% on Windows).
func DefaultProfilePath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "modelfit", "speed.json"), nil
}

const calibrateHelp = `Measures memory read bandwidth for 1…N threads, cold and warm file reads, mmap page faults,
the first touch of fresh memory and, with llama-bench, prefill and decode with N threads on
small synthetic layouts it writes and deletes (2 GB on --dir), three times each, then fits the
speed model's constants. Needs no root; 45–51 s on an idle 2-core machine with the shared
llama-bench, much longer on a loaded one. Plans with another thread count keep the assumed
speeds: calibrate with theirs.`

func runCalibrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	set := newFlagSet("plan calibrate", calibrateHelp, "plan calibrate [flags]")
	var bench, profile, dir string
	var threads int
	var asJSON bool
	set.stringVar(&bench, "", groupMachine, "FILE", "llama-bench to run (default: from $PATH); without one only memory and disk are measured", "--llama-bench")
	set.stringVar(&profile, "", groupMachine, "FILE", "where to store the profile (default: the user config dir's modelfit/speed.json)", "--profile")
	set.stringVar(&dir, "", groupMachine, "DIR", "directory for the temporary files, on the disk models are read from (default: the system temp dir)", "--dir")
	set.intVar(&threads, 0, groupMachine, "N", "threads llama-bench runs with, and the most memory bandwidth is measured for (default: usable physical cores, as plans use)", "-t", "--threads")
	set.boolVar(&asJSON, groupOutput, "print the profile as JSON", "--json")
	if code, ok := set.parse(args, stdout, stderr); !ok {
		return code
	}
	if set.fs.NArg() != 0 {
		return set.usageError(stderr, "no arguments expected, got %q", strings.Join(set.fs.Args(), " "))
	}
	snap, err := probe.Probe(ctx, probe.Options{NoGPU: true})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitError
	}
	n := threads
	if n <= 0 {
		n = snap.CPU.PhysicalCores
		if u := int(snap.CPU.UsableCores); u > 0 && u < n {
			n = u
		}
	}
	path := profile
	if path == "" {
		if path, err = DefaultProfilePath(); err != nil {
			fmt.Fprintln(stderr, "plan calibrate: no user config dir:", err, "(give --profile FILE)")
			return ExitError
		}
	}
	t0 := time.Now()
	prof, err := calibrate.Run(ctx, calibrate.Options{LlamaBench: bench, Dir: dir, Threads: n,
		Machine: snap.CPU.Model, Log: stderr})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitError
	}
	if err := writeProfile(path, prof); err != nil {
		fmt.Fprintln(stderr, err)
		return ExitError
	}
	fmt.Fprintf(stderr, "profile written to %s in %.0f s (load %s)\n", path, time.Since(t0).Seconds(), prof.Load)
	if asJSON {
		if err := writeJSON(stdout, prof); err != nil {
			fmt.Fprintln(stderr, err)
			return ExitError
		}
	}
	return ExitOK
}

func writeProfile(path string, p *planner.SpeedProfile) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("plan calibrate: %w", err)
	}
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("plan calibrate: %w", err)
	}
	return os.Rename(tmp, path)
}

// ReadProfile reads a speed profile written by `plan calibrate`.
func ReadProfile(path string) (*planner.SpeedProfile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var p planner.SpeedProfile
	if err := json.NewDecoder(io.LimitReader(f, 16<<20)).Decode(&p); err != nil {
		return nil, fmt.Errorf("speed profile %s: %w", path, err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("speed profile %s: %w", path, err)
	}
	return &p, nil
}

// speedProfile returns the profile a plan uses: --profile FILE for any
// machine; for this machine probed now, the stored one when there is one.
// A described machine (--ram, --probe) gets none unless given: the stored
// profile measures this machine only.
func (p *planFlags) speedProfile(probed bool) (*planner.SpeedProfile, error) {
	if p.profile != "" {
		return ReadProfile(p.profile)
	}
	if !probed {
		return nil, nil
	}
	path, err := DefaultProfilePath()
	if err != nil {
		return nil, nil
	}
	prof, err := ReadProfile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("%w (run plan calibrate again, or remove the file)", err)
	}
	return prof, nil
}
