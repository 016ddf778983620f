// racelab-load: drives a server with real HTTP load and prints what happened
// as one JSON object.
//
//   racelab-load --port 8080 --connections 8 --requests 4000 --path /hit \
//                --path /stats --pid 1234
//
// N keep-alive connections take request numbers from one shared counter
// until `--requests` are taken; the path of request i is
// paths[i % len(paths)]. A few driver threads ("rl-load-N"; --threads, by
// default one per core, never more than --connections) each drive their
// share of the connections over non-blocking sockets (racelab/http/
// load_engine.h). With --disconnects D, D of the requests (spread evenly)
// are sent and the connection closed before the answer: a client that gave
// up. With --pid, a sampler thread reads that process's thread count from
// /proc during the run and reports the peak.
//
// --header "Name: value" (repeatable) adds a line to every request, in the
// order given; a name given twice is sent as two lines. "{n}" in a value
// becomes the request's number (0, 1, 2, ...), so one flag can make every
// request look different, as a client that forges its own address does:
//   --header "X-Forwarded-For: 2001:db8::{n}" --header "X-Forwarded-For: 203.0.113.7"
//
// The JSON has the totals ("requests" answered, "status" counts,
// "transport_errors", "disconnects", latencies, "elapsed_ms",
// "peak_threads", "first_error") and the same counts per path, so that a
// caller can check an invariant such as "GET /stats says as many hits as
// /hit got 200s":
//   "paths": {"/hit": {"requests": 500, "status": {"200": 500},
//                      "transport_errors": 0, "disconnects": 0}, ...}
//
// Each request has one deadline, --timeout-ms, for its connect, write and
// read together; one that passes it is a transport error, as are a refused
// or reset connection and a malformed answer ("first_error" says the first).
//
// Exit status: 0 when it ran (whatever the server answered), 2 on a usage
// error or when no connection could be made at all (no request answered or
// hung up, only transport errors).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "racelab/base/thread_name.h"
#include "racelab/http/load_engine.h"
#include "racelab/sync/mutex.h"

namespace {

constexpr int kExitUsage = 2;

// {"requests": N, "status": {"200": N, ...}, "transport_errors": N,
// "disconnects": N}: the keys of the totals, which keep their order.
boost::json::object CountsToJson(const racelab::http::LoadCounts& counts) {
  boost::json::object status;
  for (const auto& [code, n] : counts.by_status) status[std::to_string(code)] = n;
  return {{"requests", counts.completed},
          {"status", std::move(status)},
          {"transport_errors", counts.transport_errors},
          {"disconnects", counts.disconnects}};
}

// Samples the thread count of `pid` until stopped; Peak() after Stop().
class ThreadCountSampler {
 public:
  explicit ThreadCountSampler(long pid) : pid_(pid) {
    if (pid_ > 0) thread_ = std::thread([this] { Loop(); });
  }
  ~ThreadCountSampler() { Stop(); }

  void Stop() RACELAB_EXCLUDES(mu_) {
    {
      racelab::MutexLock lock(mu_);
      stop_ = true;
    }
    wake_.NotifyAll();
    if (thread_.joinable()) thread_.join();
  }
  std::optional<int> Peak() const {
    return pid_ > 0 ? std::optional<int>(peak_.load()) : std::nullopt;
  }

 private:
  void Loop() RACELAB_EXCLUDES(mu_) {
    racelab::SetCurrentThreadName("rl-load-sample");
    racelab::MutexLock lock(mu_);
    while (true) {
      const int n = racelab::CountThreads(pid_);
      if (n > peak_.load()) peak_.store(n);
      // A periodic sample, woken early by Stop(): not coordination by sleep.
      if (wake_.WaitFor(lock, std::chrono::milliseconds(2),
                        [this]() RACELAB_REQUIRES(mu_) { return stop_; })) {
        return;
      }
    }
  }

