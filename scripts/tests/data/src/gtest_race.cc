// A GoogleTest suite built with TSan: one test races on a counter, one is
// clean, so the report lands between GoogleTest's own lines. The relaxed
// atomic `turn` only orders the two writes in time (no happens-before), and
// keeps both threads alive until both wrote.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace {

struct HitCounter {
  int hits = 0;
  __attribute__((noinline)) void Bump() { hits += 1; }  // RACE: both threads
};

TEST(HitCounterTest, ConcurrentBumpsRace) {
  HitCounter counter;
  std::atomic<int> turn{0};
  std::thread first([&] {
    counter.Bump();
    turn.store(1, std::memory_order_relaxed);
    while (turn.load(std::memory_order_relaxed) != 2) {
    }
  });
  std::thread second([&] {
    while (turn.load(std::memory_order_relaxed) != 1) {
    }
    counter.Bump();
    turn.store(2, std::memory_order_relaxed);
  });
  first.join();
  second.join();
  EXPECT_EQ(counter.hits, 2);
}

TEST(HitCounterTest, SingleThreadIsClean) {
  HitCounter counter;
  counter.Bump();
  EXPECT_EQ(counter.hits, 1);
}

}  // namespace
