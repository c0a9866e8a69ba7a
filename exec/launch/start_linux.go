package launch

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// start starts p.cmd from a goroutine locked to its own OS thread, which
// then waits for the child and exits with it.
//
// The thread matters twice. Linux sends Pdeathsig when the thread that
// forked the child exits, not the process (golang.org/issue/27505); a
// dedicated thread that lives exactly as long as the child makes the signal
// mean "the parent process died". And cgroup v1 lets one thread join a
// cgroup by writing its id to the cgroup's tasks file: the child forked from
// that thread starts inside the cgroup, with no window in which it runs (and
// allocates) outside it. The thread is never handed back to the scheduler.
func start(p *Process, cgroups []string) error {
	errc := make(chan error, 1)
	go startLocked(p, cgroups, errc)
	return <-errc
}

// startLocked is start's goroutine: it locks its thread, starts the child
// from it, sends the start's result on errc and waits for the child.
func startLocked(p *Process, cgroups []string, errc chan<- error) {
	runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
	if unix.Gettid() == unix.Getpid() {
		// The main thread cannot end (the runtime parks it), and moving
		// it into a v1 cgroup would move the whole process as the kernel
		// sees it: /proc/PID/cgroup and, in v1, every memory charge
		// (they follow the thread-group leader, mm->owner). Holding it,
		// start from another goroutine, which therefore gets another
		// thread, then hand the main thread back.
		inner := make(chan error, 1)
		go startLocked(p, cgroups, inner)
		err := <-inner
		runtime.UnlockOSThread()
		errc <- err
		return
	}
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	fd, err := joinCgroups(attr, cgroups)
	if err != nil {
		errc <- err
		return
	}
	p.cmd.SysProcAttr = attr
	oomBefore := systemOOMKills()
	memcg := ""
	if len(cgroups) > 0 {
		memcg = memoryDirOf(cgroups)
	} else if cg, err := CgroupOf(os.Getpid()); err == nil {
		memcg = cg.Dir
	}
	cgBefore, _ := oomKillsIn(memcg)
	err = p.cmd.Start()
	if fd >= 0 {
		unix.Close(fd)
	}
	if err != nil {
		errc <- err
		return
	}
	p.started = time.Now()
	errc <- nil
	werr := p.cmd.Wait()
	// Whatever the process left in its group dies with it.
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	p.state = p.cmd.ProcessState
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		p.err = werr
	}
	if ws, ok := p.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		cgAfter, cgErr := oomKillsIn(memcg)
		p.oom = systemOOMKills() > oomBefore || cgErr == nil && cgAfter > cgBefore
	}
	close(p.done)
}

// joinCgroups arranges for the child to start in the cgroups: a v2
// directory through clone3's CLONE_INTO_CGROUP (the returned descriptor must
// be closed after the start), v1 directories by moving this thread there.
func joinCgroups(attr *syscall.SysProcAttr, dirs []string) (int, error) {
	fd := -1
	tid := strconv.Itoa(unix.Gettid())
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "cgroup.controllers")); err == nil {
			if fd >= 0 {
				unix.Close(fd)
				return -1, fmt.Errorf("cgroups %v: at most one cgroup v2 directory", dirs)
			}
			var err error
			if fd, err = unix.Open(d, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
				return -1, fmt.Errorf("cgroup %s: %w", d, err)
			}
			attr.UseCgroupFD, attr.CgroupFD = true, fd
			continue
		}
		if err := os.WriteFile(filepath.Join(d, "tasks"), []byte(tid), 0); err != nil {
			if fd >= 0 {
				unix.Close(fd)
			}
			return -1, fmt.Errorf("cgroup %s: %w", d, err)
		}
	}
	return fd, nil
}

// signalGroup sends sig to the process's group (the process leads it).
func signalGroup(p *os.Process, sig syscall.Signal) {
	if err := syscall.Kill(-p.Pid, sig); err != nil {
		p.Signal(sig)
	}
}
