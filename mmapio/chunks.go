package mmapio

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"
)

// chunkBytes is the unit of work and of progress: big enough for the
// kernel's readahead to stream, small enough for steady progress and a
// prompt stop on cancellation.
const chunkBytes = 4 << 20

// workers bounds concurrent chunks: a few requests in flight keep an NVMe
// queue busy without flooding a slow disk.
const workers = 4

// chunk is [lo, hi) of a part; at is its place in a Buffer.
type chunk struct {
	part   int
	lo, hi int64
	at     int64
}

// merge sorts a copy of rs and joins overlapping or adjacent ranges, dropping
// empty ones, so that no byte is read or counted twice.
func merge(rs []Range) []Range {
	out := make([]Range, 0, len(rs))
	for _, r := range rs {
		if r.N > 0 {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Range) int {
		if a.Part != b.Part {
			return a.Part - b.Part
		}
		return cmp.Compare(a.Off, b.Off)
	})
	j := 0
	for i := 1; i < len(out); i++ {
		last := &out[j]
		if out[i].Part == last.Part && out[i].Off <= last.Off+last.N {
			last.N = max(last.N, out[i].Off+out[i].N-last.Off)
			continue
		}
		j++
		out[j] = out[i]
	}
	if len(out) == 0 {
		return out
	}
	return out[:j+1]
}

// split cuts merged ranges into chunks, numbering their bytes consecutively
// in at.
func split(rs []Range) (cs []chunk, total int64) {
	for _, r := range rs {
		for lo := r.Off; lo < r.Off+r.N; {
			hi := min(r.Off+r.N, (lo/chunkBytes+1)*chunkBytes)
			cs = append(cs, chunk{part: r.Part, lo: lo, hi: hi, at: total})
			total += hi - lo
			lo = hi
		}
	}
	return cs, total
}

// run calls fn for every chunk from up to workers goroutines, reports
// progress after each, and stops at the first error or when ctx is done.
func run(ctx context.Context, cs []chunk, total int64, progress Progress, fn func(chunk) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next    atomic.Int64
		mu      sync.Mutex
		done    int64
		first   error
		wg      sync.WaitGroup
		workers = min(workers, len(cs))
	)
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(len(cs)) {
					return
				}
				c := cs[i]
				err := fn(c)
				mu.Lock()
				if err != nil {
					if first == nil {
						first = err
					}
					mu.Unlock()
					cancel()
					return
				}
				done += c.hi - c.lo
				if progress != nil {
					progress(done, total)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	if done < total {
		return context.Cause(ctx)
	}
	return nil
}
