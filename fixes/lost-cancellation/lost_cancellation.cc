// lost-cancellation: a long report goes on after its client has hung up (README.md).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "racelab/http/scenario.h"
#include "racelab/http/work_audit.h"

namespace racelab {
namespace {

constexpr int kSlices = 20;                          // a report is this many slices of work
constexpr std::chrono::milliseconds kSliceTime{10};  // each keeps a core busy this long

http::RequestWork report_work("report");  // the harness's audit: slices done after a cancel
std::atomic<std::uint64_t> reports_finished{0};

// One slice of the report: kSliceTime of arithmetic.
std::uint64_t Crunch(std::uint64_t state) {
  const auto until = std::chrono::steady_clock::now() + kSliceTime;
  while (std::chrono::steady_clock::now() < until) {
    for (int i = 0; i < 1000; ++i) state = state * 6364136223846793005ULL + 1442695040888963407ULL;
  }
  return state;
}

// GET /report: a digest that takes kSlices * kSliceTime to compute.
http::Response HandleReport(const http::Request&, http::RequestContext& ctx) {
  std::uint64_t digest = ctx.request_id();
  for (int slice = 0; slice < kSlices; ++slice) {
    if (ctx.cancelled()) return http::Response::Text(503, "abandoned\n");  // FIX: nobody waits
    digest = Crunch(digest);  // FIX: computed only while someone waits
    report_work.Record(ctx);
  }
  reports_finished.fetch_add(1, std::memory_order_relaxed);
  return http::Response::Text(200, "digest " + std::to_string(digest) + "\n");
}

// GET /stats: how many reports were computed to the end.
http::Response HandleStats(const http::Request&, http::RequestContext&) {
  return http::Response::Text(200, std::to_string(reports_finished.load()) + " finished\n");
}

}  // namespace

void RegisterScenario(http::Router& router) {
  router.Get("/report", HandleReport);
  router.Get("/stats", HandleStats);
}

}  // namespace racelab
