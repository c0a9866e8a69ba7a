package planner

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/modelfit/modelfit/probe"
)

// This file holds llama.cpp's rules for devices on other hosts, served by
// ggml-rpc-server (the RPC backend, upstream 3f545bec: ggml/src/ggml-rpc/,
// tools/rpc/rpc-server.cpp, src/llama.cpp, src/llama-model.cpp), and the
// types a cluster plan is asked for and answers with. The search is in
// hosts_plan.go, the speed and load model in hosts_predict.go.
//
// The rules:
//   - llama-server --rpc A,B registers each server's devices as RPC0, RPC1,
//     … numbered across the servers in --rpc order (ggml-rpc.cpp
//     ggml_backend_rpc_add_server), typed GPU, so that -ngl offloads to them.
//   - They come before the local GPUs in the model's device list ("add RPC
//     servers at the front of the list to minimize network transfers",
//     src/llama.cpp), and -ts is read in that order. The non-offloaded
//     layers stay on the head's CPU and come first, so the layers flow
//     head CPU → RPC devices → local GPUs, and with -ngl counting the output
//     layer first (llama-model.cpp load_tensors) the output lands on the last
//     device that takes layers.
//   - Weights are sent at load: whole tensors with SET_TENSOR into buffers
//     the server allocates from its device's default buffer type
//     (rpc_server::alloc_buffer). On a CPU device that is plain anonymous
//     RAM: no mmap, and no CPU_REPACK (the RPC device offers no extra buffer
//     types). A tensor's size is ggml_nbytes, asked of the server only for
//     quantized rows not a multiple of 512 (the CUDA padding); the CPU
//     buffer aligns tensors to 32 bytes.
//   - The server receives each tensor whole into a message buffer before
//     copying it into place (rpc_serve_client, recv_msg), so its RAM holds
//     the largest tensor twice for a moment during load. KV and compute
//     buffers are allocated after the weights, so the load peak is weights
//     + largest tensor and the steady state weights + KV + compute.
//   - Tensors over 10 MiB (HASH_THRESHOLD) are first offered by their
//     64-bit FNV-1a hash (SET_TENSOR_HASH, one round trip): the head hashes
//     them byte by byte whether or not the server caches. With
//     ggml-rpc-server -c the server writes every such tensor it receives to
//     $LLAMA_CACHE/rpc/ (default ~/.cache/llama.cpp/rpc/), named by that
//     hash, and later loads read it from that disk instead of the network
//     (tensors with the same bytes share one file: the plan's cache size is
//     the most it can be).
//   - RPC devices report neither async compute nor events, so llama.cpp
//     turns pipeline parallelism off (llama-context.cpp), and they have no
//     offload_op, so large batches of host weights go to the first local
//     GPU only.
//   - Every hop of the activations between devices on different hosts, or
//     between two devices of one server (their buffers cannot copy into
//     each other), goes through the head: a GET_TENSOR (one round trip) from
//     the device that computed it, a SET_TENSOR (no reply) to the next;
//     GRAPH_COMPUTE has no reply either (ggml-rpc.cpp).
//   - A server reports its device's free memory as its whole machine's
//     (ggml_backend_dev_memory on the server: MemAvailable for a CPU, not a
//     cgroup's limit), which llama-server's --fit (on by default) would
//     re-plan from: the plan turns it off.
//   - ggml-rpc-server binds an IPv4 literal (inet_addr in transport.cpp),
//     127.0.0.1 by default, and warns otherwise: the protocol has no
//     authentication.

// DefaultRPCPort is ggml-rpc-server's default port (tools/rpc/rpc-server.cpp).
const DefaultRPCPort = 50052

// rpcHashThreshold is ggml-rpc's HASH_THRESHOLD: larger tensors are offered
// by hash first and, with -c, cached on the server's disk.
const rpcHashThreshold = 10 << 20

// rpcCPUAlignment is the CPU buffer type's alignment (TENSOR_ALIGNMENT).
const rpcCPUAlignment = 32

