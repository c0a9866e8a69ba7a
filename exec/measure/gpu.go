package measure

// GPUMemory is the memory a process holds on one GPU.
type GPUMemory struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
	UUID  string `json:"uuid"`
	Bytes uint64 `json:"bytes"`
}

// GPUs reads per-process GPU memory. The NVML implementation (OpenNVML)
// asks the driver for every device's compute processes; in a container
// without the host's PID namespace the driver reports host PIDs, which then
// match no process here.
type GPUs interface {
	// ProcessMemory returns the memory pid holds on each GPU where it holds
	// any.
	ProcessMemory(pid int) ([]GPUMemory, error)
	Close()
}
