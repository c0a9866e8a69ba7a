//go:build !(linux && cgo) && !windows

package probe

// noNVML stands in where go-nvml cannot be built.
type noNVML struct{}

func defaultNVML() NVML { return noNVML{} }

func (noNVML) Init() error                             { return errNoNVML }
func (noNVML) Shutdown()                               {}
func (noNVML) Devices() ([]GPU, string, string, error) { return nil, "", "", errNoNVML }
