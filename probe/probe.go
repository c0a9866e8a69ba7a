// Package probe reports what a machine has for a model right now: memory with
// page cache and cgroup limits, NUMA nodes, CPU cores, quota and features,
// GPUs with their free memory, and how much of a model file is already in the
// page cache.
package probe

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
)

// ErrNotSupported is returned (wrapped) for a measurement this platform
// cannot make.
var ErrNotSupported = errors.New("probe: not supported on this platform")

// Options selects what to probe. The zero value probes the running machine
// through the real /proc, /sys and NVML, without files.
type Options struct {
	// Root is prepended to /proc and /sys paths; tests point it at captured
	// fixtures. Empty means "/".
	Root string
	// CgroupPath overrides the process's cgroup (as in /proc/self/cgroup),
	// for fixtures; empty reads it from Root/proc/self/cgroup.
	CgroupPath string
	// Files are model files (all parts) whose page-cache residency,
	// filesystem and backing device to report.
	Files []string
	// NoGPU skips GPU discovery.
	NoGPU bool
	// Env replaces the process environment for CUDA_VISIBLE_DEVICES and
	// HIP_VISIBLE_DEVICES; nil reads os.Getenv.
	Env func(string) string
	// NVML replaces the NVIDIA driver library, for tests with go-nvml's
	// mocks; nil uses the real library: libnvidia-ml through cgo on Linux,
	// nvml.dll on Windows.
	NVML NVML
	// NvidiaSMI replaces running `nvidia-smi --query-gpu=… --format=csv`,
	// the fallback when NVML cannot be used; nil runs it from $PATH, but
	// only when probing the real machine (Root and NVML unset).
	NvidiaSMI func(ctx context.Context) ([]byte, error)
}

func (o *Options) path(p string) string {
	if o.Root == "" {
		return p
	}
	return filepath.Join(o.Root, p)
}

func (o *Options) getenv(k string) string {
	if o.Env != nil {
		return o.Env(k)
	}
	return os.Getenv(k)
}

// Probe measures the machine: on Linux from /proc and /sys, elsewhere
// through gopsutil and what each platform adds (macOS: vm_stat's figures,
// Apple Silicon's CPU features and its Metal GPU; Windows: the commit limit,
// the file cache and NVIDIA GPUs through nvml.dll). Missing sources (no cgroup, no NVML, no NUMA
// information) are reported in the snapshot, not as errors; an error means
// the basic memory information could not be read.
func Probe(ctx context.Context, opts Options) (*Snapshot, error) {
	s := &Snapshot{Schema: SchemaVersion, Source: "probe", GPUs: []GPU{}}
	if err := readHostMemory(&opts, &s.Memory); err != nil {
		return nil, err
	}
	// The cgroup paths are found once and serve both the memory limit and
	// the CPU quota.
	cg := findCgroups(&opts)
	readCgroupMemory(cg, &s.Memory)
	s.Memory.MlockLimitBytes = mlockLimit(&opts)
	s.CPU = readHostCPU(&opts, cg)
	s.NUMA = readNUMA(&opts)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !opts.NoGPU {
		s.GPUs, s.GPUNote = readGPUs(ctx, &opts, &s.Memory)
	}
	if len(opts.Files) > 0 {
		files, err := FileResidency(opts.Files...)
		if err != nil {
			return nil, err
		}
		s.Files = files
	}
	return s, nil
}

// goarch is the architecture reported in CPU.Arch.
var goarch = runtime.GOARCH
