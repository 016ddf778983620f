// ip-limiter: a limiter map keyed by a forgeable header (scenarios/ip-limiter/README.md).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "racelab/base/thread_name.h"
#include "racelab/http/scenario.h"

namespace racelab {
namespace {

// Each client's budget: a burst of 20 requests, then one a minute.
constexpr double kPerSecond = 1.0 / 60;
constexpr int kBurst = 20;
constexpr auto kIdle = std::chrono::minutes(10);  // a client idle this long is forgotten
constexpr auto kSweepEvery = std::chrono::milliseconds(100);  // how often to look for them

std::atomic<std::uint64_t> admitted{0};  // requests the limiter let through

// One client's bucket: `tokens` left at instant `last`.
struct Bucket {
  double tokens = kBurst;
  std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
};
// Buckets by client. 8192 buckets, more than a run ever inserts: the map never rehashes, so
// the race corrupts it without freeing memory under a reader. Never destroyed: the sweeper,
// which nobody stops, may still walk it while the process exits.
auto& buckets = *new std::unordered_map<std::string, Bucket>(8192);

// The client a request counts against.
std::string ClientOf(const http::Request& request) {
  const std::string_view forwarded = request.header("X-Forwarded-For");
  if (forwarded.empty()) return request.peer_address;
  return std::string(forwarded.substr(0, forwarded.find(',')));  // written by the client itself
}

// Refills the client's bucket for the time since its last request, then takes a token.
bool TakeToken(const std::string& client) {
  const std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now();
  Bucket& bucket = buckets.try_emplace(client).first->second;  // RACE: inserts from every io thread
  const std::chrono::duration<double> idle = now - bucket.last;
  bucket.tokens = std::min<double>(kBurst, bucket.tokens + idle.count() * kPerSecond);
  bucket.last = now;
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}

// Forgets the clients idle for kIdle, every kSweepEvery, for as long as the process lives.
void SweepForever() {
  SetCurrentThreadName("rl-ip-sweeper");
  while (true) {  // no way out: nobody can stop this thread, or wait for it
    std::this_thread::sleep_for(kSweepEvery);
    const std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now();
    for (auto it = buckets.begin(); it != buckets.end();) {  // RACE: walks while handlers insert
      const bool idle = now - it->second.last > kIdle;       // RACE: reads what a handler wrote
      it = idle ? buckets.erase(it) : std::next(it);         // RACE: follows links handlers rewrite
    }
  }
}

// 429 Too Many Requests.
http::Response TooMany() {
  http::Response r = http::Response::Text(429, "slow down\n");
  return r;
}

http::Response HandleQuote(const http::Request& request, http::RequestContext&) {
  if (!TakeToken(ClientOf(request))) return TooMany();
  admitted.fetch_add(1, std::memory_order_relaxed);
  return http::Response::Text(200, "quote 42\n");
}

// GET /stats: "ADMITTED admitted, at most BURST per client (+ 1/min)".
http::Response HandleStats(const http::Request&, http::RequestContext&) {
  return http::Response::Text(200, std::to_string(admitted.load()) + " admitted, at most " +
                                       std::to_string(kBurst) + " per client (+ 1/min)\n");
}

}  // namespace

void RegisterScenario(http::Router& router) {
  router.Get("/quote", HandleQuote);
  router.Get("/stats", HandleStats);
  std::thread(SweepForever).detach();  // runs until the process dies
}

}  // namespace racelab
