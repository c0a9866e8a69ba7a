package planner_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/probe"
)

// Plan DeepSeek-V3 (227 GiB) over this 128 GiB machine and two more of
// 128 GiB on a 10GbE network: it needs one of them, and the plan says what
// to run where.
func ExampleMake_hosts() {
	f, err := gguf.Open(testutil.Path("zoo", "deepseek-v3-Q2_K.header.gguf"))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	machine := func() *probe.Snapshot { return probe.Describe(probe.Description{RAMBytes: 128 << 30, Cores: 32}) }
	link, err := planner.ParseLink("10GbE")
	if err != nil {
		log.Fatal(err)
	}
	req := planner.Request{ModelPath: "deepseek-v3.gguf", Hosts: []planner.Host{
		{Name: "node2", Snapshot: machine(), Addr: "10.0.0.2:50052", Link: link},
		{Name: "node3", Snapshot: machine(), Addr: "10.0.0.3:50052", Link: link},
	}}
	p, err := planner.Make(context.Background(), f, machine(), req)
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range p.Hosts {
		if h.Used {
			fmt.Printf("%s: %d layers: %s\n", h.Name, len(h.Layers), strings.Join(h.Command[:3], " "))
		} else {
			fmt.Printf("%s: unused\n", h.Name)
		}
	}
	// Output:
	// head: 35 layers: llama-server -m deepseek-v3.gguf
	// node2: 26 layers: ggml-rpc-server -H 10.0.0.2
	// node3: unused
}
