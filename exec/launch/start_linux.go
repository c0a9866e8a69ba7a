package launch

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
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
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		fd, back, err := joinCgroups(attr, cgroups)
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
		// The goroutine may run on the main thread, which the runtime never
		// ends: move the thread back out of the child's cgroups, so that they
		// can be removed and this process's allocations are not charged to
		// them.
		back()
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
	}()
	return <-errc
}

// joinCgroups arranges for the child to start in the cgroups: a v2
// directory through clone3's CLONE_INTO_CGROUP (the returned descriptor must
// be closed after the start), v1 directories by moving this thread there;
// back moves the thread back to the v1 cgroups it came from.
func joinCgroups(attr *syscall.SysProcAttr, dirs []string) (fd int, back func(), err error) {
	fd = -1
	var origins []string
	back = func() {
		for _, o := range origins {
			os.WriteFile(filepath.Join(o, "tasks"), []byte(strconv.Itoa(unix.Gettid())), 0)
		}
	}
	tid := strconv.Itoa(unix.Gettid())
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "cgroup.controllers")); err == nil {
			if fd >= 0 {
				unix.Close(fd)
				return -1, back, fmt.Errorf("cgroups %v: at most one cgroup v2 directory", dirs)
			}
			var err error
			if fd, err = unix.Open(d, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
				return -1, back, fmt.Errorf("cgroup %s: %w", d, err)
			}
			attr.UseCgroupFD, attr.CgroupFD = true, fd
			continue
		}
		if o := threadCgroupV1(d); o != "" {
			origins = append(origins, o)
		}
		if err := os.WriteFile(filepath.Join(d, "tasks"), []byte(tid), 0); err != nil {
			if fd >= 0 {
				unix.Close(fd)
			}
			back()
			return -1, back, fmt.Errorf("cgroup %s: %w", d, err)
		}
	}
	return fd, back, nil
}

// threadCgroupV1 is the directory of the v1 hierarchy holding dir that this
// thread is in now ("" when it cannot be told): the hierarchy is mounted at
// /sys/fs/cgroup/NAME, NAME being its controllers ("memory", "cpu,cpuacct").
func threadCgroupV1(dir string) string {
	rel, err := filepath.Rel(cgroupRoot, dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		return ""
	}
	mount := strings.SplitN(rel, string(filepath.Separator), 2)[0]
	data, err := os.ReadFile("/proc/thread-self/cgroup")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && parts[1] == mount {
			return existing(filepath.Join(cgroupRoot, mount), parts[2])
		}
	}
	return ""
}

// signalGroup sends sig to the process's group (the process leads it).
func signalGroup(p *os.Process, sig syscall.Signal) {
	if err := syscall.Kill(-p.Pid, sig); err != nil {
		p.Signal(sig)
	}
}
