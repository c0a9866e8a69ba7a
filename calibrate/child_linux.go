package calibrate

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill the child when this process dies,
// even by SIGKILL, so that no llama-bench outlives a killed calibration.
func dieWithParent(cmd *exec.Cmd) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}
