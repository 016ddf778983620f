// Package hits counts requests from many goroutines: Racy with no
// synchronization, Guarded under a mutex. The gate tests run `go test -race`
// on it (racelab gate -- go test -race ./...).
package hits

import "sync"

// Racy is a hit counter that goroutines bump without synchronization.
type Racy struct {
	n int
}

//go:noinline
func (c *Racy) Hit() {
	c.n++ // RACE: every goroutine writes n unguarded
}

// Guarded is the same counter, each bump under its mutex.
type Guarded struct {
	mu sync.Mutex // FIX: a mutex guards n
	n  int
}

//go:noinline
func (c *Guarded) Hit() {
	c.mu.Lock() // FIX: bump n under the mutex
	c.n++
	c.mu.Unlock()
}

// Count is the number of hits so far.
func (c *Guarded) Count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
