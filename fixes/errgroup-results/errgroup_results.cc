// errgroup-results: fan-out tasks append to one vector (scenarios/errgroup-results/README.md).
#include <cstdint>
#include <string>
#include <vector>

#include "racelab/http/scenario.h"
#include "racelab/sync/errgroup.h"

namespace racelab {
namespace {

constexpr int kShards = 8;

// One shard's part of the report (a stand-in for a slow remote call).
std::uint64_t ShardTotal(int shard) {
  std::uint64_t noise = 0;
  for (std::uint64_t i = 0; i < 1'000'000; ++i) noise = noise * 31 + i;
  return 1000 * static_cast<std::uint64_t>(shard + 1) + noise % 2;
}

// GET /report sums every shard's total; /report?fail=1 has shard 0 fail.
http::Response HandleReport(const http::Request& request, http::RequestContext&) {
  const bool fail = request.query_param("fail") == "1";
  std::vector<std::uint64_t> totals(kShards);  // FIX: one slot per shard, written by its task only
  ErrGroup group = ErrGroup::WithContext(Context::Background()).first;  // FIX: errors cancel
  group.set_limit(4);  // FIX: at most 4 shards at a time
  for (int shard = 0; shard < kShards; ++shard) {
    group.go([&totals, shard, fail](const Context& ctx) -> Status {  // FIX: the group's ctx
      if (ctx.done()) return ctx.cause();  // FIX: a sibling failed: skip the work
      if (fail && shard == 0) return "shard 0: unavailable";
      totals[shard] = ShardTotal(shard);  // FIX: disjoint slots: no two tasks write the same one
      return Status::Ok();
    });
  }
  if (Status s = group.wait(); !s.ok()) return http::Response::Text(502, s.message() + "\n");
  std::uint64_t sum = 0;
  for (const std::uint64_t total : totals) sum += total;
  return http::Response::Text(200, std::to_string(sum) + "\n");
}

}  // namespace

void RegisterScenario(http::Router& router) { router.Get("/report", HandleReport); }

}  // namespace racelab
