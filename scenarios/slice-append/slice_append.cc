// slice-append: every handler appends to one vector (scenarios/slice-append/README.md).
#include <cstdint>
#include <string>
#include <vector>

#include "racelab/http/scenario.h"

namespace racelab {
namespace {

// The events of the process: one digest per request. Room for 65,536 is reserved up
// front, more than a run sends, so no append reallocates: the race loses
// events, never the heap.
std::vector<std::uint64_t> events = [] {
  std::vector<std::uint64_t> log;
  log.reserve(65'536);
  return log;
}();

// The work a request does before it logs its event (a stand-in): a digest.
std::uint64_t Digest(std::uint64_t request_id) {
  std::uint64_t digest = request_id;
  for (std::uint64_t i = 0; i < 400'000; ++i) digest = digest * 31 + i;
  return digest;
}

http::Response HandleEvent(const http::Request&, http::RequestContext& context) {
  const std::uint64_t digest = Digest(context.request_id());
  events.push_back(digest);  // RACE: every io thread appends at once
  return http::Response::Text(200, "recorded\n");
}

http::Response HandleEvents(const http::Request&, http::RequestContext&) {
  const std::size_t count = events.size();  // RACE: read while handlers append
  return http::Response::Text(200, std::to_string(count) + " events\n");
}

}  // namespace

void RegisterScenario(http::Router& router) {
  router.Get("/event", HandleEvent);
  router.Get("/events", HandleEvents);
}

}  // namespace racelab
