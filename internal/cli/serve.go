package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/modelfit/modelfit/exec/llamaserver"
)

func init() {
	commands["serve"] = command{run: runServe, summary: "plan MODEL and serve it with llama-server (OpenAI-compatible) until Ctrl-C"}
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pf := addPlanFlags(fs)
	sf := addServerFlags(fs)
	port := fs.Int("port", 0, "port to listen on (default: a free one)")
	listen := fs.String("listen", "127.0.0.1", "address to listen on (llama-server's --host; --host names RPC hosts here)")
	mf := addServeManyFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: plan serve [flags] MODEL.gguf\n       plan serve [flags] [ALIAS=]MODEL.gguf... [--models DIR]\n\nPlans the model for this machine and serves it with llama-server, started with the\nplan's arguments: prints the endpoint and the plan's memory, streams the server's log\nwith -v, and stops the server on Ctrl-C. A plan that does not fit is not started (exit 3).\n\nWith several models (or --models) it serves them all behind one OpenAI-compatible\nendpoint, routed by the request's \"model\" (the file name without .gguf, or ALIAS):\neach model's llama-server starts on its first request with the plan the residency\nplanner makes next to the models already loaded, which evicts the least recently\nused when there is no room and unloads idle models after --keep-alive. GET /status\nshows the models, their plans and measured memory, and the decisions with reasons.\n\nflags:")
		printFlags(stderr, fs)
	}
	if err := fs.Parse(reorderFlags(fs, args)); err != nil {
		return ExitUsage
	}
	if fs.NArg() > 1 || mf.dir != "" {
		return runServeMany(ctx, pf, sf, mf, fs.Args(), *listen, *port, stdout, stderr)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return ExitUsage
	}
	if isURL(fs.Arg(0)) {
		fmt.Fprintln(stderr, "plan serve: the model must be a local file")
		return ExitUsage
	}
	f, pl, err := pf.plan(ctx, fs.Arg(0))
	var ue usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "plan serve:", err)
		return ExitUsage
	case pl == nil:
		fmt.Fprintln(stderr, "plan serve:", err)
		return ExitError
	}
	f.Close()
	if len(pl.Hosts) > 0 {
		fmt.Fprintln(stderr, "plan serve: runs a plan on this machine only; run a plan over hosts with plan cluster or the printed commands")
		return ExitUsage
	}
	fmt.Fprintln(stdout, serverSummary(fs.Arg(0), pl))
	fmt.Fprintln(stdout, memoryLine(pl))
	if !pl.Fits {
		fmt.Fprintf(stderr, "plan serve: DOES NOT FIT, not started: %v\n", pl.NoFit)
		return ExitNoFit
	}
	opts, err := sf.options(stderr)
	if err != nil {
		return serverError(stderr, "plan serve", err)
	}
	opts.Host, opts.Port = *listen, *port
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
