package probe

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// nvidiaSMIFields is the query the fallback runs when NVML cannot be
// loaded: `nvidia-smi --query-gpu=FIELDS --format=csv,noheader,nounits`.
// Memory comes in MiB; compute_cap needs driver 510 or later (older ones
// answer "[N/A]" or refuse the field, see runNvidiaSMI).
const nvidiaSMIFields = "index,name,uuid,memory.total,memory.used,memory.free,pci.bus_id,driver_version,compute_cap"

// runNvidiaSMI runs nvidia-smi from $PATH with the fallback's query; an
// old driver that does not know compute_cap is asked again without it.
func runNvidiaSMI(ctx context.Context) ([]byte, error) {
	if _, err := exec.LookPath("nvidia-smi"); err != nil {
		return nil, errors.New("nvidia-smi not found in $PATH")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	run := func(fields string) ([]byte, error) {
		return exec.CommandContext(ctx, "nvidia-smi", "--query-gpu="+fields, "--format=csv,noheader,nounits").Output()
	}
	out, err := run(nvidiaSMIFields)
	if err != nil {
		out, err = run(strings.TrimSuffix(nvidiaSMIFields, ",compute_cap"))
	}
	if err != nil {
		return nil, fmt.Errorf("nvidia-smi: %w", err)
	}
	return out, nil
}

// parseNvidiaSMI parses the fallback query's CSV (with or without the
// compute_cap column). Driver and CUDA versions come back on each GPU.
func parseNvidiaSMI(out []byte) ([]GPU, error) {
	r := csv.NewReader(strings.NewReader(string(out)))
	r.TrimLeadingSpace = true
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("nvidia-smi output: %w", err)
	}
	var gpus []GPU
	for line, rec := range recs {
		if len(rec) < 8 {
			return nil, fmt.Errorf("nvidia-smi output line %d: %d fields, want %d (%s)", line+1, len(rec), 9, nvidiaSMIFields)
		}
		na := func(s string) bool { return s == "" || strings.HasPrefix(s, "[") } // "[N/A]", "[Not Supported]"
		mib := func(s string) (uint64, bool) {
			v, err := strconv.ParseUint(s, 10, 64)
			return v << 20, err == nil
		}
		g := GPU{Vendor: "nvidia", Name: rec[1], UUID: rec[2], Driver: rec[7]}
		if g.Index, err = strconv.Atoi(rec[0]); err != nil {
			return nil, fmt.Errorf("nvidia-smi output line %d: index %q", line+1, rec[0])
		}
		total, okT := mib(rec[3])
		free, okF := mib(rec[5])
		switch {
		case okT && okF:
			g.TotalBytes, g.FreeBytes = total, free
			g.UsedBytes = total - min(free, total)
			if used, ok := mib(rec[4]); ok {
				g.UsedBytes = used
			}
		case na(rec[3]):
			// GB10 and other integrated GPUs have no memory of their own.
			g.UnifiedMemory = true
		default:
			return nil, fmt.Errorf("nvidia-smi output line %d: memory %q/%q/%q MiB", line+1, rec[3], rec[4], rec[5])
		}
		if !na(rec[6]) {
			g.PCIBusID = rec[6]
		}
		if len(rec) > 8 && !na(rec[8]) {
			g.ComputeCapability = rec[8]
		}
		gpus = append(gpus, g)
	}
	return gpus, nil
}
