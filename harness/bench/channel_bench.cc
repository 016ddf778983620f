// Channel benchmarks: ping-pong (a round trip through two channels, the
// cost of a hand-off between threads) and buffered throughput (one producer,
// one consumer, capacity 1,024).
//
// Run from the release preset: build/release/bin/racelab-bench
//   --benchmark_filter=Channel
#include <benchmark/benchmark.h>

#include <cstdint>
#include <thread>

#include "racelab/base/thread_name.h"
#include "racelab/sync/channel.h"

namespace {

// One round trip: main sends on `ping`, the echo thread answers on `pong`.
void BM_ChannelPingPong(benchmark::State& state) {
  const auto capacity = static_cast<std::size_t>(state.range(0));
  racelab::Channel<std::uint64_t> ping(capacity);
  racelab::Channel<std::uint64_t> pong(capacity);
  std::thread echo([&] {
    racelab::SetCurrentThreadName("rl-bench-echo");
    while (auto r = ping.recv()) pong.send(*r.value);
  });
  std::uint64_t n = 0;
  for (auto _ : state) {
    ping.send(n++);
    benchmark::DoNotOptimize(pong.recv());
  }
  ping.close();
  echo.join();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ChannelPingPong)->Arg(0)->Arg(1)->UseRealTime();

// Values per second from one producer to one consumer through a buffer.
void BM_ChannelThroughput(benchmark::State& state) {
  constexpr std::uint64_t kBatch = 100'000;
  const auto capacity = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    racelab::Channel<std::uint64_t> values(capacity);
    std::uint64_t sum = 0;
    std::thread consumer([&] {
      racelab::SetCurrentThreadName("rl-bench-recv");
      while (auto r = values.recv()) sum += *r.value;
    });
    for (std::uint64_t i = 0; i < kBatch; ++i) values.send(i);
    values.close();
    consumer.join();
    if (sum != kBatch * (kBatch - 1) / 2) state.SkipWithError("values lost");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBatch));
}
BENCHMARK(BM_ChannelThroughput)->Arg(1024)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
