package launch

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// start starts p.cmd. Windows has neither process groups that can be
// signalled nor Pdeathsig: Close and the context's end kill the process
// itself.
func start(p *Process, cgroups []string) error {
	if len(cgroups) > 0 {
		return fmt.Errorf("cgroups: %w", ErrNoCgroup)
	}
	if err := p.cmd.Start(); err != nil {
		return err
	}
	p.started = time.Now()
	go func() {
		werr := p.cmd.Wait()
		p.state = p.cmd.ProcessState
		var ee *exec.ExitError
		if werr != nil && !errors.As(werr, &ee) {
			p.err = werr
		}
		close(p.done)
	}()
	return nil
}

// signalGroup kills the process: Windows cannot deliver SIGTERM.
func signalGroup(p *os.Process, sig syscall.Signal) { p.Kill() }
