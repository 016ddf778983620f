// The load engine behind racelab-load: drives an HTTP server with GET
// requests over many keep-alive connections from a few threads, and counts
// what came back.
//
//   LoadPlan plan;
//   plan.port = 8080;
//   plan.connections = 32;
//   plan.requests = 100'000;
//   plan.paths = {"/hit", "/stats"};
//   LoadReport report = RunLoad(plan);  // blocks until every request is over
//
// Threads: RunLoad starts min(plan.threads, plan.connections) driver threads,
// "rl-load-0", "rl-load-1", ..., and joins them before it returns. Driver N
// owns connections N, N + threads, N + 2 * threads, ...: non-blocking
// sockets it waits on in an epoll set of its own; nothing of a connection is
// touched by another thread.
//
// Requests: numbers 0, 1, 2, ... are taken from one shared counter, one at a
// time by whichever connection is free, until plan.requests are taken. The
// path of request i is paths[i % paths.size()]; its head is built once per
// path, and only the "{n}" of header values (replaced by i) is written per
// request, into a buffer the connection reuses. A request is one of:
//   - answered: its status is counted and its latency (from being taken to
//     its whole answer, a connect included) recorded;
//   - a transport error: refused, reset, closed early, a malformed answer,
//     or its deadline passed (plan.timeout from being taken, for connect,
//     write and read together). The connection is closed; its next request
//     opens a new one. The first error a driver saw is kept;
//   - a hang-up (IsHangUp): sent whole, then the connection closed before
//     the answer: a client that gave up. Counted in `disconnects`.
// So requests + transport_errors + disconnects == plan.requests, in total
// and summed over the paths. A server that answers "Connection: close" (or
// runs a body to the end of the stream) gets a new connection for the next
// request; that is not an error.
//
// Thread-safety: RunLoad may be called from any thread; calls share nothing.
// It blocks the caller until every request is over (a server that never
// answers costs plan.timeout per request, never a hang).
//
// Memory ordering: the counts each driver kept are read after joining it.
#ifndef RACELAB_HTTP_LOAD_ENGINE_H_
#define RACELAB_HTTP_LOAD_ENGINE_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "racelab/http/message.h"

namespace racelab::http {

struct LoadPlan {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  int connections = 8;  // >= 1
  int threads = 1;      // >= 1; more than `connections` is cut to it
  long long requests = 1000;
  long long disconnects = 0;                  // hang-ups among the requests, spread evenly
  std::vector<std::string> paths{"/"};        // each starts with '/'; at least one
  std::vector<Header> headers;                // sent in order, after Host and User-Agent;
                                              // "{n}" in a value becomes the request's number
  std::chrono::milliseconds timeout{10'000};  // per request
};

// Counts of requests, for one path or for all.
struct LoadCounts {
  long long completed = 0;  // answered, any status
  long long transport_errors = 0;
  long long disconnects = 0;
  std::map<int, long long> by_status;

  void Add(const LoadCounts& other);
};

struct LoadReport {
  LoadCounts total;
  std::map<std::string, LoadCounts> by_path;             // every path of the plan, even unsent
  std::vector<double> latency_ms;                        // of answered requests, sorted
  std::string first_error;                               // "" when there was none
  std::chrono::duration<double, std::milli> elapsed{0};  // threads started to joined
  int threads = 0;                                       // driver threads it ran
};

// Runs `plan` to its end (see the top of this file) and reports it.
LoadReport RunLoad(const LoadPlan& plan);

// Whether request `request` is one of the plan's hang-ups: every
// (requests / disconnects)-th request, the first `disconnects` of them.
bool IsHangUp(long long request, const LoadPlan& plan);

// The driver threads for `connections` when none are asked for: one per
// core this process may run on, at most one per connection.
int DefaultDriverThreads(int connections);

}  // namespace racelab::http

#endif  // RACELAB_HTTP_LOAD_ENGINE_H_
