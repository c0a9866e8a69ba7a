package launch

import "errors"

// Cgroup is a memory cgroup: one a process is in (CgroupOf) or one made for
// a child (NewCgroup), read through the v1 or v2 interface files.
type Cgroup struct {
	Version int    // 1 or 2
	Dir     string // the memory controller's directory
	// Dirs are all the directories to start a process in (Command.Cgroups):
	// Dir, and for v1 the cpu hierarchy's when one was made.
	Dirs []string
	made bool
}

// ErrNoCgroup is matched when no usable memory cgroup hierarchy is mounted
// (always, outside Linux).
var ErrNoCgroup = errors.New("no memory cgroup")
