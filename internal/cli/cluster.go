package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/modelfit/modelfit/exec/cluster"
	"github.com/modelfit/modelfit/exec/launch"
	"github.com/modelfit/modelfit/internal/units"
	"github.com/modelfit/modelfit/planner"
)

func init() {
	commands["cluster"] = command{run: runCluster, summary: "plan MODEL over --host machines on loopback, run each as ggml-rpc-server in a memory cgroup of its RAM with llama-server in front, complete a prompt and compare memory and speed with the plan"}
}

// clusterReport is the JSON of `plan cluster --json`.
type clusterReport struct {
	Schema     string                `json:"schema"`
	Hosts      []cluster.HostMeasure `json:"hosts"`
	Completion cluster.Completion    `json:"completion"`
	// PredictedDecode is the plan's decode speed; LoadAverage the machine's
	// one-minute load when measured (speeds mean little on a busy machine).
	PredictedDecode  float64 `json:"predicted_decode_tokens_per_second"`
	PredictedPrefill float64 `json:"predicted_prefill_tokens_per_second"`
	// LoadSeconds is llama-server's start until it served (sending the
	// weights to the servers), PredictedLoadSeconds the plan's.
	LoadSeconds          float64 `json:"load_seconds"`
	PredictedLoadSeconds float64 `json:"predicted_load_seconds"`
	LoadAverage          float64 `json:"load_average"`
	CPUs                 int     `json:"cpus"`
	Within               bool    `json:"within"`
}

const clusterHelp = `Plans the model over the hosts, starts one ggml-rpc-server per host on its loopback address
inside a memory cgroup as large as the host's RAM (root; cgroup v1 or v2), then llama-server
with --rpc, completes the prompt, and compares each server's memory (peak RSS, cgroup peak)
with the plan's range, and the decode and prefill speeds and the load time with the
prediction. Exit status: 0 within the plan, 1 outside it or on errors, 2 usage, 3 the plan
does not fit.`

