// racelab-load: drives a server with real HTTP load and prints what happened
// as one JSON object.
//
//   racelab-load --port 8080 --connections 8 --requests 4000 --path /hit \
//                --path /stats --pid 1234
//
// N keep-alive connections, each on its own thread ("rl-load-N"), take
// request numbers from one shared counter until `--requests` are taken; the
// path of request i is paths[i % len(paths)]. With --disconnects D, D of the
// requests (spread evenly) are sent and the connection closed before the
// answer: a client that gave up. With --pid, a sampler thread reads that
// process's thread count from /proc during the run and reports the peak.
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
// Exit status: 0 when it ran (whatever the server answered), 2 on a usage
// error or when no connection could be made at all.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "racelab/base/thread_name.h"
#include "racelab/http/client.h"
#include "racelab/sync/mutex.h"

namespace {

using std::chrono::steady_clock;
constexpr int kExitUsage = 2;

struct LoadOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  int connections = 8;
  long long requests = 1000;
  long long disconnects = 0;
  std::vector<std::string> paths{"/"};
  std::vector<racelab::http::Header> headers;  // values may hold "{n}"
  long pid = 0;
  long long timeout_ms = 10'000;
};

// Counts of requests, for one path or for all.
struct Counts {
  long long completed = 0;  // answered, any status
  long long transport_errors = 0;
  long long disconnects = 0;
  std::map<int, long long> by_status;

  void Add(const Counts& other) {
    completed += other.completed;
    transport_errors += other.transport_errors;
    disconnects += other.disconnects;
    for (const auto& [status, n] : other.by_status) by_status[status] += n;
  }

  // {"requests": N, "status": {"200": N, ...}, "transport_errors": N,
  // "disconnects": N}: the keys of the totals, which keep their order.
  boost::json::object ToJson() const {
    boost::json::object status;
    for (const auto& [code, n] : by_status) status[std::to_string(code)] = n;
    return {{"requests", completed},
            {"status", std::move(status)},
            {"transport_errors", transport_errors},
            {"disconnects", disconnects}};
  }
};

// What one connection's thread saw; merged after all threads are joined.
struct ConnectionTally {
  Counts total;
  std::map<std::string, Counts> by_path;
  std::vector<double> latency_ms;
  std::string first_error;

  // Counts one request to `path`: `update` bumps the fields of both the
  // total and the path's counts.
  template <typename Update>
  void Count(const std::string& path, Update update) {
    update(total);
    update(by_path[path]);
  }
};

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
  const auto is_tchar = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  };
  if (colon == std::string_view::npos || name.empty() ||
      !std::all_of(name.begin(), name.end(), is_tchar)) {
    *error =
        "--header wants 'Name: value' with a token for a name, got '" + std::string(line) + "'";
    return std::nullopt;
  }
  if (line.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    *error = "--header '" + std::string(name) + "': a CR, LF or NUL in the value";
    return std::nullopt;
  }
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  return racelab::http::Header{std::string(name), std::string(value)};
}

// The headers of request number i: every "{n}" replaced by i.
std::vector<racelab::http::Header> HeadersFor(long long i, const LoadOptions& o) {
  std::vector<racelab::http::Header> out = o.headers;
  const std::string number = std::to_string(i);
  for (racelab::http::Header& h : out) {
    for (auto at = h.value.find("{n}"); at != std::string::npos; at = h.value.find("{n}", at)) {
      h.value.replace(at, 3, number);
      at += number.size();
    }
  }
  return out;
}

bool IsHangUp(long long i, const LoadOptions& o) {
  if (o.disconnects <= 0) return false;
  const long long stride = std::max(1LL, o.requests / o.disconnects);
  return (i + 1) % stride == 0 && (i + 1) / stride <= o.disconnects;
}

