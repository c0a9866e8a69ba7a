//go:build !linux

package launch

import "fmt"

// CgroupOf returns the memory cgroup process pid is in: only on Linux.
func CgroupOf(pid int) (*Cgroup, error) { return nil, fmt.Errorf("launch: %w", ErrNoCgroup) }

// NewCgroup makes a memory cgroup: only on Linux.
func NewCgroup(name string, limit uint64) (*Cgroup, error) {
	return nil, fmt.Errorf("launch: %w", ErrNoCgroup)
}

// Remove does nothing outside Linux.
func (c *Cgroup) Remove() error { return nil }

// Usage is not known outside Linux.
func (c *Cgroup) Usage() (uint64, error) { return 0, ErrNoCgroup }

// Peak is not known outside Linux.
func (c *Cgroup) Peak() (uint64, error) { return 0, ErrNoCgroup }

// Limit is not known outside Linux.
func (c *Cgroup) Limit() (uint64, bool, error) { return 0, false, ErrNoCgroup }

// OOMKills is not known outside Linux.
func (c *Cgroup) OOMKills() (uint64, error) { return 0, ErrNoCgroup }

// Stat is not known outside Linux.
func (c *Cgroup) Stat() (map[string]uint64, error) { return nil, ErrNoCgroup }
