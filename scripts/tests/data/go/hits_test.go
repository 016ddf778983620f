package hits

import (
	"sync"
	"testing"
)

const workers = 4

// hitFromWorkers calls hit once from each of `workers` goroutines and waits.
func hitFromWorkers(hit func()) {
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hit()
		}()
	}
	wg.Wait()
}

// TestRacyHits bumps Racy from several goroutines: the race detector reports
// a DATA RACE on Racy.n and fails the test.
func TestRacyHits(t *testing.T) {
	var c Racy
	hitFromWorkers(c.Hit)
}

// TestGuardedHits does the same with Guarded: clean, and it shows that it
// ran by checking the count.
func TestGuardedHits(t *testing.T) {
	var c Guarded
	hitFromWorkers(c.Hit)
	if got := c.Count(); got != workers {
		t.Fatalf("Count() = %d after %d hits", got, workers)
	}
	t.Logf("hits: %d", c.Count())
}
