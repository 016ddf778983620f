// shared-map: a cache map filled on a miss, read on a hit (scenarios/shared-map/README.md).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "racelab/http/scenario.h"
#include "racelab/sync/mutex.h"  // FIX: SharedMutex, ReaderLock, WriterLock

namespace racelab {
namespace {

// Rendered pages by key. 4096 buckets, more than a run ever inserts: the map
// never rehashes, so the race corrupts it without freeing memory under a reader.
using Pages = std::unordered_map<std::string, std::string>;
SharedMutex cache_mu;                                    // FIX: many readers, or one writer
Pages cache RACELAB_GUARDED_BY(cache_mu) = Pages(4096);  // FIX: only under cache_mu

// The slow part a cache saves: render the page for `key` (a checksum stands in).
std::string Render(std::string_view key) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < 2'000'000; ++i) sum = sum * 31 + i + key.size();
  return "page " + std::string(key) + " " + std::to_string(sum % 1000) + "\n";
}

std::optional<std::string> Cached(const std::string& key) {
  ReaderLock lock(cache_mu);        // FIX: hits share the lock: they never wait for each other
  const auto it = cache.find(key);  // FIX: a lookup under the reader lock
  if (it == cache.end()) return std::nullopt;
  return it->second;
}

// Keeps the page of the first miss that gets here: try_emplace never overwrites.
std::string Store(const std::string& key, std::string page) {
  WriterLock lock(cache_mu);  // FIX: a miss writes alone, and looks again under the lock
  return cache.try_emplace(key, std::move(page)).first->second;  // FIX: under the writer lock
}

http::Response HandleItem(const http::Request& request, http::RequestContext&) {
  const std::string key(request.query_param("key"));
  if (std::optional<std::string> page = Cached(key)) return http::Response::Text(200, *page);
  return http::Response::Text(200, Store(key, Render(key)));
}

http::Response HandleSize(const http::Request&, http::RequestContext&) {
  ReaderLock lock(cache_mu);              // FIX: a reader like any other
  const std::size_t size = cache.size();  // FIX: read under the reader lock
  return http::Response::Text(200, std::to_string(size) + "\n");
}

}  // namespace

void RegisterScenario(http::Router& router) {
  router.Get("/item", HandleItem);
  router.Get("/size", HandleSize);
}

}  // namespace racelab
