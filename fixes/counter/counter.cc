// counter: a request counter bumped without synchronization.
//
// Every GET /hit increments one shared integer; GET /stats reads it. The
// server runs handlers on several io threads at once, so two increments can
// interleave: both load 41, both store 42, one hit is lost. TSan reports the
// unsynchronized read-modify-write as a data race.
#include <atomic>
#include <cstdint>
#include <string>

#include "racelab/http/scenario.h"

namespace racelab {
namespace {

std::atomic<std::uint64_t> hits{0};  // FIX: an atomic counter

http::Response HandleHit(const http::Request&, http::RequestContext&) {
  hits.fetch_add(1, std::memory_order_relaxed);  // FIX: one indivisible increment
  return http::Response::Text(200, "ok\n");
}

http::Response HandleStats(const http::Request&, http::RequestContext&) {
  const std::uint64_t seen = hits.load(std::memory_order_relaxed);  // FIX: atomic read
  return http::Response::Text(200, std::to_string(seen) + "\n");
}

}  // namespace

void RegisterScenario(http::Router& router) {
  router.Get("/hit", HandleHit);
  router.Get("/stats", HandleStats);
}

}  // namespace racelab