// fnvRate is how fast the head hashes tensors for SET_TENSOR_HASH: FNV-1a
// is one multiply per byte, serially dependent (4 cycles a byte): 0.64 GB/s
// measured on the reference machine (2.7 GHz).
const fnvRate = 0.64e9

// rpcServerBaseBytes is ggml-rpc-server's own resident memory with the CPU
// backend loaded: 5.3 MiB idle, 9.8 MiB after serving the tiny test model,
// measured (VmRSS) with the shared build 10587.
const rpcServerBaseBytes = 10 << 20

// RemoteKind says what a device served by ggml-rpc-server on another host is.
type RemoteKind uint8

// Kinds of devices in Env.Remote.
const (
	RemoteNone RemoteKind = iota // a device of the head node itself
	RemoteCPU                    // the host's CPU backend: weights in plain RAM
	RemoteGPU                    // a GPU of the host
)

// remote returns the kind of device d (a Breakdown index, 0 = the head's CPU).
func (e Env) remote(d int) RemoteKind {
	if d < 1 || d > len(e.Remote) {
		return RemoteNone
	}
	return e.Remote[d-1]
}

func (e Env) remoteCount() int {
	n := 0
	for _, k := range e.Remote {
		if k != RemoteNone {
			n++
		}
	}
	return n
}

func (e Env) hasRemote() bool { return e.remoteCount() > 0 }

// allocSize is what tensor t takes in offload device d's buffer.
func (e Env) allocSize(d int, t *tinfo) uint64 {
	if e.remote(d) == RemoteCPU {
		return (t.size + rpcCPUAlignment - 1) / rpcCPUAlignment * rpcCPUAlignment
	}
	return t.gpuSize
}

// Link is the network between the head node and a host. Rates are payload
// bytes per second (about 94% of an Ethernet line rate with TCP at MTU 1500).
type Link struct {
	Name           string  `json:"name"`
	BytesPerSecond float64 `json:"bytes_per_second"`
	RTTSeconds     float64 `json:"rtt_seconds"`
	// Assumed marks a link the user did not give.
	Assumed bool `json:"assumed,omitempty"`
}

// tcpPayload is TCP's share of an Ethernet line: 1448 payload bytes (with
// timestamps) of 1538 on the wire at MTU 1500.
const tcpPayload = 1448.0 / 1538

// linkPresets are common links. Round trips are typical kernel TCP figures
// through one switch (assumed); loopback was measured on the reference
// machine (a 2-vCPU VM: 1.1 GB/s, 45–55 µs with a Go ping-pong), a
// bare-metal loopback is several times faster.
var linkPresets = map[string]Link{
	"1gbe":     {Name: "1GbE", BytesPerSecond: 1e9 / 8 * tcpPayload, RTTSeconds: 200e-6},
	"2.5gbe":   {Name: "2.5GbE", BytesPerSecond: 2.5e9 / 8 * tcpPayload, RTTSeconds: 150e-6},
	"10gbe":    {Name: "10GbE", BytesPerSecond: 10e9 / 8 * tcpPayload, RTTSeconds: 60e-6},
	"25gbe":    {Name: "25GbE", BytesPerSecond: 25e9 / 8 * tcpPayload, RTTSeconds: 40e-6},
	"40gbe":    {Name: "40GbE", BytesPerSecond: 40e9 / 8 * tcpPayload, RTTSeconds: 30e-6},
	"100gbe":   {Name: "100GbE", BytesPerSecond: 100e9 / 8 * tcpPayload, RTTSeconds: 25e-6},
	"loopback": {Name: "loopback", BytesPerSecond: 1.1e9, RTTSeconds: 50e-6},
}

// DefaultLink is assumed for a remote host whose link is not given: the
// slowest common one, so that a plan does not promise what the network
// cannot carry.
var DefaultLink = func() Link { l := linkPresets["1gbe"]; l.Assumed = true; return l }()

