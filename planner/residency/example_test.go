package residency_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/planner/residency"
	"github.com/modelfit/modelfit/probe"
)

// A server loads models on demand: each decision is made next to what is
// loaded, and the server does what it says. Two of these models fit in
// the machine's RAM: the third evicts the least recently used.
func Example() {
	f, err := gguf.Open(filepath.Join("..", "..", "testdata", "models", "synth-llama-gqa-Q8_0.gguf"))
	if err != nil {
		panic(err)
	}
	defer f.Close()
	machine := probe.Describe(probe.Description{RAMBytes: 1<<30 + 150<<20, Cores: 4, Features: []string{"avx2", "fma", "f16c"}})
	var pl residency.Planner
	var loaded []residency.Model
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	for _, name := range []string{"chat", "code", "chat", "summarise"} {
		now = now.Add(time.Minute)
		i := slices.IndexFunc(loaded, func(m residency.Model) bool { return m.ID == name })
		if i >= 0 {
			loaded[i].LastUsed = now
			fmt.Printf("%s: loaded\n", name)
			continue
		}
		// Each name is a copy of the file: models of one file share its page cache.
		req := residency.Request{ID: name, GGUF: f, Plan: planner.Request{ModelPath: "/models/" + name + ".gguf", Settings: planner.Settings{NCtx: 8192}}}
		d, err := pl.Decide(context.Background(), residency.Input{Machine: machine, Loaded: loaded, Request: req, Now: now})
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s: %s", name, d.Action)
		for _, e := range d.Evict {
			fmt.Printf(" %s", e.ID)
			loaded = slices.DeleteFunc(loaded, func(m residency.Model) bool { return m.ID == e.ID })
		}
		fmt.Printf(" (n_ctx %d, host %d MiB anonymous)\n", d.Plan.Settings.NCtx, d.Memory.Host.AnonBytes>>20)
		loaded = append(loaded, residency.Model{ID: name, Plan: d.Plan, LastUsed: now, KeepAlive: 5 * time.Minute})
	}
	// Output:
	// chat: load (n_ctx 8192, host 60 MiB anonymous)
	// code: load (n_ctx 8192, host 121 MiB anonymous)
	// chat: loaded
	// summarise: evict code (n_ctx 8192, host 121 MiB anonymous)
}
