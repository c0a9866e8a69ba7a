package calibrate

import (
	"bytes"
	"context"
	"runtime"
	"slices"
	"sync"
	"time"
)

// MemoryBandwidth measures how fast threads goroutines, each locked to an
// OS thread, read memory: every thread scans its own part of a buffer of
// size bytes (far larger than the caches) with the runtime's vectorised
// byte search, which reads every byte once and writes nothing. It returns
// the median over reps passes, in bytes/s.
func MemoryBandwidth(ctx context.Context, threads, size, reps int) (float64, error) {
	threads = max(threads, 1)
	buf := make([]byte, size)
	for i := range buf {
		buf[i] = 0xa5 // touch every page, and never the byte searched for
	}
	part := size / threads
	var rates []float64
	for r := 0; r < max(reps, 1); r++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		var ready sync.WaitGroup
		ready.Add(threads)
		for t := 0; t < threads; t++ {
			wg.Add(1)
			go func(p []byte) {
				defer wg.Done()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				ready.Done()
				<-start
				if bytes.IndexByte(p, 0) >= 0 {
					panic("calibrate: the scanned buffer was modified")
				}
			}(buf[t*part : (t+1)*part])
		}
		ready.Wait()
		t0 := time.Now()
		close(start)
		wg.Wait()
		rates = append(rates, float64(part*threads)/time.Since(t0).Seconds())
	}
	runtime.KeepAlive(buf)
	return Median(rates), nil
}

// Median returns the median of xs (0 for none).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func numCPU() int { return runtime.NumCPU() }
