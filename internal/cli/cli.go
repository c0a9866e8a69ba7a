// Package cli implements the plan command; cmd/plan is a thin main over Run.
package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
)

// Exit statuses of the plan command.
const (
	ExitOK    = 0 // done; for a plan: it fits
	ExitError = 1 // unreadable model, probe failure, …
	ExitUsage = 2 // bad flags or arguments
	ExitNoFit = 3 // the model does not fit (the nearest plan is still printed)
)

// command runs one subcommand with its arguments.
type command struct {
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
	summary string
}

// commands is filled by each subcommand's file.
var commands = map[string]command{}

// defaultCommand runs when the first argument is not a subcommand (the dry-run plan).
var defaultCommand = ""

// Run runs the plan command with args (without the program name) and returns
// the exit status.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if c, ok := commands[args[0]]; ok {
			return c.run(ctx, args[1:], stdout, stderr)
		}
		if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
			usage(stdout)
			return ExitOK
		}
	}
	if c, ok := commands[defaultCommand]; ok && defaultCommand != "" {
		return c.run(ctx, args, stdout, stderr)
	}
	usage(stderr)
	return ExitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: plan COMMAND [flags] MODEL|URL")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
}