void DriveConnection(int index, const LoadOptions& o, std::atomic<long long>& next,
                     ConnectionTally& tally) {
  racelab::SetCurrentThreadName("rl-load-" + std::to_string(index));
  racelab::http::Client client(o.host, o.port, std::chrono::milliseconds(o.timeout_ms));
  for (long long i = next.fetch_add(1); i < o.requests; i = next.fetch_add(1)) {
    const std::string& path = o.paths[static_cast<std::size_t>(i) % o.paths.size()];
    const std::vector<racelab::http::Header> headers = HeadersFor(i, o);
    if (IsHangUp(i, o)) {
      if (std::string err = client.SendAndHangUp(path, headers); err.empty()) {
        tally.Count(path, [](Counts& c) { ++c.disconnects; });
      } else {
        tally.Count(path, [](Counts& c) { ++c.transport_errors; });
        if (tally.first_error.empty()) tally.first_error = err;
      }
      continue;
    }
    const auto start = steady_clock::now();
    racelab::http::ClientResult r = client.Send(racelab::http::Method::kGet, path, {}, headers);
    const std::chrono::duration<double, std::milli> took = steady_clock::now() - start;
    if (!r.ok()) {
      tally.Count(path, [](Counts& c) { ++c.transport_errors; });
      if (tally.first_error.empty()) tally.first_error = r.error;
      continue;
    }
    tally.Count(path, [&](Counts& c) {
      ++c.completed;
      ++c.by_status[r.status];
    });
    tally.latency_ms.push_back(took.count());
  }
}

double Percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0.0;
  const auto rank = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(rank, sorted.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  racelab::SetCurrentThreadName("rl-load-main");
  LoadOptions o;
  CLI::App app{"racelab-load: drive an HTTP server with keep-alive load; prints JSON"};
  app.add_option("--host", o.host, "server address");
  app.add_option("--port", o.port, "server port")->required()->check(CLI::Range(1, 65535));
  app.add_option("--connections,-c", o.connections, "keep-alive connections (one thread each)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--requests,-n", o.requests, "total requests")->check(CLI::Range(0LL, 1LL << 40));
  app.add_option("--path", o.paths, "request path; repeat for a round-robin mix")->expected(1, -1);
  app.add_option("--disconnects", o.disconnects, "requests whose client hangs up before the answer")
      ->check(CLI::Range(0LL, 1LL << 40));
  std::vector<std::string> header_lines;
  app.add_option("--header,-H", header_lines,
                 "'Name: value' sent with every request; repeat for more lines; "
                 "{n} in the value is the request's number")
      ->expected(1, -1);
  app.add_option("--pid", o.pid, "process whose peak thread count to sample");
  app.add_option("--timeout-ms", o.timeout_ms, "deadline of each request")
      ->check(CLI::Range(1LL, 3'600'000LL));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  for (const std::string& p : o.paths) {
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
    o.headers.push_back(std::move(*header));
  }

  ThreadCountSampler sampler(o.pid);
  std::atomic<long long> next{0};
  std::vector<ConnectionTally> tallies(static_cast<std::size_t>(o.connections));
  const auto start = steady_clock::now();
  {
    std::vector<std::jthread> threads;
    for (int c = 0; c < o.connections; ++c) {
      threads.emplace_back(DriveConnection, c, std::cref(o), std::ref(next), std::ref(tallies[c]));
    }
  }  // joined
  const std::chrono::duration<double, std::milli> elapsed = steady_clock::now() - start;
  sampler.Stop();

  ConnectionTally total;
  for (const std::string& path : o.paths) total.by_path[path];  // every path, even unsent
  for (ConnectionTally& t : tallies) {
    total.total.Add(t.total);
    for (const auto& [path, counts] : t.by_path) total.by_path[path].Add(counts);
    total.latency_ms.insert(total.latency_ms.end(), t.latency_ms.begin(), t.latency_ms.end());
    if (total.first_error.empty()) total.first_error = t.first_error;
  }
  std::sort(total.latency_ms.begin(), total.latency_ms.end());

  boost::json::object paths;
  for (const auto& [path, counts] : total.by_path) paths[path] = counts.ToJson();
  boost::json::object out = total.total.ToJson();
  out.insert({
      {"latency_ms",
       {{"p50", Percentile(total.latency_ms, 0.50)},
        {"p90", Percentile(total.latency_ms, 0.90)},
        {"p99", Percentile(total.latency_ms, 0.99)},
        {"max", total.latency_ms.empty() ? 0.0 : total.latency_ms.back()}}},
      {"elapsed_ms", elapsed.count()},
      {"paths", std::move(paths)},
  });
  if (auto peak = sampler.Peak()) {
    out["peak_threads"] = *peak;
  } else {
    out["peak_threads"] = nullptr;
  }
  out["first_error"] = total.first_error.empty() ? boost::json::value(nullptr)
                                                 : boost::json::value(total.first_error);
  std::printf("%s\n", boost::json::serialize(out).c_str());

  const Counts& all = total.total;
  if (all.completed == 0 && all.disconnects == 0 && all.transport_errors > 0) {
    std::fprintf(stderr, "racelab-load: no request got through: %s\n", total.first_error.c_str());
    return kExitUsage;
  }
  return 0;
}
