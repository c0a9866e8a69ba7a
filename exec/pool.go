package exec

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelfit/modelfit/mmapio"
)

// pool is a fixed set of worker goroutines that split loops by index range.
// A decoded token is ~10 parallel loops per layer of a few to a few hundred
// microseconds each, so handing work over must cost far less than a
// goroutine wake-up through the scheduler (a futex, 5–50 µs here): like
// ggml's threadpool, workers spin on their slot for a while after each job
// and only park when no work came (spinFor), and the caller spins for their
// completion. Workers touch mapped weights, so each job runs under
// mmapio.Guard on the worker's own goroutine (SetPanicOnFault is per
// goroutine).
type pool struct {
	n     int
	slots []slot // slots[0] unused: the caller is worker 0
	wg    sync.WaitGroup

	spin    atomic.Int64  // current spin budget in ns (adaptive, at most spinFor)
	pending atomic.Int32  // workers still running the current loop
	parked  atomic.Bool   // the caller is (about to be) blocked on done
	done    chan struct{} // wakes the parked caller
}

// slot is one worker's mailbox, padded to its own cache lines.
type slot struct {
	seq    atomic.Uint64 // bumped by the caller for each job
	parked atomic.Bool   // the worker is (about to be) blocked on wake
	quit   atomic.Bool
	wake   chan struct{}
	fn     func(w, lo, hi int)
	lo, hi int
	err    error
	_      [64]byte
}

// testHookAfterDone, when set by a test, runs in a worker between counting
// its job done and looking whether the caller parked: where a descheduled
// worker would pause.
var testHookAfterDone func()

// spinFor is how long an idle worker, or the caller waiting for workers,
// polls before parking: longer than the gaps between the parallel loops of
// one token (a few microseconds of serial work), short enough that on a
// machine with more runnable threads than cores a spinning thread does not
// eat the time slice of the one it waits for.
const spinFor = 50 * time.Microsecond

// newPool starts n-1 workers; the calling goroutine is worker 0.
func newPool(n int) *pool {
	n = max(n, 1)
	p := &pool{n: n, slots: make([]slot, n), done: make(chan struct{}, 1)}
	p.spin.Store(int64(spinFor))
	for w := 1; w < n; w++ {
		s := &p.slots[w]
		s.wake = make(chan struct{}, 1)
		p.wg.Add(1)
		go p.work(w, s)
	}
	return p
}

func (p *pool) work(w int, s *slot) {
	defer p.wg.Done()
	var seen uint64
	for {
		seq := s.seq.Load()
		if seq == seen {
			if !s.wait(seen, &p.spin) {
				return
			}
			continue
		}
		seen = seq
		s.err = mmapio.Guard(func() error { s.fn(w, s.lo, s.hi); return nil })
		left := p.pending.Add(-1)
		if testHookAfterDone != nil {
			testHookAfterDone()
		}
		if left == 0 && p.parked.Load() && p.parked.CompareAndSwap(true, false) {
			p.done <- struct{}{}
		}
	}
}

// wait spins, then parks, until the slot's seq moves past seen; false when
// the pool is closing.
func (s *slot) wait(seen uint64, spin *atomic.Int64) bool {
	start := time.Now()
	budget := time.Duration(spin.Load())
	for i := 0; ; i++ {
		if s.seq.Load() != seen {
			spun(spin, true)
			return true
		}
		if s.quit.Load() {
			return false
		}
		if i%16 == 15 && time.Since(start) > budget {
			break
		}
	}
	spun(spin, false)
	// Park: announce it, then look once more, so that a job posted between
	// the last look and the announcement is not missed (the caller posts,
	// then reads parked; both sequentially consistent).
	s.parked.Store(true)
	if s.seq.Load() != seen || s.quit.Load() {
		if !s.parked.CompareAndSwap(true, false) {
			<-s.wake // the caller saw us parked and sent a token: take it
		}
		return !s.quit.Load() || s.seq.Load() != seen
	}
	<-s.wake
	return true
}

// post hands the slot a job and wakes its worker if parked.
func (s *slot) post(fn func(w, lo, hi int), lo, hi int) {
	s.fn, s.lo, s.hi, s.err = fn, lo, hi, nil
	s.seq.Add(1)
	if s.parked.Load() && s.parked.CompareAndSwap(true, false) {
		s.wake <- struct{}{}
	}
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
	return p.split(parts, fn, func(w int) (int, int) { return w * n / parts, (w + 1) * n / parts })
}

// split runs fn on parts workers, worker w over the range bounds(w).
func (p *pool) split(parts int, fn func(w, lo, hi int), bounds func(w int) (int, int)) error {
	if parts <= 1 {
		lo, hi := bounds(0)
		fn(0, lo, hi)
		return nil
	}
	p.pending.Store(int32(parts - 1))
	for w := 1; w < parts; w++ {
		lo, hi := bounds(w)
		p.slots[w].post(fn, lo, hi)
	}
	lo, hi := bounds(0)
	fn(0, lo, hi)
	p.waitWorkers()
	var err error
	for w := 1; w < parts; w++ {
		s := &p.slots[w]
		if err == nil {
			err = s.err
		}
		s.fn = nil
	}
	return err
}

// waitWorkers returns when every worker of the current loop is done:
// spinning first, then parked (the mirror of slot.wait). A wake-up token can
// be stale: the last worker of the previous loop may have been descheduled
// between its decrement and its look at parked, and then wake this loop's
// wait. So the count decides, never the token.
func (p *pool) waitWorkers() {
	start := time.Now()
	budget := time.Duration(p.spin.Load())
	spinning := true
	for i := 0; p.pending.Load() != 0; i++ {
		if i%16 != 15 || time.Since(start) <= budget {
			continue
		}
		if spinning {
			spun(&p.spin, false)
			spinning = false
		}
		p.parked.Store(true)
		if p.pending.Load() == 0 {
			if !p.parked.CompareAndSwap(true, false) {
				<-p.done // a worker saw us parked and sent a token: take it
			}
			return
		}
		<-p.done
	}
	if spinning {
		spun(&p.spin, true)
	}
}

// spun adapts the spin budget: it grows back to spinFor while waits end
// within it and shrinks fast when they do not, as when the machine has more
// runnable threads than cores and a spinning thread only delays the one it
// waits for (the pool then behaves like a plain futex handoff).
func spun(spin *atomic.Int64, ok bool) {
	b := spin.Load()
	if ok {
		spin.Store(min(int64(spinFor), 2*b+int64(time.Microsecond)))
	} else {
		spin.Store(b / 4)
	}
}

// close stops the workers.
func (p *pool) close() {
	for w := 1; w < p.n; w++ {
		s := &p.slots[w]
		s.quit.Store(true)
		if s.parked.CompareAndSwap(true, false) {
			s.wake <- struct{}{}
		}
	}
	p.wg.Wait()
}
