package residency

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/modelfit/modelfit/planner"
)

// benchInput is n loaded 1B Q8_0 models (1.6 GiB each with their page
// cache) and a request for an 8B Q4_K_M one (5.1 GiB) on a machine of ram
// bytes.
func benchInput(b *testing.B, n int, ram uint64) Input {
	m := cpuMachine(ram)
	in := Input{Machine: m, Now: t0, Request: request(b, "q4", "llama-3.1-8b-q4_k_m", "/m/q4.gguf", planner.Request{})}
	for i := range n {
		lm := model{id: fmt.Sprintf("m%d", i), layout: "llama-3.2-1b-q8_0", path: fmt.Sprintf("/m/m%d.gguf", i),
			idle: time.Duration(n-i) * time.Minute, keep: 5 * time.Minute}
		in.Loaded = append(in.Loaded, lm.load(b, m))
	}
	return in
}

// BenchmarkDecide measures one decision next to n loaded models, where the
// new model fits alongside (one plan) or needs evictions (three plans).
// "memo" is the steady state of a server: the Planner has made the
// requested model's plans for these sets before, so the decision is the
// accounting of the set, the eviction order and the why-trail. "cold"
// plans the requested model with planner.Make each time (no memo): its cost
// is the planner's, 0.1 to a few ms per plan by model and machine.
func BenchmarkDecide(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		for _, sc := range []struct {
			name string
			ram  uint64
			want Action
		}{{"alongside", uint64(n)*2*gib + 8*gib, Load}, {"evict", uint64(n)*gib + 4*gib, Evict}} {
			in := benchInput(b, n, sc.ram)
			b.Run(fmt.Sprintf("loaded=%d/%s/memo", n, sc.name), func(b *testing.B) {
				var pl Planner
				if d, err := pl.Decide(context.Background(), in); err != nil || d.Action != sc.want {
					b.Fatalf("%v %v", d.Action, err)
				}
				for b.Loop() {
					if _, err := pl.Decide(context.Background(), in); err != nil {
						b.Fatal(err)
					}
				}
			})
			if n > 10 {
				continue
			}
			b.Run(fmt.Sprintf("loaded=%d/%s/cold", n, sc.name), func(b *testing.B) {
				for b.Loop() {
					if _, err := Decide(context.Background(), in); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkAccount is the accounting of 10 models alone.
func BenchmarkAccount(b *testing.B) {
	in := benchInput(b, 10, 64*gib)
	var hs []holding
	for _, m := range in.Loaded {
		h, err := holdingOf(m.ID, m.File, m.Plan, in.Machine, DefaultProcessOverhead)
		if err != nil {
			b.Fatal(err)
		}
		hs = append(hs, h)
	}
	for b.Loop() {
		account(in.Machine, set{hs: hs}, planner.DefaultHostMargin, planner.DefaultGPUMargin, false)
	}
}
