//go:build unix && !linux

package launch

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// start starts p.cmd in its own process group. Outside Linux there is no
// Pdeathsig: the group is killed by Close and when the context ends, not
// when this process is killed outright.
func start(p *Process, cgroups []string) error {
	if len(cgroups) > 0 {
		return fmt.Errorf("cgroups: %w", ErrNoCgroup)
	}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		return err
	}
	p.started = time.Now()
	go func() {
		werr := p.cmd.Wait()
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		p.state = p.cmd.ProcessState
		var ee *exec.ExitError
		if werr != nil && !errors.As(werr, &ee) {
			p.err = werr
		}
		close(p.done)
	}()
	return nil
}

func signalGroup(p *os.Process, sig syscall.Signal) {
	if err := syscall.Kill(-p.Pid, sig); err != nil {
		p.Signal(sig)
	}
}
