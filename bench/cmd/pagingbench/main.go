// Command pagingbench measures decoding a model larger than the memory it
// may use: each run starts from a cold page cache for the model file
// (POSIX_FADV_DONTNEED on that file only) inside a fresh cgroup v1 memory
// controller with the given limit, and decodes -n tokens after a one-token
// prompt. It compares, interleaved, run by run:
//
//   - the engine with the streaming policy (planner.Settings.StreamWeights);
//   - the engine paging on demand through its plain mapping;
//   - llama.cpp's llama-server with --no-repack and mmap (its default
//     repacking copies the weights into anonymous memory and is OOM-killed).
//
// It needs root and a writable /sys/fs/cgroup/memory (cgroup v1).
//
//	cd bench && go run ./cmd/pagingbench -model /tmp/engine-layouts/llama-8B-Q4_K_M.gguf
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	mexec "github.com/modelfit/modelfit/exec"
	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/planner"
	"golang.org/x/sys/unix"
)

const cgroupRoot = "/sys/fs/cgroup/memory"

func main() {
	var (
		model   = flag.String("model", "", "model file")
		limit   = flag.String("limit", "2GiB", "cgroup memory limit")
		nGen    = flag.Int("n", 16, "tokens to decode")
		runs    = flag.Int("runs", 2, "interleaved runs of each side")
		threads = flag.Int("t", 2, "threads")
		sides   = flag.String("sides", "stream,llama,mmap", "what to run: stream (engine, streaming), mmap (engine, demand paging), llama (llama-server --no-repack)")
		bin     = flag.String("llama", "", "llama.cpp bin directory (default: ../shared/tools/llama.cpp/bin beside the checkout)")
		child   = flag.String("child-engine", "", "internal: decode with the engine and print JSON")
		stream  = flag.Bool("stream", false, "internal: with -child-engine, stream the weights")
	)
	flag.Parse()
	if *child != "" {
		r, err := childEngine(*child, *stream, *nGen, *threads)
		if err != nil {
			fmt.Fprintln(os.Stderr, "pagingbench:", err)
			os.Exit(1)
		}
		json.NewEncoder(os.Stdout).Encode(r)
		return
	}
	if err := run(*model, *limit, *bin, strings.Split(*sides, ","), *nGen, *runs, *threads); err != nil {
		fmt.Fprintln(os.Stderr, "pagingbench:", err)
		os.Exit(1)
	}
}

// result is one run.
type result struct {
	TokPerSec   float64 // decode, the tokens after the prompt
	FirstSec    float64 `json:",omitempty"` // load and the one-token prompt
	MajorFaults int64   `json:",omitempty"`
	StreamedMB  float64 `json:",omitempty"` // per token, streaming side
	ResidentMB  float64 `json:",omitempty"`
	DiskGBs     float64 `json:",omitempty"` // streamed bytes over reading time
	Direct      bool    `json:",omitempty"`
	CgroupPeak  uint64  `json:"-"`
	Killed      bool    `json:"-"`
	ExitNote    string  `json:"-"`
}

func childEngine(path string, stream bool, nGen, threads int) (result, error) {
	ctx := context.Background()
	start := time.Now()
	f, err := gguf.Open(path)
	if err != nil {
		return result{}, err
	}
	defer f.Close()
	s := planner.Settings{NCtx: 256, NUbatch: 512, CacheTypeK: "f16", CacheTypeV: "f16", MMap: true, Threads: threads, StreamWeights: stream}
	m, err := mexec.LoadSettings(ctx, s, f)
	if err != nil {
		return result{}, err
	}
	defer m.Close()
	var ru0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	if _, err := m.EvalLast(ctx, []int32{1}); err != nil {
		return result{}, err
	}
	r := result{FirstSec: time.Since(start).Seconds()}
	st0, _ := m.Streaming()
	t0 := time.Now()
	for i := range nGen {
		if _, err := m.EvalLast(ctx, []int32{int32(100 + i)}); err != nil {
			return result{}, err
		}
	}
	r.TokPerSec = float64(nGen) / time.Since(t0).Seconds()
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	r.MajorFaults = ru.Majflt - ru0.Majflt
	if st, ok := m.Streaming(); ok {
		r.StreamedMB, r.ResidentMB, r.Direct = float64(st.StreamedBytes)/1e6, float64(st.ResidentBytes)/1e6, st.Direct
		if d := st.Reading - st0.Reading; d > 0 {
			r.DiskGBs = float64(st.BytesRead-st0.BytesRead) / d.Seconds() / 1e9
		}
	}
	return r, nil
}

