// WorkerPool against boost::asio::thread_pool, measured the same way in one
// binary: start a pool of 2 workers, push kJobs tiny jobs, drain, join.
// items_per_second is jobs per second; the target is WorkerPool >= asio.
//
// Run from the release preset: build/release/bin/racelab-bench
//   --benchmark_filter=TinyJobs
#include <benchmark/benchmark.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>

#include "racelab/sync/worker_pool.h"

namespace {

constexpr std::int64_t kJobs = 200'000;
constexpr int kWorkers = 2;

void BM_WorkerPoolTinyJobs(benchmark::State& state) {
  for (auto _ : state) {
    std::atomic<std::int64_t> ran{0};
    racelab::WorkerPool pool({.workers = kWorkers, .queue_capacity = 1024, .name = "rl-bench"});
    for (std::int64_t i = 0; i < kJobs; ++i) {
      pool.submit([&ran] { ran.fetch_add(1, std::memory_order_relaxed); });
    }
    pool.shutdown();  // drains every accepted job, joins the workers
    if (ran.load() != kJobs) state.SkipWithError("WorkerPool lost jobs");
  }
  state.SetItemsProcessed(state.iterations() * kJobs);
}
BENCHMARK(BM_WorkerPoolTinyJobs)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_AsioThreadPoolTinyJobs(benchmark::State& state) {
  for (auto _ : state) {
    std::atomic<std::int64_t> ran{0};
    boost::asio::thread_pool pool(kWorkers);
    for (std::int64_t i = 0; i < kJobs; ++i) {
      boost::asio::post(pool, [&ran] { ran.fetch_add(1, std::memory_order_relaxed); });
    }
    pool.join();  // runs every posted job, joins the workers
    if (ran.load() != kJobs) state.SkipWithError("asio::thread_pool lost jobs");
  }
  state.SetItemsProcessed(state.iterations() * kJobs);
}
BENCHMARK(BM_AsioThreadPoolTinyJobs)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
