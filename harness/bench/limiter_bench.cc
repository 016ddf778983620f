// Benchmarks of the rate limiters (release build: racelab-bench).
//   TokenBucket::allow, 1 and 2 threads on one bucket (the clock read
//   included); KeyedLimiter::allow over 100,000 keys picked at random.
#include <benchmark/benchmark.h>

#include <chrono>
#include <random>
#include <string>
#include <string_view>

#include "racelab/base/thread_name.h"
#include "racelab/sync/keyed_limiter.h"
#include "racelab/sync/token_bucket.h"

namespace racelab {
namespace {

// Benchmark's worker threads are not ours, but name them all the same.
void NameThread(const benchmark::State& state) {
  SetCurrentThreadName("rl-bench-" + std::to_string(state.thread_index()));
}

// A bucket that never runs dry in a benchmark: the fast path is the allowed
// one (lock, refill arithmetic, take), which is what production sees most.
TokenBucket& SharedBucket() {
  static TokenBucket bucket(1e12, 1'000'000'000);
  return bucket;
}

void BM_TokenBucketAllow(benchmark::State& state) {
  NameThread(state);
  TokenBucket& bucket = SharedBucket();
  for (auto _ : state) {
    benchmark::DoNotOptimize(bucket.allow());
  }
}
BENCHMARK(BM_TokenBucketAllow);
BENCHMARK(BM_TokenBucketAllow)->Threads(2);

// The clock read alone, for scale: allow() is this plus allow_n().
void BM_SteadyClockNow(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(std::chrono::steady_clock::now());
  }
}
BENCHMARK(BM_SteadyClockNow);

// The same with the instant passed in: the lock and the arithmetic alone.
void BM_TokenBucketAllowN(benchmark::State& state) {
  TokenBucket& bucket = SharedBucket();
  const Clock::time_point t = Clock().now();
  for (auto _ : state) {
    benchmark::DoNotOptimize(bucket.allow_n(t, 1));
  }
}
BENCHMARK(BM_TokenBucketAllowN);

// The denied path: an empty bucket that refills slowly.
void BM_TokenBucketAllowDenied(benchmark::State& state) {
  static TokenBucket bucket(1e-9, 1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(bucket.allow());
  }
}
BENCHMARK(BM_TokenBucketAllowDenied);

constexpr int kKeys = 100'000;

// Key i as an IPv4-like text ("10.1.134.159"), written into `buf`: the key
// of a request is built from data already in cache, so the benchmark makes
// it the same way instead of loading it from a 100,000-string table.
std::string_view KeyOf(int i, char (&buf)[16]) {
  char* p = buf + sizeof buf;
  auto put = [&](int v) {
    do {
      *--p = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
  };
  put(i & 0xff);
  *--p = '.';
  put((i >> 8) & 0xff);
  *--p = '.';
  put(i >> 16);
  *--p = '.';
  *--p = '0';
  *--p = '1';
  return std::string_view(p, static_cast<std::size_t>(buf + sizeof buf - p));
}

KeyedLimiterOptions KeyedOptions() {
  KeyedLimiterOptions o;
  o.limits = {1e9, 1'000'000'000};  // never denies
  o.max_keys = kKeys;
  return o;
}

// Every key present. A static: destroyed (its cleanup thread joined) at exit.
KeyedLimiter& SharedKeyed() {
  static KeyedLimiter limiter(KeyedOptions());
  static const bool filled = [] {
    char buf[16];
    for (int i = 0; i < kKeys; ++i) limiter.allow(KeyOf(i, buf));
    return true;
  }();
  (void)filled;
  return limiter;
}

void BM_KeyedLimiterAllow(benchmark::State& state) {
  NameThread(state);
  KeyedLimiter& limiter = SharedKeyed();
  if (state.thread_index() == 0 && limiter.size() != kKeys) {
    state.SkipWithError("the limiter does not hold every key");
  }
  std::minstd_rand rng(static_cast<unsigned>(state.thread_index()) + 1);
  std::uniform_int_distribution<int> pick(0, kKeys - 1);
  char buf[16];
  for (auto _ : state) {
    benchmark::DoNotOptimize(limiter.allow(KeyOf(pick(rng), buf)));
  }
}
BENCHMARK(BM_KeyedLimiterAllow);
BENCHMARK(BM_KeyedLimiterAllow)->Threads(2);

}  // namespace
}  // namespace racelab