func findBin() (string, error) {
	_, file, _, _ := runtime.Caller(0)
	for d := filepath.Dir(file); d != filepath.Dir(d); d = filepath.Dir(d) {
		p := filepath.Join(d, "..", "shared", "tools", "llama.cpp", "bin")
		if _, err := os.Stat(filepath.Join(p, "llama-server")); err == nil {
			return filepath.Clean(p), nil
		}
	}
	return "", errors.New("llama.cpp tools not found beside the checkout; pass -llama")
}

func parseSize(s string) (uint64, error) {
	mult := map[string]uint64{"GiB": 1 << 30, "MiB": 1 << 20, "G": 1 << 30, "M": 1 << 20, "": 1}
	for suf, m := range mult {
		if suf != "" && strings.HasSuffix(s, suf) {
			v, err := strconv.ParseFloat(strings.TrimSuffix(s, suf), 64)
			return uint64(v * float64(m)), err
		}
	}
	return strconv.ParseUint(s, 10, 64)
}

func run(model, limitS, bin string, sides []string, nGen, runs, threads int) error {
	if model == "" {
		return errors.New("-model is required")
	}
	limit, err := parseSize(limitS)
	if err != nil {
		return fmt.Errorf("-limit: %w", err)
	}
	if bin == "" {
		if bin, err = findBin(); err != nil {
			return err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	st, err := os.Stat(model)
	if err != nil {
		return err
	}
	out := map[string][]result{}
	for k := range runs {
		for _, side := range sides {
			fmt.Fprintf(os.Stderr, "# run %d/%d %s (load average %s)\n", k+1, runs, side, loadAvg())
			if err := dropCache(model); err != nil {
				return err
			}
			cg, err := newCgroup(limit)
			if err != nil {
				return err
			}
			var r result
			switch side {
			case "stream", "mmap":
				args := []string{self, "-child-engine", model, "-n", fmt.Sprint(nGen), "-t", fmt.Sprint(threads)}
				if side == "stream" {
					args = append(args, "-stream")
				}
				r, err = cg.runEngine(args)
			case "llama":
				r, err = cg.runServer(bin, model, nGen, threads)
			default:
				err = fmt.Errorf("unknown side %q", side)
			}
			r.CgroupPeak = cg.peak()
			cg.remove()
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "#   %.3f tok/s, first token after %.1f s, cgroup peak %.2f GiB %s\n", r.TokPerSec, r.FirstSec, float64(r.CgroupPeak)/(1<<30), r.ExitNote)
			out[side] = append(out[side], r)
		}
	}
	fmt.Printf("pagingbench: %s (%.2f GB), cgroup v1 limit %s, page cache of the file dropped before each run, %d threads, %d tokens after a 1-token prompt, %d interleaved runs; %s; load average %s\n\n",
		filepath.Base(model), float64(st.Size())/1e9, limitS, threads, nGen, runs, time.Now().UTC().Format("2006-01-02 15:04 UTC"), loadAvg())
	fmt.Println("| side | decode tok/s, median [min–max] | cgroup peak GiB | notes |")
	fmt.Println("|---|---:|---:|---|")
	names := map[string]string{"stream": "engine, streaming (StreamWeights)", "mmap": "engine, mmap demand paging", "llama": "llama.cpp llama-server --no-repack, mmap"}
	for _, side := range sides {
		rs := out[side]
		ts := make([]float64, 0, len(rs))
		var peak uint64
		var notes []string
		for _, r := range rs {
			ts = append(ts, r.TokPerSec)
			peak = max(peak, r.CgroupPeak)
			if r.ExitNote != "" {
				notes = append(notes, r.ExitNote)
			}
		}
		slices.Sort(ts)
		med := 0.0
		if len(ts) > 0 {
			med = ts[len(ts)/2]
			if len(ts)%2 == 0 {
				med = (ts[len(ts)/2-1] + ts[len(ts)/2]) / 2
			}
		}
		if side == "stream" && len(rs) > 0 {
			r := rs[len(rs)-1]
			notes = append(notes, fmt.Sprintf("%.0f MB resident, %.0f MB streamed per token, disk %.2f GB/s while reading, direct I/O %v, bound %.3f tok/s",
				r.ResidentMB, r.StreamedMB, r.DiskGBs, r.Direct, r.DiskGBs*1e3/max(r.StreamedMB, 1)))
		}
		if side == "mmap" && len(rs) > 0 {
			notes = append(notes, fmt.Sprintf("%d major faults per token", rs[len(rs)-1].MajorFaults/int64(nGen)))
		}
		fmt.Printf("| %s | %.3f [%.3f–%.3f] | %.2f | %s |\n", names[side], med, ts[0], ts[len(ts)-1], float64(peak)/(1<<30), strings.Join(notes, "; "))
	}
	return nil
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// dropCache evicts the model file's pages from the page cache (only pages
// no process maps).
func dropCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}

type cgroup struct{ dir string }

var cgroupSeq int

func newCgroup(limit uint64) (*cgroup, error) {
	cgroupSeq++
	dir := filepath.Join(cgroupRoot, fmt.Sprintf("modelfit-pagingbench-%d-%d", os.Getpid(), cgroupSeq))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cgroup v1 memory controller: %w", err)
	}
	c := &cgroup{dir}
	if err := os.WriteFile(filepath.Join(dir, "memory.limit_in_bytes"), []byte(fmt.Sprint(limit)), 0); err != nil {
		c.remove()
		return nil, err
	}
	return c, nil
}

