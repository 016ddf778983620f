// Two goroutines bump a counter through a method with no synchronization: the
// race detector reports a DATA RACE with both goroutines' creation stacks.
// Any interleaving is a race (nothing orders the two writes), so the report
// always comes; which goroutine is "previous" may vary between runs.
package main

import (
	"fmt"
	"sync"
)

type Stats struct {
	hits int
}

//go:noinline
func (s *Stats) Hit() {
	s.hits++ // RACE: both goroutines write
}

func main() {
	stats := &Stats{}
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stats.Hit()
		}()
	}
	wg.Wait()
	fmt.Println("hits:", stats.hits)
}
