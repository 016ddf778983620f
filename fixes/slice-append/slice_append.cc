// slice-append: every handler appends to one vector (scenarios/slice-append/README.md).
#include <cstdint>
#include <string>
#include <vector>

#include "racelab/http/scenario.h"
#include "racelab/sync/mutex.h"  // FIX: Mutex, MutexLock, RACELAB_GUARDED_BY

namespace racelab {
namespace {

// The events of the process: one digest per request. Room for 65,536 is reserved up
// front, more than a run sends, so no append reallocates: the race loses
// events, never the heap.
Mutex events_mu;  // FIX: one mutex for the appends and the reads
std::vector<std::uint64_t> events RACELAB_GUARDED_BY(events_mu) = [] {  // FIX: only under events_mu
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
  MutexLock lock(events_mu);  // FIX: one append at a time
  events.push_back(digest);   // FIX: under the lock
  return http::Response::Text(200, "recorded\n");
}

http::Response HandleEvents(const http::Request&, http::RequestContext&) {
  MutexLock lock(events_mu);                // FIX: the reader takes the same lock
  const std::size_t count = events.size();  // FIX: under the lock
  return http::Response::Text(200, std::to_string(count) + " events\n");
}

}  // namespace

void RegisterScenario(http::Router& router) {
  router.Get("/event", HandleEvent);
  router.Get("/events", HandleEvents);
}

}  // namespace racelab
