package mmapio

import (
	"runtime/debug"
	"sort"
	"sync"
)

// Guard runs fn with debug.SetPanicOnFault on the current goroutine and turns
// a fault on memory of a live Mapping into a *FaultError naming the file and
// offset. Faults elsewhere (a nil pointer, memory of a closed Mapping) and
// other panics are programming errors and are re-raised.
//
// SetPanicOnFault is per goroutine: each goroutine that touches mapped memory
// must call Guard itself; goroutines started inside fn are not covered.
func Guard(fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		r := recover()
		if r == nil {
			return
		}
		f, ok := r.(interface{ Addr() uintptr })
		if !ok {
			panic(r)
		}
		fe := regions.find(f.Addr())
		if fe == nil {
			panic(r)
		}
		if e, ok := r.(error); ok {
			fe.Err = e
		}
		err = fe
	}()
	return fn()
}

// region is one live mapping, for attributing a faulting address.
type region struct {
	base, end uintptr
	path      string
	part      int
}

// regions is every live mapping, sorted by base.
var regions registry

type registry struct {
	mu   sync.RWMutex
	list []region
}

func (g *registry) add(r region) {
	if r.end == r.base {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	i := sort.Search(len(g.list), func(i int) bool { return g.list[i].base >= r.base })
	g.list = append(g.list, region{})
	copy(g.list[i+1:], g.list[i:])
	g.list[i] = r
}

func (g *registry) remove(base uintptr) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, r := range g.list {
		if r.base == base {
			g.list = append(g.list[:i], g.list[i+1:]...)
			return
		}
	}
}

func (g *registry) find(addr uintptr) *FaultError {
	g.mu.RLock()
	defer g.mu.RUnlock()
	i := sort.Search(len(g.list), func(i int) bool { return g.list[i].end > addr })
	if i == len(g.list) || addr < g.list[i].base {
		return nil
	}
	r := g.list[i]
	return &FaultError{Path: r.path, Part: r.part, Offset: int64(addr - r.base), Addr: addr}
}