// ParseLink parses a link: a preset (1GbE, 2.5GbE, 10GbE, 25GbE, 40GbE,
// 100GbE, loopback) or a payload rate in bytes per second ("1.2GB/s",
// "/s" optional), optionally followed by ",rtt=DURATION" ("10GbE,rtt=80us").
func ParseLink(s string) (Link, error) {
	rate, opts, _ := strings.Cut(strings.TrimSpace(s), ",")
	l, ok := linkPresets[strings.ToLower(rate)]
	if !ok {
		v, err := probe.ParseSize(strings.TrimSuffix(rate, "/s"))
		if err != nil || v == 0 {
			return Link{}, fmt.Errorf("planner: link %q: want 1GbE, 2.5GbE, 10GbE, 25GbE, 40GbE, 100GbE, loopback or bytes per second such as 1.2GB/s, optionally with ,rtt=80us", s)
		}
		l = Link{Name: rate, BytesPerSecond: float64(v), RTTSeconds: linkPresets["10gbe"].RTTSeconds}
	}
	if opts != "" {
		k, v, _ := strings.Cut(opts, "=")
		d, err := time.ParseDuration(v)
		if strings.TrimSpace(k) != "rtt" || err != nil || d <= 0 {
			return Link{}, fmt.Errorf("planner: link %q: after the rate want rtt=DURATION such as rtt=80us", s)
		}
		l.RTTSeconds = d.Seconds()
	}
	return l, nil
}

// Host is a machine that lends its devices to the head node through
// ggml-rpc-server.
type Host struct {
	// Name names the host in the plan ("node2").
	Name string
	// Snapshot is what the host has: `plan probe --json` run there, or an
	// assumed machine from probe.Describe.
	Snapshot *probe.Snapshot
	// Addr is IPv4:PORT where its ggml-rpc-server listens and the head
	// connects; "" when not known yet (the plan then prints no command
	// for it).
	Addr string
	// Link is the network to it; the zero Link means DefaultLink, or
	// loopback for a 127.x address.
	Link Link
	// Cache runs the server with -c: a tensor cache on the host's disk.
	Cache bool
	// Threads for its CPU device; 0 = its usable physical cores.
	Threads int
}

// ParseRPCAddr checks an RPC endpoint as ggml-rpc-server can bind it: an
// IPv4 literal (or localhost) and a port; the port defaults to 50052.
func ParseRPCAddr(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = s, strconv.Itoa(DefaultRPCPort)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	p, perr := strconv.Atoi(port)
	switch {
	case ip == nil || ip.To4() == nil:
		return "", fmt.Errorf("planner: RPC address %q: ggml-rpc-server binds an IPv4 address only (inet_addr in ggml-rpc's transport.cpp): give IPV4:PORT", s)
	case ip.IsUnspecified() || ip.IsMulticast() || ip.Equal(net.IPv4bcast):
		return "", fmt.Errorf("planner: RPC address %q: give the host's own address, where the head reaches it (%s would open the unauthenticated port on every interface)", s, host)
	case perr != nil || p <= 0 || p > 65535:
		return "", fmt.Errorf("planner: RPC address %q: port must be 1–65535", s)
	}
	return net.JoinHostPort(ip.To4().String(), strconv.Itoa(p)), nil
}

// isLoopback reports whether an RPC address is on 127.0.0.0/8.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}

