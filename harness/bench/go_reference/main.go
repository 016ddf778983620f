// go-reference: the counter scenario's fixed server written with Go's net/http,
// the yardstick `racelab bench-http` measures racelab's server against.
//
//	go-reference -addr 127.0.0.1:0
//
// GET /hit bumps an atomic counter and answers "ok\n", GET /stats answers the
// count, GET /healthz answers "ok\n": the same routes, status, body and header
// sizes as fixes/counter/counter.cc behind racelab's server (Server,
// Content-Type and Content-Length; no Date), so both sides put the same bytes
// on the wire. Once it accepts connections it prints
// "racelab: listening on HOST:PORT" (the line racelab's servers print), and on
// SIGTERM or SIGINT it shuts down gracefully and prints
// "racelab: shutdown complete". Standard library only.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

const drainTimeout = 5 * time.Second

var hits atomic.Uint64

// answer writes a short text body with the headers racelab's server sends.
func answer(w http.ResponseWriter, body string) {
	h := w.Header()
	h["Date"] = nil // net/http adds one unless told not to; racelab's server sends none
	h.Set("Server", "go-http")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(body))
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on (port 0 picks a free one)")
	flag.Parse()

	mux := http.NewServeMux()
	mux.HandleFunc("/hit", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		answer(w, "ok\n")
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		answer(w, strconv.FormatUint(hits.Load(), 10)+"\n")
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		answer(w, "ok\n")
	})

	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-reference: %v\n", err)
		os.Exit(2)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	fmt.Printf("racelab: listening on %s\n", listener.Addr())

	select {
	case err := <-served:
		fmt.Fprintf(os.Stderr, "go-reference: %v\n", err)
		os.Exit(1)
	case sig := <-stop:
		fmt.Fprintf(os.Stderr, "go-reference: %v received, shutting down\n", sig)
	}
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if err := server.Shutdown(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "go-reference: shutdown: %v\n", err)
		os.Exit(3)
	}
	fmt.Fprintf(os.Stderr, "go-reference: served %d hits\n", hits.Load())
	fmt.Println("racelab: shutdown complete")
}
