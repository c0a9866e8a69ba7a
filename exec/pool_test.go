package exec

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestPoolWaitsForWorkers runs many short loops whose workers sometimes
// sleep past the spin time, so that the caller and the workers park and
// wake in every interleaving, and checks that each loop is complete when run
// returns (a stale wake-up must not end the wait early).
func TestPoolWaitsForWorkers(t *testing.T) {
	var calls atomic.Int64
	testHookAfterDone = func() {
		if calls.Add(1)%5 == 0 {
			time.Sleep(3 * spinFor)
		}
	}
	defer func() { testHookAfterDone = nil }()
	for _, n := range []int{2, 3} {
		p := newPool(n)
		out := make([]int, 64)
		for iter := 1; iter <= 1500; iter++ {
			err := p.run(len(out), 1, func(w, lo, hi int) {
				switch (iter + w) % 7 {
				case 0:
					time.Sleep(3 * spinFor)
				case 3:
					time.Sleep(spinFor / 3)
				}
				for i := lo; i < hi; i++ {
					out[i] = iter
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range out {
				if v != iter {
					t.Fatalf("%d workers, loop %d: element %d still %d after run returned", n, iter, i, v)
				}
			}
		}
		p.close()
	}
}