  const long pid_;
  std::atomic<int> peak_{0};
  racelab::Mutex mu_;
  bool stop_ RACELAB_GUARDED_BY(mu_) = false;
  racelab::CondVar wake_;
  std::thread thread_;
};

// "Name: value" -> {Name, value}, the value without surrounding blanks; an
// error text when the name is not an HTTP token (RFC 9110 5.6.2) or the line
// holds a CR, LF or NUL.
std::optional<racelab::http::Header> ParseHeader(std::string_view line, std::string* error) {
  const auto colon = line.find(':');
  const std::string_view name = line.substr(0, colon);
  if (colon == std::string_view::npos || !racelab::http::IsFieldName(name)) {
    *error =
        "--header wants 'Name: value' with a token for a name, got '" + std::string(line) + "'";
    return std::nullopt;
  }
  if (!racelab::http::IsFieldValue(line)) {
    *error = "--header '" + std::string(name) + "': a CR, LF or NUL in the value";
    return std::nullopt;
  }
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  return racelab::http::Header{std::string(name), std::string(value)};
}

double Percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0.0;
  const auto rank = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(rank, sorted.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  racelab::SetCurrentThreadName("rl-load-main");
  racelab::http::LoadPlan plan;
  plan.paths = {"/"};
  long pid = 0;
  long long timeout_ms = 10'000;
  int threads = 0;  // 0: one per core
  CLI::App app{"racelab-load: drive an HTTP server with keep-alive load; prints JSON"};
  app.add_option("--host", plan.host, "server address");
  app.add_option("--port", plan.port, "server port")->required()->check(CLI::Range(1, 65535));
  app.add_option("--connections,-c", plan.connections,
                 "keep-alive connections, shared among the driver threads")
      ->check(CLI::Range(1, 1024));
  app.add_option("--threads", threads,
                 "driver threads (default: one per core; never more than --connections)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--requests,-n", plan.requests, "total requests")
      ->check(CLI::Range(0LL, 1LL << 40));
  app.add_option("--path", plan.paths, "request path; repeat for a round-robin mix")
      ->expected(1, -1);
  app.add_option("--disconnects", plan.disconnects,
                 "requests whose client hangs up before the answer")
      ->check(CLI::Range(0LL, 1LL << 40));
  std::vector<std::string> header_lines;
  app.add_option("--header,-H", header_lines,
                 "'Name: value' sent with every request; repeat for more lines; "
                 "{n} in the value is the request's number")
      ->expected(1, -1);
  app.add_option("--pid", pid, "process whose peak thread count to sample");
  app.add_option("--timeout-ms", timeout_ms, "deadline of each request")
      ->check(CLI::Range(1LL, 3'600'000LL));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  for (const std::string& p : plan.paths) {
    if (p.empty() || p[0] != '/') {
      std::fprintf(stderr, "racelab-load: --path must start with '/', got '%s'\n", p.c_str());
      return kExitUsage;
    }
  }
  for (const std::string& line : header_lines) {
    std::string error;
    std::optional<racelab::http::Header> header = ParseHeader(line, &error);
    if (!header) {
      std::fprintf(stderr, "racelab-load: %s\n", error.c_str());
      return kExitUsage;
    }
    plan.headers.push_back(std::move(*header));
  }
  plan.threads = threads > 0 ? std::min(threads, plan.connections)
                             : racelab::http::DefaultDriverThreads(plan.connections);
  plan.timeout = std::chrono::milliseconds(timeout_ms);

  ThreadCountSampler sampler(pid);
  racelab::http::LoadReport report = racelab::http::RunLoad(plan);
  sampler.Stop();

  boost::json::object paths;
  for (const auto& [path, counts] : report.by_path) paths[path] = CountsToJson(counts);
  boost::json::object out = CountsToJson(report.total);
  out.insert({
      {"latency_ms",
       {{"p50", Percentile(report.latency_ms, 0.50)},
        {"p90", Percentile(report.latency_ms, 0.90)},
        {"p99", Percentile(report.latency_ms, 0.99)},
        {"max", report.latency_ms.empty() ? 0.0 : report.latency_ms.back()}}},
      {"elapsed_ms", report.elapsed.count()},
      {"paths", std::move(paths)},
  });
  if (auto peak = sampler.Peak()) {
    out["peak_threads"] = *peak;
  } else {
    out["peak_threads"] = nullptr;
  }
  out["first_error"] = report.first_error.empty() ? boost::json::value(nullptr)
                                                  : boost::json::value(report.first_error);
  std::printf("%s\n", boost::json::serialize(out).c_str());

  const racelab::http::LoadCounts& all = report.total;
  if (all.completed == 0 && all.disconnects == 0 && all.transport_errors > 0) {
    std::fprintf(stderr, "racelab-load: no request got through: %s\n", report.first_error.c_str());
    return kExitUsage;
  }
  return 0;
}
