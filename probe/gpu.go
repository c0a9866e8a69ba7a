package probe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// NVML is the part of NVIDIA's management library the probe uses, behind our
// own interface so that go-nvml's types stay out of the API and tests can use
// its mock servers. Devices is called only after Init succeeded: after a
// failed init, any other NVML call kills the process.
type NVML interface {
	Init() error
	Shutdown()
	// Devices lists every GPU in NVML index order, with the driver and CUDA
	// versions.
	Devices() (gpus []GPU, driver, cuda string, err error)
}

// readGPUs lists NVIDIA GPUs through NVML (or, where NVML cannot be used,
// nvidia-smi), AMD GPUs through sysfs and the platform's own GPU (Apple
// Silicon's), filtered by CUDA_VISIBLE_DEVICES / HIP_VISIBLE_DEVICES. The
// note says why none were found; the probe never fails for that.
// A unified-memory NVIDIA GPU gets the host's total and effective available
// memory.
func readGPUs(ctx context.Context, o *Options, host *Memory) ([]GPU, string) {
	var notes []string
	gpus := []GPU{}
	lib := o.NVML
	if lib == nil {
		lib = defaultNVML()
	}
	var nv []GPU
	var driver, cuda string
	var devErr error
	nvmlErr := lib.Init()
	if nvmlErr == nil {
		nv, driver, cuda, devErr = lib.Devices()
		lib.Shutdown()
		if devErr != nil {
			notes = append(notes, "no NVIDIA GPUs: "+devErr.Error())
		}
	} else if smi, err := nvidiaSMI(ctx, o); err == nil {
		nv = smi
		if len(nv) > 0 {
			driver = nv[0].Driver
		}
		notes = append(notes, "NVIDIA GPUs from nvidia-smi (NVML: "+nvmlErr.Error()+")")
	} else {
		notes = append(notes, "no NVIDIA GPUs: "+nvmlErr.Error())
		if o.NvidiaSMI != nil || o.Root == "" && o.NVML == nil {
			notes = append(notes, "fallback: "+err.Error())
		}
	}
	if nvmlErr == nil || len(nv) > 0 {
		for i := range nv {
			nv[i].Vendor, nv[i].Driver, nv[i].CUDAVersion = "nvidia", driver, cuda
			if nv[i].UnifiedMemory {
				nv[i].TotalBytes, nv[i].FreeBytes = host.TotalBytes, host.EffectiveAvailableBytes
				nv[i].UsedBytes = host.TotalBytes - min(host.EffectiveAvailableBytes, host.TotalBytes)
			}
		}
		nv = visible(nv, o.getenv("CUDA_VISIBLE_DEVICES"))
		if len(nv) == 0 && devErr == nil {
			notes = append(notes, "no NVIDIA GPUs visible (CUDA_VISIBLE_DEVICES="+o.getenv("CUDA_VISIBLE_DEVICES")+")")
		}
		gpus = append(gpus, nv...)
	}
	amd := visible(readAMD(o), o.getenv("HIP_VISIBLE_DEVICES"))
	gpus = append(gpus, amd...)
	if o.Root == "" {
		own, note := platformGPUs(ctx, o, host)
		gpus = append(gpus, own...)
		if note != "" {
			notes = append(notes, note)
		}
	}
	if len(gpus) > 0 {
		return gpus, ""
	}
	return gpus, strings.Join(notes, "; ")
}

// nvidiaSMI runs the nvidia-smi fallback: the test's hook, or the real
// command when probing the real machine.
func nvidiaSMI(ctx context.Context, o *Options) ([]GPU, error) {
	run := o.NvidiaSMI
	if run == nil {
		if o.Root != "" || o.NVML != nil {
			return nil, errors.New("nvidia-smi not consulted for fixtures")
		}
		run = runNvidiaSMI
	}
	out, err := run(ctx)
	if err != nil {
		return nil, err
	}
	return parseNvidiaSMI(out)
}

// visible applies a CUDA/HIP_VISIBLE_DEVICES list of indices or UUIDs
// (prefixes allowed, as CUDA does) and renumbers the result as the runtime will.
func visible(gpus []GPU, spec string) []GPU {
	if len(gpus) == 0 {
		return gpus
	}
	if spec == "" {
		return gpus
	}
	var out []GPU
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			break
		}
		var pick *GPU
		if n, err := strconv.Atoi(item); err == nil {
			if n < 0 || n >= len(gpus) {
				break // CUDA ignores the rest of the list after an invalid entry
			}
			pick = &gpus[n]
		} else {
			for i := range gpus {
				if gpus[i].UUID != "" && strings.HasPrefix(gpus[i].UUID, item) {
					pick = &gpus[i]
					break
				}
			}
			if pick == nil {
				break
			}
		}
		g := *pick
		g.Index = len(out)
		out = append(out, g)
	}
	return out
}

// readAMD reads AMD GPUs' VRAM from the amdgpu driver's sysfs files.
func readAMD(o *Options) []GPU {
	cards, _ := filepath.Glob(o.path("/sys/class/drm/card[0-9]*/device/mem_info_vram_total"))
	sort.Strings(cards)
	var gpus []GPU
	for _, p := range cards {
		dev := filepath.Dir(p)
		total, ok := readUint(p)
		if !ok || total == 0 {
			continue
		}
		used, _ := readUint(filepath.Join(dev, "mem_info_vram_used"))
		g := GPU{Index: len(gpus), Vendor: "amd", TotalBytes: total, UsedBytes: used}
		if used <= total {
			g.FreeBytes = total - used
		}
		g.Name = readString(filepath.Join(dev, "product_name"))
		if g.Name == "" {
			g.Name = "AMD GPU " + readString(filepath.Join(dev, "device"))
		}
		if link, err := os.Readlink(dev); err == nil {
			g.PCIBusID = filepath.Base(link)
		}
		gpus = append(gpus, g)
	}
	return gpus
}

// bandwidth derives peak memory bandwidth from bus width (bits) and memory
// clock (MHz): double data rate, bytes per transfer = width/8.
func bandwidth(busWidth, clockMHz uint32) float64 {
	return float64(busWidth) / 8 * float64(clockMHz) * 1e6 * 2
}

// errNoNVML is the note when the module was built without cgo.
var errNoNVML = fmt.Errorf("NVML needs cgo; this binary was built with CGO_ENABLED=0")
