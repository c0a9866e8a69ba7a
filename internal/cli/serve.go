package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/modelfit/modelfit/exec/llamaserver"
)

func init() {
	commands["serve"] = command{run: runServe, summary: "plan MODEL and serve it with llama-server (OpenAI-compatible) until Ctrl-C"}
}

const serveHelp = `Plans the model for this machine and serves it with llama-server, started with the plan's
arguments: prints the endpoint and the plan's memory, streams the server's log with -v, and
stops the server on Ctrl-C. A plan that does not fit (or is below --min-tok-s) is not
started (exit 3).`

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	set := newFlagSet("plan serve", serveHelp+"\n\n"+serveManyHelp, "plan serve [flags] MODEL.gguf", "plan serve [flags] [ALIAS=]MODEL.gguf... [--models DIR]")
	var port int
	var listen string
	set.intVar(&port, 0, groupServer, "N", "port to listen on (default: a free one)", "--port")
	set.stringVar(&listen, "127.0.0.1", groupServer, "ADDR", "address to listen on (llama-server's --host; --host names RPC hosts here)", "--listen")
	sf := addServerFlags(set)
	mf := addServeManyFlags(set)
	pf := addPlanFlags(set)
	pf.llamaServer = true
	if code, ok := set.parse(args, stdout, stderr); !ok {
		return code
	}
	if set.fs.NArg() > 1 || mf.dir != "" {
		return runServeMany(ctx, set, pf, sf, mf, listen, port, stdout, stderr)
	}
	switch {
	case set.fs.NArg() == 0:
		return set.usageError(stderr, "no model given: plan serve MODEL.gguf")
	case set.fs.NArg() > 1:
		return set.usageError(stderr, "one model at a time, got %d: %s", set.fs.NArg(), strings.Join(set.fs.Args(), " "))
	case isURL(set.fs.Arg(0)):
		return set.usageError(stderr, "%s: plan serve runs a local file; download it first (plan %s plans it without downloading)", set.fs.Arg(0), set.fs.Arg(0))
	case port < 0 || port > 65535:
		return set.usageError(stderr, "--port %d: want 0 to 65535", port)
	}
	model := set.fs.Arg(0)
	f, pl, code := pf.planOrReport(ctx, set, model, stderr)
	if pl == nil {
		return code
	}
	f.Close()
	if code, ok := localOnly(set, pl, stderr); !ok {
		return code
	}
	fmt.Fprintln(stdout, serverSummary(model, pl))
	fmt.Fprintln(stdout, memoryLine(pl))
	if !pl.Fits {
		fmt.Fprintf(stderr, "plan serve: DOES NOT FIT, not started: %v\n", pl.NoFit)
		return ExitNoFit
	}
	if why := pf.slow(pl); why != "" {
		fmt.Fprintf(stderr, "plan serve: %s: not started\n", why)
		return ExitNoFit
	}
	opts, err := sf.options(stderr)
	if err != nil {
		return serverError(stderr, "plan serve", err)
	}
	opts.Host, opts.Port = listen, port
	srv, err := llamaserver.Start(ctx, pl, opts)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "plan serve: stopped while loading")
			return ExitOK
		}
		return serverError(stderr, "plan serve", err)
	}
	defer srv.Close()
	fmt.Fprintf(stdout, "serving %s: OpenAI-compatible at %s/v1 (chat/completions, completions, models), llama.cpp's own at %s/completion\n",
		pl.Model.Path, srv.URL, srv.URL)
	fmt.Fprintf(stdout, "llama-server pid %d, loaded in %.1f s; Ctrl-C stops it\n", srv.Process.PID(), srv.LoadTime().Seconds())
	select {
	case <-ctx.Done():
		if err := srv.Close(); err != nil {
			fmt.Fprintln(stderr, "plan serve:", err)
			return ExitError
		}
		fmt.Fprintln(stdout, "stopped")
		return ExitOK
	case <-srv.Process.Done():
		if ctx.Err() != nil { // stopped by the context's end, as Ctrl-C does
			fmt.Fprintln(stdout, "stopped")
			return ExitOK
		}
		err := srv.Wait()
		if err == nil {
			err = errors.New("llama-server exited")
		}
		return serverError(stderr, "plan serve", err)
	}
}
