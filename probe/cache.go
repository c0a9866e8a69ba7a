package probe

import (
	"context"
	"sync"
	"time"
)

// Cache shares one probe among many callers (a server planning requests):
// it probes at most once per Interval and is safe for concurrent use.
type Cache struct {
	Options  Options
	Interval time.Duration // how long a snapshot stays fresh; 0 means 2s
	// Now replaces time.Now in tests.
	Now func() time.Time

	mu    sync.Mutex
	snap  *Snapshot
	taken time.Time
}

// Get returns a snapshot no older than Interval, probing when needed.
// Callers must not modify the returned snapshot.
func (c *Cache) Get(ctx context.Context) (*Snapshot, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	iv := c.Interval
	if iv <= 0 {
		iv = 2 * time.Second
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.snap != nil && now().Sub(c.taken) < iv {
		return c.snap, nil
	}
	s, err := Probe(ctx, c.Options)
	if err != nil {
		return nil, err
	}
	c.snap, c.taken = s, now()
	return s, nil
}

// Invalidate makes the next Get probe again (after loading a model, say).
func (c *Cache) Invalidate() {
	c.mu.Lock()
	c.snap = nil
	c.mu.Unlock()
}
