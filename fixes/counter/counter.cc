// counter: a request counter bumped from every io thread (scenarios/counter/README.md).
#include <atomic>  // FIX: std::atomic
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
