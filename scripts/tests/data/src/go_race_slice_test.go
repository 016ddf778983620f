// A test appends to a shared slice from two goroutines: `go test -race` prints
// the DATA RACE block between the test's own output and fails the test with
// "race detected during execution of test".
package main

import (
	"sync"
	"testing"
)

type Log struct {
	lines []string
}

//go:noinline
func (l *Log) Add(line string) {
	l.lines = append(l.lines, line) // RACE: both goroutines append
}

func TestConcurrentAppend(t *testing.T) {
	log := &Log{}
	var wg sync.WaitGroup
	for _, who := range []string{"alpha", "beta"} {
		wg.Add(1)
		go func(who string) {
			defer wg.Done()
			log.Add(who)
		}(who)
	}
	wg.Wait()
	t.Logf("lines: %d", len(log.lines))
}
