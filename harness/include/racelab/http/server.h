// Server: the HTTP/1.1 server every scenario runs on. Boost.Beast underneath,
// compiled once in harness/src; nothing of it shows here.
//
//   racelab::http::Router router;
//   router.Get("/hit", HandleHit);
//   racelab::http::Server server(options, std::move(router));
//   std::uint16_t port = server.Start();   // bound and serving
//   ...
//   server.Shutdown();                      // graceful; returns when done
//
// Several io threads (ServerOptions::io_threads, one per core by default,
// named "rl-io-N") run handlers, so handlers on different connections really
// run at once. One more thread, "rl-accept", takes connections and deals
// them to the io threads in turn; each is served by its thread alone, in
// order, from accept to close: a handler that blocks holds up the other
// connections of its thread, never those of the others, nor the accepting
// of new ones. Keep-alive and pipelined requests are answered in order.
//
// A client that hangs up while its request is handled cancels the request's
// RequestContext at once: one more thread, "rl-hangup", watches the sockets
// of the open connections (http/internal/hangup_watcher.h).
//
// Hardened: a header block over header_limit answers 431, a body over
// body_limit 413, a malformed request 400, and each of them closes the
// connection; a client that is idle or too slow to send a whole request
// within read_timeout is disconnected. No request makes the server exit. A
// handler's response that cannot be sent as it is (a status that is not
// three digits; a header name that is not a token, or a CR, LF or NUL in a
// header value: response splitting) is replaced by a 500 saying why.
//
// Shutdown: stop accepting; idle keep-alive connections are closed; requests
// in flight finish and are answered (with "Connection: close"). If they are
// not done within drain_timeout, their RequestContexts are cancelled and the
// server stops waiting for them after a further cancel_grace.
//
// Thread-safety: Start, Shutdown and the destructor are for the owning
// thread. port() and stats() may be called from any thread.
//
// Memory ordering: Start happens-before every handler call; every handler
// call that finished happens-before Shutdown returning.
#ifndef RACELAB_HTTP_SERVER_H_
#define RACELAB_HTTP_SERVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "racelab/http/router.h"

namespace racelab::http {

// The number of cores (at least 1, at most 256): the default io_threads.
int DefaultIoThreads();

struct ServerOptions {
  std::string host = "127.0.0.1";  // loopback unless told otherwise
  std::uint16_t port = 0;          // 0: the kernel picks a free port
  int io_threads = DefaultIoThreads();
  std::size_t header_limit = 8 * 1024;
  std::size_t body_limit = 1024 * 1024;
  std::chrono::milliseconds read_timeout{10'000};  // idle or slow client
  std::chrono::milliseconds write_timeout{10'000};
  std::chrono::milliseconds drain_timeout{5'000};
  std::chrono::milliseconds cancel_grace{2'000};
};

struct ServerStats {
  std::uint64_t requests = 0;     // requests answered, any status
  std::uint64_t rejected = 0;     // 4xx answered by the server itself
  std::uint64_t connections = 0;  // connections accepted
  std::uint64_t open_connections = 0;
};

// How Server::Shutdown() ended.
enum class ServerShutdown {
  kDrained,    // every request in flight was answered
  kCancelled,  // drain deadline passed; late requests were cancelled and
               // finished within cancel_grace
  kStuck,      // handlers still running after cancel_grace: io threads are
               // left behind; the process should exit non-zero
};

class Server {
 public:
  // Takes the router; the options are validated at Start.
  Server(ServerOptions options, Router router);
  // Shuts down if still running.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts the io threads, each named before it returns.
  // Returns the bound port.
  // Throws std::runtime_error naming the address when it cannot bind, and
  // std::invalid_argument for bad options.
  std::uint16_t Start();

  // Registers `fn` to run once Shutdown has stopped intake and begun
  // draining, before it waits for requests in flight (as Go's
  // Server.RegisterOnShutdown): the place to wake long-polling handlers.
  // Runs on the thread that calls Shutdown. Requires: called before Start.
  void OnShutdown(std::function<void()> fn);

  // Graceful shutdown as described above. Blocks until it is over.
  // Calling it again, or before Start, returns kDrained at once.
  ServerShutdown Shutdown();

  std::uint16_t port() const;
  ServerStats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The whole program for a scenario server: parses the flags (--host, --port,
// --threads, --drain-timeout-ms, --read-timeout-ms, --body-limit), adds the
// built-in routes (/healthz, /debug/threads), starts the server, prints
// "racelab: listening on HOST:PORT" on stdout, waits for SIGTERM or SIGINT,
// shuts down, runs the router's AfterShutdown hooks and returns the exit
// status (0, 2 on a usage or bind error, 3 when shutdown got stuck: the
// process then ends at once, hooks not run, since handlers may still use
// what they would stop). Call it from main on the main thread only, with
// BlockStopSignals() called before any other thread was started.
int RunServerMain(int argc, char** argv, Router router);

// Blocks SIGTERM and SIGINT in the calling thread. Threads it starts later
// inherit the mask, so the signals stay pending until RunServerMain's sigwait
// takes them, whichever thread the kernel picks; a thread started before
// would die of them, and the process with it, without a graceful shutdown.
// main() calls it first, so that RegisterScenario may start threads.
// Idempotent.
void BlockStopSignals();

// Adds GET /healthz ("ok") and GET /debug/threads (JSON list of {tid, name}).
void AddBuiltinRoutes(Router& router);

}  // namespace racelab::http

#endif  // RACELAB_HTTP_SERVER_H_
