// The racy test: two named threads bump a RacyCounter. TSan reports the race
// in RacyCounter::Add; the gate must find exactly that.
#include <gtest/gtest.h>

#include <thread>

#include "example/counters.h"

namespace example {
namespace {

constexpr int kAddsPerThread = 1000;

TEST(RacyCounterTest, TwoThreadsAddingRace) {
  RacyCounter hits;
  std::thread first = StartNamedThread("racy-adder-1", [&] {
    for (int i = 0; i < kAddsPerThread; ++i) hits.Add();
  });
  std::thread second = StartNamedThread("racy-adder-2", [&] {
    for (int i = 0; i < kAddsPerThread; ++i) hits.Add();
  });
  first.join();
  second.join();
  // Lost updates are possible, more hits than adds are not: the test ran.
  EXPECT_GT(hits.Value(), 0);
  EXPECT_LE(hits.Value(), 2 * kAddsPerThread);
}

}  // namespace
}  // namespace example
