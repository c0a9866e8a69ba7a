//go:build !linux

package cluster

import "os/exec"

func detach(cmd *exec.Cmd) {}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		cmd.Process.Kill()
	}
}

// supported: the local cluster needs Linux (process groups that die with
// the parent, memory cgroups).
const supported = false
