// Clock and FakeClock: the real clock's handle, moving a fake clock by hand,
// and sleep_until waking on time or on the Context, on both clocks. Tests
// learn that a thread is parked from await_sleepers, never by sleeping.
#include "racelab/sync/clock.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "racelab/base/thread_name.h"
#include "racelab/sync/context.h"
#include "test_support.h"

namespace racelab {
namespace {

using racelab::testing::kPatience;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;
using TimePoint = Clock::time_point;

constexpr TimePoint kT0 = FakeClock::kDefaultStart;

TEST(ClockTest, DefaultHandleIsTheRealMonotonicClock) {
  const Clock clock;
  EXPECT_FALSE(clock.is_fake());
  EXPECT_TRUE(clock == Clock::Real());
  TimePoint previous = clock.now();
  for (int i = 0; i < 1000; ++i) {
    const TimePoint now = clock.now();
    ASSERT_GE(now, previous);
    previous = now;
  }
  const TimePoint steady = std::chrono::steady_clock::now();
  EXPECT_LT(clock.now() - steady, seconds(5));  // the same clock
  EXPECT_GE(clock.now(), steady);
}

TEST(ClockTest, HandlesOfOneFakeClockCompareEqual) {
  FakeClock a;
  FakeClock b;
  EXPECT_TRUE(a.clock().is_fake());
  EXPECT_TRUE(a.clock() == a.clock());
  EXPECT_FALSE(a.clock() == b.clock());
  EXPECT_FALSE(a.clock() == Clock::Real());
}

TEST(FakeClockTest, StartsWhereToldAndMovesOnlyByHand) {
  FakeClock fake(kT0);
  const Clock clock = fake.clock();
  EXPECT_EQ(clock.now(), kT0);
  EXPECT_EQ(clock.now(), kT0);  // no time passes by itself
  EXPECT_TRUE(fake.advance(milliseconds(250)));
  EXPECT_EQ(clock.now(), kT0 + milliseconds(250));
  EXPECT_TRUE(fake.set(kT0 + hours(2)));
  EXPECT_EQ(fake.now(), kT0 + hours(2));
  EXPECT_TRUE(fake.advance(Clock::duration::zero()));
  EXPECT_EQ(fake.now(), kT0 + hours(2));
}

TEST(FakeClockTest, DefaultStartIsNotZero) {
  FakeClock fake;
  EXPECT_EQ(fake.now(), FakeClock::kDefaultStart);
  EXPECT_NE(fake.now(), TimePoint());
}

TEST(FakeClockTest, RefusesToGoBackwards) {
  FakeClock fake(kT0);
  EXPECT_FALSE(fake.set(kT0 - milliseconds(1)));
  EXPECT_FALSE(fake.advance(milliseconds(-1)));
  EXPECT_EQ(fake.now(), kT0);
  EXPECT_TRUE(fake.set(kT0));  // staying put is fine
}

TEST(FakeClockTest, SleepUntilAPassedInstantReturnsAtOnce) {
  FakeClock fake(kT0);
  EXPECT_TRUE(fake.clock().sleep_until(Context::Background(), kT0));
  EXPECT_TRUE(fake.clock().sleep_until(Context::Background(), kT0 - hours(1)));
  EXPECT_EQ(fake.sleepers(), 0);
}

TEST(FakeClockTest, SleepUntilOnADoneContextReturnsFalseAtOnce) {
  FakeClock fake(kT0);
  const auto [ctx, cancel] = WithCancel(Context::Background());
  cancel();
  EXPECT_FALSE(fake.clock().sleep_until(ctx, kT0 + hours(1)));
  EXPECT_EQ(fake.sleepers(), 0);
}

TEST(FakeClockTest, SleepUntilWakesWhenTheClockReachesTheInstant) {
  FakeClock fake(kT0);
  const auto [ctx, cancel] = WithTimeout(Context::Background(), kPatience);
  std::atomic<bool> returned{false};
  bool reached = false;
  TimePoint woke_at;
  std::thread sleeper([&, ctx = ctx] {
    SetCurrentThreadName("rl-test-sleeper");
    reached = fake.clock().sleep_until(ctx, kT0 + seconds(1));
    woke_at = fake.now();
    returned = true;
  });
  ASSERT_TRUE(fake.await_sleepers(1, kPatience));
  fake.advance(milliseconds(999));
  ASSERT_TRUE(fake.await_sleepers(1, kPatience));  // still parked
  EXPECT_FALSE(returned);
  fake.advance(milliseconds(1));
  sleeper.join();
  EXPECT_TRUE(reached);
  EXPECT_GE(woke_at, kT0 + seconds(1));
  EXPECT_EQ(fake.sleepers(), 0);
}

TEST(FakeClockTest, SleepUntilReturnsFalseWhenTheContextIsCanceled) {
  FakeClock fake(kT0);
  const auto [parent, parent_cancel] = WithTimeout(Context::Background(), kPatience);
  const auto [ctx, cancel] = WithCancel(parent);
  bool reached = true;
  std::thread sleeper([&, ctx = ctx] {
    SetCurrentThreadName("rl-test-sleeper");
    reached = fake.clock().sleep_until(ctx, kT0 + hours(1));
  });
  ASSERT_TRUE(fake.await_sleepers(1, kPatience));
  cancel();
  sleeper.join();
  EXPECT_FALSE(reached);
  EXPECT_EQ(fake.now(), kT0);
  EXPECT_EQ(fake.sleepers(), 0);
}

TEST(FakeClockTest, SleepUntilReturnsFalseWhenTheContextDeadlineComesFirst) {
  FakeClock fake(kT0);
  const auto [ctx, cancel] = WithTimeout(Context::Background(), milliseconds(50), fake.clock());
  auto sleeper = std::async(std::launch::async, [&, ctx = ctx] {
    SetCurrentThreadName("rl-test-sleeper");
    return fake.clock().sleep_until(ctx, kT0 + hours(1));
  });
  ASSERT_TRUE(fake.await_sleepers(1, kPatience));
  fake.advance(milliseconds(50));
  ASSERT_EQ(sleeper.wait_for(kPatience), std::future_status::ready);
  EXPECT_FALSE(sleeper.get());
  EXPECT_EQ(ctx.err(), ContextErr::kDeadlineExceeded);
  EXPECT_EQ(fake.now(), kT0 + milliseconds(50));
}

TEST(FakeClockTest, AwaitSleepersTimesOutWhenNobodySleeps) {
  FakeClock fake(kT0);
  EXPECT_FALSE(fake.await_sleepers(1, milliseconds(10)));
  EXPECT_TRUE(fake.await_sleepers(0, milliseconds(10)));
}

TEST(RealClockTest, SleepUntilWaitsForTheInstant) {
  const Clock clock;
  const TimePoint until = clock.now() + milliseconds(20);
  EXPECT_TRUE(clock.sleep_until(Context::Background(), until));
  EXPECT_GE(clock.now(), until);
}

TEST(RealClockTest, SleepUntilReturnsEarlyWhenTheContextIsCanceled) {
  const Clock clock;
  const auto start = clock.now();
  const auto [ctx, cancel] = WithCancel(Context::Background());
  std::thread canceller([cancel = cancel] {
    SetCurrentThreadName("rl-test-cancel");
    cancel();
  });
  EXPECT_FALSE(clock.sleep_until(ctx, start + hours(1)));
  canceller.join();
  EXPECT_LT(clock.now() - start, kPatience);
}

// ---- stress (run under TSan) ----------------------------------------------

// Sleepers on different instants, readers, and one thread moving the clock
// in steps: every sleeper wakes at or after its instant, readers never see
// time go back, and the clock ends where the steps add up to.
TEST(FakeClockStressTest, SleepersReadersAndAnAdvancerAgree) {
  constexpr int kSleepers = 6;
  constexpr int kReaders = 2;
  constexpr int kSteps = 200;
  FakeClock fake(kT0);
  const auto [ctx, cancel] = WithTimeout(Context::Background(), kPatience);
  std::atomic<int> early{0};
  std::atomic<int> not_reached{0};
  std::atomic<int> went_back{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < kSleepers; ++i) {
    threads.emplace_back([&, i, ctx = ctx] {
      SetCurrentThreadName("rl-test-sleeper");
      for (int k = 1; k <= 5; ++k) {
        const TimePoint until = kT0 + milliseconds(37 * (i + 1) * k);
        if (!fake.clock().sleep_until(ctx, until)) not_reached.fetch_add(1);
        if (fake.now() < until) early.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < kReaders; ++i) {
    threads.emplace_back([&] {
      SetCurrentThreadName("rl-test-reader");
      TimePoint previous = fake.now();
      while (!stop.load()) {
        const TimePoint now = fake.clock().now();
        if (now < previous) went_back.fetch_add(1);
        previous = now;
      }
    });
  }
  for (int step = 0; step < kSteps; ++step) {
    fake.advance(milliseconds(7));
    (void)fake.sleepers();
  }
  for (int i = 0; i < kSleepers; ++i) threads[i].join();
  stop.store(true);
  for (int i = kSleepers; i < kSleepers + kReaders; ++i) threads[i].join();
  EXPECT_EQ(not_reached.load(), 0);
  EXPECT_EQ(early.load(), 0);
  EXPECT_EQ(went_back.load(), 0);
  EXPECT_EQ(fake.now(), kT0 + milliseconds(7 * kSteps));
  EXPECT_EQ(fake.sleepers(), 0);
}

}  // namespace
}  // namespace racelab
