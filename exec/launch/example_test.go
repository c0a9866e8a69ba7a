package launch_test

import (
	"context"
	"log"
	"time"

	"github.com/modelfit/modelfit/exec/launch"
)

// Start a helper server that dies with this process, inside a memory
// cgroup, and wait until it answers. (Not run as a test: it needs the
// binary.)
func ExampleStart() {
	cg, err := launch.NewCgroup("rpc-worker", 8<<30) // optional: needs the right to make cgroups
	if err != nil {
		log.Fatal(err)
	}
	defer cg.Remove()
	p, err := launch.Start(context.Background(), launch.Command{
		Path:         "ggml-rpc-server",
		Args:         []string{"-H", "127.0.0.1", "-p", "50052"},
		Cgroups:      cg.Dirs,
		Ready:        launch.TCPReady("127.0.0.1:50052"),
		ReadyTimeout: time.Minute,
	})
	if err != nil {
		log.Fatal(err) // a *launch.NotReadyError holds the process's log
	}
	defer p.Close() // SIGTERM to the group, SIGKILL after the grace period
}
