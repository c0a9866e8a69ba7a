// Command plan decides how a GGUF model should be placed on this machine (or
// an assumed one), prints why, and can run the plan. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/modelfit/modelfit/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