// PlanHost is one machine of a cluster plan: what it runs, which devices
// and layers it holds, and the memory it needs.
type PlanHost struct {
	Name string `json:"name"`
	// Role is "head" (runs llama-server, with its own CPU and GPUs) or
	// "rpc" (runs ggml-rpc-server).
	Role    string `json:"role"`
	Address string `json:"address,omitempty"`
	Link    *Link  `json:"link,omitempty"`
	// Used is false for a host the plan leaves out: it would only add
	// network hops.
	Used    bool         `json:"used"`
	Devices []HostDevice `json:"devices"`
	// Layers are the repeating layers the host holds on all its devices.
	Layers []int `json:"layers"`
	Output bool  `json:"output,omitempty"`
	// WeightsBytes are the weights it holds (all devices).
	WeightsBytes uint64 `json:"weights_bytes"`
	// RAMBytes is what the host's RAM must hold while it serves: for a
	// server, its CPU device's buffers, the work buffer of its CPU backend
	// and the server process itself; for the head, the CPU's total plus the
	// mapped weights decode reads. RAMPeakBytes is the most at any time,
	// the load included (a tensor in flight next to the weights).
	RAMBytes          uint64 `json:"ram_bytes"`
	RAMPeakBytes      uint64 `json:"ram_peak_bytes"`
	RAMAvailableBytes uint64 `json:"ram_available_bytes"`
	RAMMarginBytes    uint64 `json:"ram_margin_bytes"`
	// RAMLowBytes and RAMHighBytes bound what a server's memory can be
	// measured at: at least its weights, KV cache and recurrent state
	// (written whole at load and at start), at most the peak with the
	// compute buffer at its high estimate (a graph touches only the pages
	// it uses, so a short prompt stays below the point estimate).
	RAMLowBytes  uint64 `json:"ram_low_bytes,omitempty"`
	RAMHighBytes uint64 `json:"ram_high_bytes,omitempty"`
	// ProcessBytes is the server program's own memory, WorkBytes the CPU
	// backend's work buffer (activations converted for the matrix kernels),
	// LoadTransientBytes the largest tensor received at load.
	ProcessBytes       uint64 `json:"process_bytes,omitempty"`
	WorkBytes          uint64 `json:"work_bytes,omitempty"`
	LoadTransientBytes uint64 `json:"load_transient_bytes,omitempty"`
	// CacheDiskBytes is what ggml-rpc-server -c keeps on the host's disk
	// (less when tensors have the same bytes: the cache is by content).
	CacheDiskBytes uint64 `json:"cache_disk_bytes,omitempty"`
	// LoadNetworkBytes are the bytes sent to it at load; LoadSeconds the
	// time its share of the load takes (hashing, network, copies),
	// CachedLoadSeconds that time on later loads with -c.
	LoadNetworkBytes  uint64  `json:"load_network_bytes,omitempty"`
	LoadSeconds       float64 `json:"load_seconds,omitempty"`
	CachedLoadSeconds float64 `json:"cached_load_seconds,omitempty"`
	// DecodeNetworkSeconds is what the network adds to each decoded token
	// for this host (round trips and activations).
	DecodeNetworkSeconds float64 `json:"decode_network_seconds,omitempty"`
	Fits                 bool    `json:"fits"`
	// Command is the program and arguments to run on the host:
	// ggml-rpc-server for a server, llama-server for the head. Empty for a
	// server without an address.
	Command []string `json:"command"`
}

// HostDevice is one device of a host in the plan.
type HostDevice struct {
	Device  int    `json:"device"`  // index into Plan.Devices
	Name    string `json:"name"`    // as the head's llama.cpp names it: CPU, RPC0, CUDA0
	Backend string `json:"backend"` // as the host names it: CPU, CUDA0, ROCm0
	Layers  int    `json:"layers"`  // layers it holds, the output layer counted
}

// remoteCompute bounds the compute buffer of an RPC device holding some of
// the layers where the scheduler's split is not simulated (schedSplit
// gives up: a Metal GPU in the plan, a graph not simulated here): the
// simulated whole graph bounds it from above (a split holds a layer's peak
// and its inputs, the whole graph also the embeddings and the output), and
// without the head's graph inputs from below.
func (m *model) remoteCompute(s Settings, rt Runtime, ub int, c cells, low, point, high uint64) (uint64, uint64, uint64) {
	l, p, h, ok := m.graphCompute(s, rt, ub, c)
	if !ok {
		return low, point, high
	}
	r, _ := m.graphInputs(s, rt, ub, c)
	return min(l, p-min(r.inputs, p)), p, max(h, p+p/10)
}
