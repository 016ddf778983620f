// A goroutine stores into a map while main reads it: the race detector
// reports the race inside the runtime's map functions (runtime.mapassign_faststr,
// runtime.mapaccess1_faststr), called from the user's code.
package main

import "fmt"

var sessions = map[string]int{}

//go:noinline
func Remember(name string) {
	sessions[name] = len(name) // RACE: map write
}

//go:noinline
func Lookup(name string) int {
	return sessions[name] // RACE: map read
}

func main() {
	done := make(chan struct{})
	go func() {
		Remember("alice")
		close(done)
	}()
	n := Lookup("alice")
	<-done
	fmt.Println("alice:", n)
}
