#include "racelab/sync/wait_group.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "racelab/base/thread_name.h"
#include "racelab/sync/clock.h"
#include "racelab/sync/context.h"
#include "test_support.h"

namespace racelab {
namespace {

using racelab::testing::AwaitCallbacks;
using racelab::testing::kPatience;
using namespace std::chrono_literals;
using std::chrono::steady_clock;
using ::testing::HasSubstr;

std::string MessageOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::logic_error& e) {
    return e.what();
  }
  return "(no exception)";
}

TEST(WaitGroupTest, WaitOnZeroReturnsAtOnce) {
  WaitGroup wg;
  wg.wait();
  EXPECT_TRUE(wg.wait_for(0s));
  EXPECT_EQ(wg.wait(Context::Background()), ContextErr::kNone);
  EXPECT_EQ(wg.count(), 0);
}

TEST(WaitGroupTest, DoneBelowZeroThrowsNamingTheCounter) {
  WaitGroup wg;
  EXPECT_EQ(MessageOf([&] { wg.done(); }),
            "wait_group: done() would make the counter negative (-1)");
  EXPECT_EQ(wg.count(), 0);
}

TEST(WaitGroupTest, NegativeAddBelowZeroThrowsAndChangesNothing) {
  WaitGroup wg;
  wg.add(2);
  EXPECT_EQ(MessageOf([&] { wg.add(-3); }),
            "wait_group: add(-3) would make the counter negative (-1)");
  EXPECT_EQ(wg.count(), 2);
  wg.add(-2);
  EXPECT_TRUE(wg.wait_for(0s));
}

TEST(WaitGroupTest, WaitForTimesOutWhileTasksRemain) {
  WaitGroup wg;
  wg.add(1);
  const auto start = steady_clock::now();
  EXPECT_FALSE(wg.wait_for(10ms));
  EXPECT_GE(steady_clock::now() - start, 10ms);
  EXPECT_FALSE(wg.wait_until(steady_clock::now() - 1s));
  wg.done();
  EXPECT_TRUE(wg.wait_for(0s));
}

TEST(WaitGroupTest, WaitReturnsWhenTheLastTaskIsDone) {
  WaitGroup wg;
  constexpr int kTasks = 8;
  wg.add(kTasks);
  std::vector<int> results(kTasks, 0);  // plain ints: TSan checks the edge
  std::vector<std::thread> threads;
  for (int i = 0; i < kTasks; ++i) {
    threads.emplace_back([&, i] {
      SetCurrentThreadName("rl-test-" + std::to_string(i));
      results[i] = i + 1;
      wg.done();
    });
  }
  auto waiter = std::async(std::launch::async, [&] { wg.wait(); });
  ASSERT_EQ(waiter.wait_for(kPatience), std::future_status::ready);
  for (int i = 0; i < kTasks; ++i) EXPECT_EQ(results[i], i + 1);
  for (auto& t : threads) t.join();
}

TEST(WaitGroupTest, WaitWithContextGivesUpWhenCanceled) {
  WaitGroup wg;
  wg.add(1);
  auto [ctx, cancel] = WithCancel(Context::Background());
  std::latch started(1);
  auto waiter = std::async(std::launch::async, [&, ctx = ctx] {
    started.count_down();
    return wg.wait(ctx);
  });
  started.wait();
  cancel();
  ASSERT_EQ(waiter.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(waiter.get(), ContextErr::kCanceled);
  EXPECT_EQ(wg.count(), 1) << "giving up leaves the tasks counted";
  EXPECT_EQ(ctx.registered_callbacks(), 0u);
}

TEST(WaitGroupTest, WaitWithContextHonoursItsDeadline) {
  WaitGroup wg;
  wg.add(1);
  FakeClock fake;
  auto [ctx, cancel] = WithTimeout(Context::Background(), 20ms, fake.clock());
  auto waiter = std::async(std::launch::async, [&, ctx = ctx] {
    SetCurrentThreadName("rl-test-waiter");
    return wg.wait(ctx);
  });
  ASSERT_TRUE(AwaitCallbacks(ctx, 1));
  fake.advance(20ms);
  ASSERT_EQ(waiter.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(waiter.get(), ContextErr::kDeadlineExceeded);
  wg.done();
}

TEST(WaitGroupTest, WaitWithContextReturnsNoneWhenTasksFinishFirst) {
  WaitGroup wg;
  wg.add(1);
  auto [ctx, cancel] = WithTimeout(Context::Background(), kPatience);
  std::thread worker([&] {
    SetCurrentThreadName("rl-test-worker");
    wg.done();
  });
  EXPECT_EQ(wg.wait(ctx), ContextErr::kNone);
  worker.join();
}

TEST(WaitGroupTest, WaiterMayDestroyTheGroupAfterWaitReturns) {
  for (int i = 0; i < 50; ++i) {
    auto wg = std::make_unique<WaitGroup>();
    wg->add(1);
    std::thread worker([g = wg.get()] {
      SetCurrentThreadName("rl-test-worker");
      g->done();
    });
    wg->wait();
    wg.reset();  // TSan/ASan flag a done() that touches it afterwards
    worker.join();
  }
}

// Stress: many threads add and finish tasks while many wait; every wait
// returns, and the group ends at zero.
TEST(WaitGroupTest, StressManyAddersDonersAndWaiters) {
  for (int round = 0; round < 5; ++round) {
    WaitGroup wg;
    constexpr int kThreads = 8;
    constexpr int kTasksEach = 500;
    wg.add(kThreads);  // each adder's own share, released when it finishes
    std::atomic<int> finished{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        SetCurrentThreadName("rl-test-" + std::to_string(t));
        for (int i = 0; i < kTasksEach; ++i) {
          wg.add(2);
          finished.fetch_add(1, std::memory_order_relaxed);
          wg.done();
          wg.add(-1);
        }
        wg.done();
      });
    }
    std::vector<std::future<void>> waiters;
    for (int w = 0; w < 4; ++w) {
      waiters.push_back(std::async(std::launch::async, [&] {
        ASSERT_TRUE(wg.wait_for(kPatience));
        EXPECT_EQ(finished.load(std::memory_order_relaxed), kThreads * kTasksEach);
      }));
    }
    for (auto& w : waiters) {
      ASSERT_EQ(w.wait_for(kPatience), std::future_status::ready);
      w.get();
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(wg.count(), 0);
  }
}

}  // namespace
}  // namespace racelab