func runCluster(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	set := newFlagSet("plan cluster", clusterHelp, "plan cluster [flags] MODEL.gguf --host NAME=RAM[@127.0.0.1:PORT] ...")
	var prompt, bin string
	var n int
	var noCgroup, asJSON bool
	set.stringVar(&prompt, "Once upon a time", groupGen, "TEXT", "the prompt", "-p", "--prompt")
	set.intVar(&n, 16, groupGen, "N", "tokens to generate", "-n", "--n-predict")
	set.stringVar(&bin, "", groupServer, "DIR", "directory with ggml-rpc-server and llama-server (default: where ggml-rpc-server is on PATH)", "--bin")
	set.boolVar(&noCgroup, groupServer, "run the servers without memory cgroups (no root needed; only their RSS is measured)", "--no-cgroup")
	set.boolVar(&asJSON, groupOutput, "print the measurements as JSON", "--json")
	pf := addPlanFlags(set)
	pf.llamaServer = true
	if code, ok := set.parse(args, stdout, stderr); !ok {
		return code
	}
	switch {
	case set.fs.NArg() == 0:
		return set.usageError(stderr, "no model given: plan cluster MODEL.gguf --host NAME=RAM ...")
	case set.fs.NArg() > 1:
		return set.usageError(stderr, "one model at a time, got %d: %s (quote a prompt with spaces)", set.fs.NArg(), strings.Join(set.fs.Args(), " "))
	case len(pf.cluster.hosts) == 0:
		return set.usageError(stderr, "no hosts: give at least one --host NAME=RAM")
	}
	model := set.fs.Arg(0)
	// Hosts without an address get a free loopback port.
	for i, h := range pf.cluster.hosts {
		at := strings.LastIndex(h, "@")
		if at >= 0 {
			if _, err := planner.ParseRPCAddr(h[at+1:]); err == nil {
				continue
			}
		}
		port, err := launch.FreePort("127.0.0.1")
		if err != nil {
			fmt.Fprintln(stderr, "plan cluster:", err)
			return ExitError
		}
		pf.cluster.hosts[i] = h + "@127.0.0.1:" + strconv.Itoa(port)
	}
	f, pl, code := pf.planOrReport(ctx, set, model, stderr)
	if pl == nil {
		return code
	}
	defer f.Close()
	if !pl.Fits {
		printPlan(stdout, pl)
		return ExitNoFit
	}
	dir := bin
	if dir == "" {
		p, err := exec.LookPath("ggml-rpc-server")
		if err != nil {
			return set.usageError(stderr, "ggml-rpc-server not on PATH: give --bin DIR")
		}
		dir = filepath.Dir(p)
	}
	c, err := cluster.Start(ctx, pl, cluster.Options{Bin: dir, Limit: !noCgroup})
	if err != nil {
		fmt.Fprintln(stderr, "plan cluster:", err)
		if errors.Is(err, cluster.ErrNoCgroup) {
			fmt.Fprintln(stderr, "plan cluster: run as root for the memory cgroups, or with --no-cgroup")
		}
		return ExitError
	}
	defer c.Close()
	comp, err := c.Complete(ctx, prompt, n)
	if err != nil {
		fmt.Fprintln(stderr, "plan cluster:", err)
		// A server the kernel killed for its memory is the likely cause.
		if ms, merr := c.Measure(); merr == nil {
			for _, m := range ms {
				if m.OOMKilled {
					fmt.Fprintf(stderr, "plan cluster: %s's ggml-rpc-server was killed for exceeding its %s (the plan: %s)\n", m.Name,
						units.Bytes(m.LimitBytes), units.Bytes(m.PredictedPeakBytes))
				}
			}
		}
		return ExitError
	}
	ms, err := c.Measure()
	if err != nil {
		fmt.Fprintln(stderr, "plan cluster:", err)
		return ExitError
	}
	rep := clusterReport{Schema: "cluster/v1", Hosts: ms, Completion: comp, PredictedDecode: pl.Predicted.DecodeTokensPerSecond, PredictedPrefill: pl.Predicted.PrefillTokensPerSecond,
		LoadSeconds: c.LoadTime().Seconds(), PredictedLoadSeconds: pl.Predicted.LoadSeconds, LoadAverage: loadAverage(), CPUs: runtime.NumCPU(), Within: true}
	var problems []string
	for _, m := range ms {
		if err := m.Check(); err != nil {
			rep.Within = false
			problems = append(problems, err.Error())
		}
	}
	if asJSON {
		if err := writeJSON(stdout, rep); err != nil {
			fmt.Fprintln(stderr, err)
			return ExitError
		}
	} else {
		printCluster(stdout, rep)
	}
	for _, p := range problems {
		fmt.Fprintln(stderr, p)
	}
	if !rep.Within {
		return ExitError
	}
	return ExitOK
}

func printCluster(w io.Writer, r clusterReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "host\tplanned\trange\tpeak RSS\tcgroup peak\tcompute (llama-server / plan)\t")
	for _, m := range r.Hosts {
		cg := "-"
		if m.Cgroup != nil {
			cg = units.Bytes(m.Cgroup.PeakBytes)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s – %s\t%s\t%s\t%s / %s\t\n", m.Name, units.Bytes(m.PredictedBytes), units.Bytes(m.PredictedLowBytes), units.Bytes(m.PredictedHighBytes),
			units.Bytes(m.PeakRSSBytes), cg, units.Bytes(m.Buffers.ComputeBytes), units.Bytes(m.Planned.ComputeBytes))
	}
	tw.Flush()
	c := r.Completion
	fmt.Fprintf(w, "completion %q\n", c.Content)
	fmt.Fprintf(w, "decode %s tok/s measured, %s predicted; prefill %s tok/s measured (%d tokens), %s predicted", units.Number(c.DecodeTokensPerSecond), units.Number(r.PredictedDecode), units.Number(c.PrefillTokensPerSecond), c.PromptTokens, units.Number(r.PredictedPrefill))
	if r.LoadAverage > float64(r.CPUs)/2 {
		fmt.Fprintf(w, " — the machine was busy (load %.1f on %d CPUs): the speed says little", r.LoadAverage, r.CPUs)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "load %s s measured, %s predicted\n", units.Number(r.LoadSeconds), units.Number(r.PredictedLoadSeconds))
	fmt.Fprintln(w, "(the servers listened on loopback without authentication: any local user could reach them while they ran)")
	if r.Within {
		fmt.Fprintln(w, "WITHIN THE PLAN")
	} else {
		fmt.Fprintln(w, "OUTSIDE THE PLAN")
	}
}

// loadAverage is the one-minute load average (0 when unknown).
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	l, _ := strconv.ParseFloat(f[0], 64)
	return l
}
