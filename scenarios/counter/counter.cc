// counter: a request counter bumped from every io thread (scenarios/counter/README.md).
#include <cstdint>
#include <string>

#include "racelab/http/scenario.h"

namespace racelab {
namespace {

std::uint64_t hits = 0;  // shared by every io thread

http::Response HandleHit(const http::Request&, http::RequestContext&) {
  ++hits;  // RACE: read-modify-write from every io thread at once
  return http::Response::Text(200, "ok\n");
}

http::Response HandleStats(const http::Request&, http::RequestContext&) {
  const std::uint64_t seen = hits;  // RACE: read while another thread writes
  return http::Response::Text(200, std::to_string(seen) + "\n");
}

}  // namespace

void RegisterScenario(http::Router& router) {
  router.Get("/hit", HandleHit);
  router.Get("/stats", HandleStats);
}

}  // namespace racelab