func (c *cgroup) peak() uint64 {
	b, _ := os.ReadFile(filepath.Join(c.dir, "memory.max_usage_in_bytes"))
	v, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return v
}

func (c *cgroup) remove() {
	for range 50 {
		if err := os.Remove(c.dir); err == nil || os.IsNotExist(err) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// command runs args inside the cgroup (the shell joins it, then execs).
func (c *cgroup) command(args ...string) *exec.Cmd {
	sh := fmt.Sprintf(`echo $$ > %s/cgroup.procs && exec "$@"`, c.dir)
	cmd := exec.Command("/bin/sh", append([]string{"-c", sh, "sh"}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

func exitNote(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Sprintf("killed by %v (OOM)", ws.Signal())
		}
		return fmt.Sprintf("exit %d", ee.ExitCode())
	}
	return err.Error()
}

func (c *cgroup) runEngine(args []string) (result, error) {
	cmd := c.command(args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return result{Killed: true, ExitNote: exitNote(err) + " " + strings.TrimSpace(stderr.String())}, nil
	}
	var r result
	if err := json.Unmarshal(out, &r); err != nil {
		return result{}, fmt.Errorf("engine output %q: %w", out, err)
	}
	return r, nil
}

// runServer starts llama-server in the cgroup (mmap, no repacking), asks it
// for nGen tokens after a one-token prompt and reads its own timing.
func (c *cgroup) runServer(bin, model string, nGen, threads int) (result, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return result{}, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	start := time.Now()
	cmd := c.command(filepath.Join(bin, "llama-server"), "-m", model, "--no-repack", "-lm", "mmap", "-t", fmt.Sprint(threads),
		"-c", "256", "-np", "1", "--host", "127.0.0.1", "--port", fmt.Sprint(port), "--no-warmup")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	for {
		select {
		case err := <-exited:
			exited <- err
			return result{Killed: true, ExitNote: exitNote(err)}, nil
		case <-time.After(200 * time.Millisecond):
		}
		if resp, err := http.Get(base + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Since(start) > 10*time.Minute {
			return result{}, errors.New("llama-server did not start")
		}
	}
	body, _ := json.Marshal(map[string]any{"prompt": "a", "n_predict": nGen, "ignore_eos": true, "temperature": 0, "cache_prompt": false})
	resp, err := http.Post(base+"/completion", "application/json", bytes.NewReader(body))
	if err != nil {
		select {
		case err := <-exited:
			exited <- err
			return result{Killed: true, ExitNote: exitNote(err)}, nil
		case <-time.After(time.Second):
		}
		return result{}, err
	}
	defer resp.Body.Close()
	var cr struct {
		Timings struct {
			PredictedN         int     `json:"predicted_n"`
			PredictedPerSecond float64 `json:"predicted_per_second"`
		} `json:"timings"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&cr); err != nil {
		return result{}, fmt.Errorf("llama-server answer: %w\n%s", err, logs.String())
	}
	return result{TokPerSec: cr.Timings.PredictedPerSecond, FirstSec: time.Since(start).Seconds()}, nil
}
