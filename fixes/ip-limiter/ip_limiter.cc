// ip-limiter: a limiter map keyed by a forgeable header (scenarios/ip-limiter/README.md).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>  // FIX: std::optional
#include <string>
#include <utility>  // FIX: std::move

#include "racelab/http/client_ip.h"   // FIX: ClientIpResolver
#include "racelab/http/rate_limit.h"  // FIX: RateLimitHeaders
#include "racelab/http/scenario.h"
#include "racelab/sync/keyed_limiter.h"  // FIX: KeyedLimiter

namespace racelab {
namespace {

// Each client's budget: a burst of 20 requests, then one a minute.
constexpr double kPerSecond = 1.0 / 60;
constexpr int kBurst = 20;
constexpr auto kIdle = std::chrono::minutes(10);  // a client idle this long is forgotten
constexpr auto kSweepEvery = std::chrono::milliseconds(100);  // how often to look for them

std::atomic<std::uint64_t> admitted{0};  // requests the limiter let through

std::optional<KeyedLimiter> limiter;  // FIX: a bucket per client, locked, and a sweeper it joins
const http::TrustedProxies proxies = *http::TrustedProxies::Parse("127.0.0.1");  // FIX: our proxy
const http::ClientIpResolver clients({.trusted = proxies});  // FIX: believes only what it appended

// The client a request counts against.
std::string ClientOf(const http::Request& request) {
  return clients.Key(request);  // FIX: the address our proxy saw, never one the client wrote
}

// 429 Too Many Requests.
http::Response TooMany(const Decision& decision) {  // FIX: and when to come back
  http::Response r = http::Response::Text(429, "slow down\n");
  r.headers = http::RateLimitHeaders(decision);  // FIX: Retry-After, RateLimit-Limit, -Remaining
  return r;
}

http::Response HandleQuote(const http::Request& request, http::RequestContext&) {
  const Decision decision = limiter->allow(ClientOf(request));  // FIX: under the key's shard lock
  if (!decision.allowed) return TooMany(decision);              // FIX: 429 with Retry-After
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
  KeyedLimiterOptions options;                    // FIX: the limiter's settings:
  options.limits = {kPerSecond, kBurst};          // FIX: each client's budget, as before
  options.idle_ttl = kIdle;                       // FIX: when a client may be forgotten
  options.cleanup_interval = kSweepEvery;         // FIX: its sweeper waits on a condition variable
  limiter.emplace(std::move(options));            // FIX: starts the sweeper
  router.AfterShutdown([] { limiter.reset(); });  // FIX: the destructor stops and joins it
}

}  // namespace racelab
