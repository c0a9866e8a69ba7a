// Package cli implements the plan command; cmd/plan is a thin main over Run.
package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Exit statuses of the plan command.
const (
	ExitOK    = 0 // done; for a plan: it runs (in memory or paging from disk)
	ExitError = 1 // unreadable model, probe failure, …
	ExitUsage = 2 // bad flags or arguments: the first line on stderr says what
	ExitNoFit = 3 // the model does not fit, or runs slower than --min-tok-s (the plan is still printed)
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
		if c, ok := commands[args[0]]; ok && args[0] != defaultCommand {
			return c.run(ctx, args[1:], stdout, stderr)
		}
		if args[0] == "help" {
			// plan help [COMMAND]: that command's help.
			if len(args) > 1 {
				if c, ok := commands[args[1]]; ok {
					return c.run(ctx, []string{"-h"}, stdout, stderr)
				}
				fmt.Fprintf(stderr, "plan: no command %q\nrun 'plan -h' for the commands\n", args[1])
				return ExitUsage
			}
			args = []string{"-h"}
		}
	}
	return commands[defaultCommand].run(ctx, args, stdout, stderr)
}

// printCommands lists the subcommands, for `plan -h`.
func printCommands(w io.Writer) {
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	width := len("help")
	for _, n := range names {
		width = max(width, len(n))
	}
	wr := &wrapper{w: w, width: textWidth}
	for _, n := range names {
		if n == defaultCommand {
			continue
		}
		wr.para(fmt.Sprintf("  %-*s  ", width, n), strings.Repeat(" ", width+4), commands[n].summary)
	}
	wr.para(fmt.Sprintf("  %-*s  ", width, "help"), "", "plan help COMMAND: that command's flags")
	fmt.Fprintln(w, "\nThe flags below are the dry run's (the default command); every command that plans\n(run, serve, verify, cluster) takes them too.")
}
