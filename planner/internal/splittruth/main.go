//go:build linux

// Command splittruth measures the compute buffer of every device when
// upstream llama.cpp splits a model over several devices, and writes the
// planner's ground truth for split graphs, testdata/planner/zoo/rpc-b<N>.csv.
//
//	go run ./planner/internal/splittruth                 # one layout per architecture
//	go run ./planner/internal/splittruth -only '^qwen3-'  # those layouts only
//
// The devices are ggml-rpc-server processes (the shared build's CPU
// backend) on this machine: the head's llama-fit-params gives each of them
// its split of the graph, as it would a GPU, and logs each device's
// compute buffer (sched_reserve) without reading weights (no_alloc). Each
// layout is written as a sparse file (header, then a hole). Run it by hand:
// it needs the shared tools; the tests only read the CSV it writes.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/modelfit/modelfit/internal/layouts"
	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/planner/internal/zoo"
)

func main() {
	bin := flag.String("bin", filepath.Join(testutil.Root(), "..", "shared", "tools", "llama.cpp", "bin"), "llama.cpp tools")
	out := flag.String("o", zoo.SplitFile(), "CSV to write")
	only := flag.String("only", "", "measure only the layouts whose id matches this regexp")
	flag.Parse()
	if err := run(*bin, *out, *only); err != nil {
		fmt.Fprintln(os.Stderr, "splittruth:", err)
		os.Exit(1)
	}
}

func run(bin, out, only string) error {
	var re *regexp.Regexp
	if only != "" {
		var err error
		if re, err = regexp.Compile(only); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp("", "splittruth-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Three servers; a row uses the first len(ts) of them.
	var hosts []string
	for range 3 {
		h, err := startServer(ctx, bin)
		if err != nil {
			return err
		}
		hosts = append(hosts, h)
	}
	// One layout per architecture (the first the zoo lists).
	seen := map[string]bool{}
	var rows []zoo.SplitRow
	for _, s := range layouts.Zoo() {
		if seen[s.Arch] || re != nil && !re.MatchString(s.ID) {
			continue
		}
		seen[s.Arch] = true
		l, err := layouts.Build(s)
		if err != nil {
			return err
		}
		hdr, size, err := l.Header()
		if err != nil {
			return err
		}
		p := filepath.Join(dir, s.ID+".gguf")
		if err := os.WriteFile(p, hdr, 0o644); err != nil {
			return err
		}
		if err := os.Truncate(p, int64(len(hdr))+int64(size)); err != nil {
			return err
		}
		for _, st := range zoo.SplitSamples(s.Layers) {
			// A server that dropped the connection leaves a log without
			// the buffers: measure again.
			var r zoo.SplitRow
			for range 3 {
				if r = measure(ctx, bin, p, hosts[:len(st.TS)], st); r.Error == "" {
					break
				}
			}
			r.Layout = s.ID
			fmt.Fprintf(os.Stderr, "%s %v: %v %v %s\n", s.ID, st.TS, r.Layers, r.Compute, r.Error)
			rows = append(rows, r)
		}
		os.Remove(p)
	}
	var buf bytes.Buffer
	if err := zoo.WriteSplit(&buf, rows); err != nil {
		return err
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}

// startServer starts a ggml-rpc-server on a free local port; it dies with
// ctx (and with this process: Pdeathsig).
func startServer(ctx context.Context, bin string) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "ggml-rpc-server"), "-H", "127.0.0.1", "-p", port)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	go cmd.Wait()
	for range 50 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", fmt.Errorf("ggml-rpc-server on %s did not start", addr)
}

var (
	assignedRE = regexp.MustCompile(`layer +(\d+) assigned to device (\S+?),`)
	computeRE  = regexp.MustCompile(`sched_reserve: +(\S+) compute buffer size = +([0-9.]+) MiB`)
)

// measure runs llama-fit-params over the hosts and parses the layers each
// device got and each device's compute buffer.
func measure(ctx context.Context, bin, path string, hosts []string, s zoo.SplitSettings) zoo.SplitRow {
	r := zoo.SplitRow{SplitSettings: s, Build: zoo.Build, Command: zoo.SplitCommand(filepath.Base(path), s)}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	args := append([]string{"-m", path, "--fit-print", "on", "-v", "-t", "1", "--rpc", strings.Join(hosts, ",")}, s.Args()...)
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "llama-fit-params"), args...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	err := cmd.Run()
	n := len(hosts) + 1 // the RPC devices, then the CPU
	r.Layers = make([]int, n)
	r.Compute = make([]float64, n)
	for _, m := range assignedRE.FindAllStringSubmatch(log.String(), -1) {
		d := n - 1
		if k, ok := strings.CutPrefix(m[2], "RPC"); ok {
			d, _ = strconv.Atoi(k)
		}
		if d >= 0 && d < n {
			r.Layers[d]++
		}
	}
	found := false
	for _, m := range computeRE.FindAllStringSubmatch(log.String(), -1) {
		d := n - 1
		if m[1] != "CPU" {
			d = -1
			for i, h := range hosts {
				if strings.HasSuffix(m[1], "["+h+"]") {
					d = i
				}
			}
		}
		if d >= 0 {
			r.Compute[d], _ = strconv.ParseFloat(m[2], 64)
			found = true
		}
	}
	switch {
	case err != nil:
		r.Error = err.Error()
	case !found:
		r.Error = "no compute buffer in the log"
	}
	return r
}
