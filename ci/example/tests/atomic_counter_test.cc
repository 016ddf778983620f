// The clean test: the same two named threads bump an AtomicCounter. TSan
// stays silent, and every add is counted.
#include <gtest/gtest.h>

#include <thread>

#include "example/counters.h"

namespace example {
namespace {

constexpr int kAddsPerThread = 1000;

TEST(AtomicCounterTest, TwoThreadsAddingCountEveryHit) {
  AtomicCounter hits;
  std::thread first = StartNamedThread("atomic-adder-1", [&] {
    for (int i = 0; i < kAddsPerThread; ++i) hits.Add();
  });
  std::thread second = StartNamedThread("atomic-adder-2", [&] {
    for (int i = 0; i < kAddsPerThread; ++i) hits.Add();
  });
  first.join();
  second.join();
  EXPECT_EQ(hits.Value(), 2 * kAddsPerThread);
}

}  // namespace
}  // namespace example
