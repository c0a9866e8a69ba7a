package launch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The thread that starts a child in a v1 cgroup leaves it once the child
// runs: the goroutine may run on the main thread, which outlives it, and a
// cgroup with a thread of ours in it can be neither removed nor trusted to
// charge only the child.
func TestCgroupThreadLeaves(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot make a memory cgroup")
	}
	for i := range 5 {
		cg, err := NewCgroup(fmt.Sprintf("modelfit-launch-thread-%d-%d", os.Getpid(), i), 0)
		if err != nil {
			t.Skipf("cannot make a memory cgroup here: %v", err)
		}
		p, err := Start(context.Background(), Command{Path: "/bin/sh", Args: []string{"-c", "exit 0"}, Cgroups: cg.Dirs})
		if err != nil {
			cg.Remove()
			t.Fatal(err)
		}
		p.Wait()
		procs, _ := os.ReadFile(filepath.Join(cg.Dir, "cgroup.procs"))
		if err := cg.Remove(); err != nil || strings.TrimSpace(string(procs)) != "" {
			t.Fatalf("start %d: the cgroup holds %q after its process exited: %v", i, procs, err)
		}
	}
}
