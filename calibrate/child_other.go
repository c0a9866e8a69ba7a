//go:build !linux

package calibrate

import "os/exec"

// dieWithParent: only Linux can tie a child's life to its parent; the
// context still kills it when the calibration is cancelled.
func dieWithParent(cmd *exec.Cmd) *exec.Cmd { return cmd }
