// global-limiter: a token bucket every handler refills (scenarios/global-limiter/README.md).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "racelab/http/scenario.h"
#include "racelab/sync/token_bucket.h"  // FIX: TokenBucket

namespace racelab {
namespace {

// The whole service's budget: a burst of 200 requests, then one a minute.
constexpr double kPerSecond = 1.0 / 60;
constexpr int kBurst = 200;

const std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
std::atomic<std::uint64_t> admitted{0};  // requests the limiter let through

TokenBucket bucket(kPerSecond, kBurst);  // FIX: refill and take happen under the bucket's lock

// 429 Too Many Requests.
http::Response TooMany(Clock::duration wait) {  // FIX: and when the next token comes
  http::Response r = http::Response::Text(429, "slow down\n");
  const auto retry_after = std::chrono::ceil<std::chrono::seconds>(wait);  // FIX: whole seconds, up
  r.headers.push_back({"Retry-After", std::to_string(retry_after.count())});  // FIX: come back then
  return r;
}

// Middleware: serves `next` while the bucket has tokens, 429 once it is empty.
http::Handler Limited(http::Handler next) {
  return [next = std::move(next)](const http::Request& request, http::RequestContext& context) {
    const TokenBucket::Take take = bucket.take_n(bucket.clock().now(), 1);  // FIX: one locked step
    if (!take.allowed) return TooMany(take.wait);  // FIX: 429 with Retry-After
    admitted.fetch_add(1, std::memory_order_relaxed);
    return next(request, context);
  };
}

http::Response HandleQuote(const http::Request&, http::RequestContext&) {
  return http::Response::Text(200, "quote 42\n");
}

// GET /stats: "ADMITTED admitted of at most ALLOWANCE (burst B + R/s x T s)".
http::Response HandleStats(const http::Request&, http::RequestContext&) {
  const std::chrono::duration<double> up = std::chrono::steady_clock::now() - started;
  const auto allowance = static_cast<std::uint64_t>(kBurst + kPerSecond * up.count());
  return http::Response::Text(200, std::to_string(admitted.load()) + " admitted of at most " +
                                       std::to_string(allowance) + " (burst " +
                                       std::to_string(kBurst) + " + 1/min x " +
                                       std::to_string(up.count()) + " s)\n");
}

}  // namespace

void RegisterScenario(http::Router& router) {
  router.Get("/quote", Limited(HandleQuote));
  router.Get("/stats", HandleStats);
}

}  // namespace racelab
