package exec

import (
	"sync"

	"github.com/modelfit/modelfit/mmapio"
)

// pool is a fixed set of worker goroutines that split loops by index range.
// Workers touch mapped weights, so each job runs under mmapio.Guard on the
// worker's own goroutine (SetPanicOnFault is per goroutine).
type pool struct {
	n    int
	jobs []chan job
	wg   sync.WaitGroup // running workers
}

type job struct {
	fn     func(w, lo, hi int)
	lo, hi int
	done   *sync.WaitGroup
	err    *errSlot
}

// errSlot keeps the first error of one parallel call.
type errSlot struct {
	mu  sync.Mutex
	err error
}

func (e *errSlot) set(err error) {
	e.mu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.mu.Unlock()
}

// newPool starts n-1 workers; the calling goroutine is worker 0.
func newPool(n int) *pool {
	n = max(n, 1)
	p := &pool{n: n, jobs: make([]chan job, n)}
	for w := 1; w < n; w++ {
		ch := make(chan job)
		p.jobs[w] = ch
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for j := range ch {
				if err := mmapio.Guard(func() error { j.fn(w, j.lo, j.hi); return nil }); err != nil {
					j.err.set(err)
				}
				j.done.Done()
			}
		}()
	}
	return p
}

// run calls fn(w, lo, hi) over [0, n) split into at most p.n contiguous
// ranges, one per worker w, and waits. The caller's share runs on the calling
// goroutine, which must already be under Guard. grain is the smallest range
// worth a worker.
func (p *pool) run(n, grain int, fn func(w, lo, hi int)) error {
	if n <= 0 {
		return nil
	}
	parts := min(p.n, max(1, n/max(grain, 1)))
	if parts == 1 {
		fn(0, 0, n)
		return nil
	}
	var done sync.WaitGroup
	var es errSlot
	done.Add(parts - 1)
	for w := 1; w < parts; w++ {
		p.jobs[w] <- job{fn: fn, lo: w * n / parts, hi: (w + 1) * n / parts, done: &done, err: &es}
	}
	fn(0, 0, n/parts)
	done.Wait()
	return es.err
}

// close stops the workers.
func (p *pool) close() {
	for _, ch := range p.jobs[1:] {
		close(ch)
	}
	p.wg.Wait()
}
