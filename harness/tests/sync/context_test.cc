#include "racelab/sync/context.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "racelab/base/thread_name.h"
#include "test_support.h"

namespace racelab {
namespace {

using racelab::testing::Eventually;
using racelab::testing::kPatience;
using namespace std::chrono_literals;
using Clock = Context::Clock;

int CountThreadsNamed(const std::string& name) {
  int n = 0;
  for (const ThreadInfo& t : ListThreads()) n += t.name == name ? 1 : 0;
  return n;
}

TEST(ContextTest, ToStringUsesGoTexts) {
  EXPECT_EQ(ToString(ContextErr::kNone), "");
  EXPECT_EQ(ToString(ContextErr::kCanceled), "context canceled");
  EXPECT_EQ(ToString(ContextErr::kDeadlineExceeded), "context deadline exceeded");
}

TEST(ContextTest, BackgroundIsNeverDone) {
  Context bg = Context::Background();
  EXPECT_FALSE(bg.done());
  EXPECT_EQ(bg.err(), ContextErr::kNone);
  EXPECT_EQ(bg.cause(), "");
  EXPECT_FALSE(bg.deadline().has_value());
  const auto start = Clock::now();
  EXPECT_FALSE(bg.wait_for(5ms));
  EXPECT_GE(Clock::now() - start, 5ms);
  EXPECT_EQ(Context(), bg);
}

TEST(ContextTest, BackgroundCallbackNeverRunsAndStopReportsItPrevented) {
  bool ran = false;
  CallbackHandle h = Context::Background().on_done([&] { ran = true; });
  EXPECT_TRUE(h.stop());
  EXPECT_FALSE(h.stop());
  EXPECT_FALSE(ran);
}

TEST(ContextTest, CancelMakesDoneWithCanceled) {
  auto [ctx, cancel] = WithCancel(Context::Background());
  EXPECT_FALSE(ctx.done());
  EXPECT_EQ(ctx.err(), ContextErr::kNone);
  EXPECT_EQ(ctx.cause(), "");
  cancel();
  EXPECT_TRUE(ctx.done());
  EXPECT_EQ(ctx.err(), ContextErr::kCanceled);
  EXPECT_EQ(ctx.cause(), "context canceled");
  EXPECT_TRUE(ctx.wait_for(0s));
}

TEST(ContextTest, CancelIsIdempotentAndKeepsTheFirstCause) {
  auto [ctx, cancel] = WithCancel(Context::Background());
  CancelFunc copy = cancel;
  copy("client went away");
  cancel("second");
  EXPECT_EQ(ctx.err(), ContextErr::kCanceled);
  EXPECT_EQ(ctx.cause(), "client went away");
}

TEST(ContextTest, DefaultCancelFuncCancelsNothing) {
  CancelFunc nothing;
  EXPECT_NO_THROW(nothing("x"));
}

TEST(ContextTest, CancellationFlowsToDescendantsNeverToParent) {
  auto [root, cancel_root] = WithCancel(Context::Background());
  auto [child, cancel_child] = WithCancel(root);
  auto [grandchild, cancel_grandchild] = WithCancel(child);
  auto [sibling, cancel_sibling] = WithCancel(root);

  cancel_child("child only");
  EXPECT_TRUE(child.done());
  EXPECT_TRUE(grandchild.done());
  EXPECT_EQ(grandchild.cause(), "child only");
  EXPECT_FALSE(root.done());
  EXPECT_FALSE(sibling.done());

  cancel_root("shutdown");
  EXPECT_TRUE(sibling.done());
  EXPECT_EQ(sibling.err(), ContextErr::kCanceled);
  EXPECT_EQ(sibling.cause(), "shutdown");
  EXPECT_EQ(child.cause(), "child only");  // done stays done, cause never changes
}

TEST(ContextTest, ChildOfDoneParentIsDoneAtOnce) {
  auto [parent, cancel] = WithCancel(Context::Background());
  cancel("gone");
  auto [child, cancel_child] = WithTimeout(parent, 1h);
  EXPECT_TRUE(child.done());
  EXPECT_EQ(child.err(), ContextErr::kCanceled);
  EXPECT_EQ(child.cause(), "gone");
  EXPECT_EQ(parent.registered_callbacks(), 0u);
}

TEST(ContextTest, DeadlineIsTheEarliestOfItsOwnAndItsAncestors) {
  const auto t0 = Clock::now();
  auto [parent, cancel_parent] = WithDeadline(Context::Background(), t0 + 1h);
  auto [later, cancel_later] = WithDeadline(parent, t0 + 2h);
  auto [earlier, cancel_earlier] = WithDeadline(parent, t0 + 30min);
  auto [plain, cancel_plain] = WithCancel(earlier);
  EXPECT_EQ(parent.deadline(), t0 + 1h);
  EXPECT_EQ(later.deadline(), t0 + 1h);
  EXPECT_EQ(earlier.deadline(), t0 + 30min);
  EXPECT_EQ(plain.deadline(), t0 + 30min);
}

TEST(ContextTest, DeadlineInThePastIsDoneAtOnce) {
  auto [ctx, cancel] = WithDeadline(Context::Background(), Clock::now() - 1s);
  EXPECT_TRUE(ctx.done());
  EXPECT_EQ(ctx.err(), ContextErr::kDeadlineExceeded);
  EXPECT_EQ(ctx.cause(), "context deadline exceeded");
}

TEST(ContextTest, CancelAfterTheDeadlineKeepsDeadlineExceeded) {
  auto [ctx, cancel] = WithDeadline(Context::Background(), Clock::now() - 1s);
  cancel("too late");
  EXPECT_EQ(ctx.err(), ContextErr::kDeadlineExceeded);
  EXPECT_EQ(ctx.cause(), "context deadline exceeded");
}

TEST(ContextTest, HugeTimeoutSaturatesInsteadOfOverflowing) {
  auto [ctx, cancel] = WithTimeout(Context::Background(), Clock::duration::max());
  EXPECT_FALSE(ctx.done());
  EXPECT_EQ(ctx.deadline(), Clock::time_point::max());
  EXPECT_FALSE(ctx.wait_for(1ms));
}

TEST(ContextTest, TimeoutFiresCallbacksWhenNobodyWaits) {
  const auto start = Clock::now();
  auto [ctx, cancel] = WithTimeout(Context::Background(), 20ms);
  std::promise<std::string> fired;
  CallbackHandle h = ctx.on_done([&] { fired.set_value(CurrentThreadName()); });
  std::future<std::string> f = fired.get_future();
  ASSERT_EQ(f.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(f.get(), "rl-ctx-timer");
  EXPECT_GE(Clock::now() - start, 20ms);
  EXPECT_EQ(ctx.err(), ContextErr::kDeadlineExceeded);
  EXPECT_FALSE(h.stop());
}

TEST(ContextTest, ParentDeadlineReachesChildCallbacks) {
  auto [parent, cancel_parent] = WithTimeout(Context::Background(), 20ms);
  auto [child, cancel_child] = WithCancel(parent);
  std::promise<void> fired;
  CallbackHandle h = child.on_done([&] { fired.set_value(); });
  ASSERT_EQ(fired.get_future().wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(child.err(), ContextErr::kDeadlineExceeded);
  EXPECT_TRUE(parent.done());
}

TEST(ContextTest, WaitReturnsAtTheDeadline) {
  const auto start = Clock::now();
  auto [ctx, cancel] = WithTimeout(Context::Background(), 20ms);
  ctx.wait();
  const auto waited = Clock::now() - start;
  EXPECT_GE(waited, 20ms);
  EXPECT_LT(waited, kPatience);
  EXPECT_EQ(ctx.err(), ContextErr::kDeadlineExceeded);
}

TEST(ContextTest, WaitForTimesOutWhileNotDone) {
  auto [ctx, cancel] = WithCancel(Context::Background());
  const auto start = Clock::now();
  EXPECT_FALSE(ctx.wait_for(10ms));
  EXPECT_GE(Clock::now() - start, 10ms);
  EXPECT_FALSE(ctx.wait_until(Clock::now() - 1s));
}

TEST(ContextTest, WaitWakesWhenAnotherThreadCancels) {
  auto [ctx, cancel] = WithCancel(Context::Background());
  std::latch waiting(1);
  auto waiter = std::async(std::launch::async, [&, ctx = ctx] {
    waiting.count_down();
    ctx.wait();
    return ctx.err();
  });
  waiting.wait();
  cancel();
  ASSERT_EQ(waiter.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(waiter.get(), ContextErr::kCanceled);
}

TEST(ContextTest, CancelPublishesWritesMadeBeforeIt) {
  auto [ctx, cancel] = WithCancel(Context::Background());
  int payload = 0;  // plain int: TSan checks the happens-before edge
  auto reader = std::async(std::launch::async, [&, ctx = ctx] {
    ctx.wait();
    return payload;
  });
  payload = 42;
  cancel();
  ASSERT_EQ(reader.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(reader.get(), 42);
}

TEST(ContextTest, OnDoneRunsOnceOnTheCancellingThread) {
  auto [ctx, cancel] = WithCancel(Context::Background());
  int runs = 0;
  std::thread::id ran_on;
  CallbackHandle h = ctx.on_done([&] {
    ++runs;
    ran_on = std::this_thread::get_id();
  });
  std::thread canceller([&, cancel = cancel] {
    SetCurrentThreadName("rl-test-cancel");
    cancel();
    cancel();
  });
  const std::thread::id canceller_id = canceller.get_id();
  canceller.join();
  cancel();
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(ran_on, canceller_id);
  EXPECT_FALSE(h.stop());
}

TEST(ContextTest, OnDoneRunsAtOnceOnTheCallerWhenAlreadyDone) {
  auto [ctx, cancel] = WithCancel(Context::Background());
  cancel();
  std::thread::id ran_on;
  CallbackHandle h = ctx.on_done([&] { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_FALSE(h.stop());
}

TEST(ContextTest, StopPreventsTheCallback) {
  auto [ctx, cancel] = WithCancel(Context::Background());
  bool ran = false;
  CallbackHandle h = ctx.on_done([&] { ran = true; });
  EXPECT_EQ(ctx.registered_callbacks(), 1u);
  EXPECT_TRUE(h.stop());
  EXPECT_FALSE(h.stop());
  EXPECT_EQ(ctx.registered_callbacks(), 0u);
  cancel();
  EXPECT_FALSE(ran);
}

TEST(ContextTest, DestroyingTheHandlePreventsTheCallback) {
  auto [ctx, cancel] = WithCancel(Context::Background());
  bool ran = false;
  { CallbackHandle h = ctx.on_done([&] { ran = true; }); }
  cancel();
  EXPECT_FALSE(ran);
}

TEST(ContextTest, MoveAssignmentStopsTheOverwrittenCallback) {
  auto [ctx, cancel] = WithCancel(Context::Background());
  int first = 0, second = 0;
  CallbackHandle h = ctx.on_done([&] { ++first; });
  h = ctx.on_done([&] { ++second; });
  cancel();
  EXPECT_EQ(first, 0);
  EXPECT_EQ(second, 1);
}

TEST(ContextTest, StopWaitsForACallbackRunningOnAnotherThread) {
  auto [ctx, cancel] = WithCancel(Context::Background());
  std::promise<void> entered;
  std::promise<void> release;
  std::atomic<bool> finished{false};
  CallbackHandle h = ctx.on_done([&] {
    entered.set_value();
    release.get_future().wait();
    finished.store(true);
  });
  std::thread canceller([cancel = cancel] {
    SetCurrentThreadName("rl-test-cancel");
    cancel();
  });
  ASSERT_EQ(entered.get_future().wait_for(kPatience), std::future_status::ready);
  auto stopper = std::async(std::launch::async, [&] {
    const bool prevented = h.stop();
    return std::make_pair(prevented, finished.load());
  });
  release.set_value();
  ASSERT_EQ(stopper.wait_for(kPatience), std::future_status::ready);
  const auto [prevented, finished_before_stop_returned] = stopper.get();
  EXPECT_FALSE(prevented);
  EXPECT_TRUE(finished_before_stop_returned);
  canceller.join();
}

TEST(ContextTest, StopInsideItsOwnCallbackReturnsAtOnce) {
  auto [ctx, cancel] = WithCancel(Context::Background());
  CallbackHandle h;
  std::optional<bool> stopped;
  h = ctx.on_done([&] { stopped = h.stop(); });
  cancel();
  ASSERT_TRUE(stopped.has_value());
  EXPECT_FALSE(*stopped);
}

TEST(ContextTest, CallbackExceptionReachesTheCancellerAfterOthersRan) {
  auto [ctx, cancel] = WithCancel(Context::Background());
  bool other_ran = false;
  CallbackHandle a = ctx.on_done([] { throw std::runtime_error("callback failed"); });
  CallbackHandle b = ctx.on_done([&] { other_ran = true; });
  EXPECT_THROW(cancel(), std::runtime_error);
  EXPECT_TRUE(other_ran);
  EXPECT_TRUE(ctx.done());
}

TEST(ContextTest, CanceledAndDestroyedChildrenLeaveTheirParent) {
  auto [parent, cancel_parent] = WithCancel(Context::Background());
  for (int i = 0; i < 100; ++i) {
    auto [child, cancel_child] = WithCancel(parent);
    cancel_child();
  }
  EXPECT_EQ(parent.registered_callbacks(), 0u);
  for (int i = 0; i < 100; ++i) {
    auto [child, cancel_child] = WithTimeout(parent, 1h);
    EXPECT_EQ(parent.registered_callbacks(), 1u);
  }  // destroyed without cancel
  EXPECT_EQ(parent.registered_callbacks(), 0u);
  auto [live, cancel_live] = WithCancel(parent);
  EXPECT_EQ(parent.registered_callbacks(), 1u);
  cancel_parent();
  EXPECT_TRUE(live.done());
  EXPECT_EQ(parent.registered_callbacks(), 0u);
}

TEST(ContextTest, TimerThreadRunsOnlyWhileACallbackAwaitsADeadline) {
  // An earlier test's timer thread may still be on its way out.
  ASSERT_TRUE(Eventually([] { return CountThreadsNamed("rl-ctx-timer") == 0; }));
  auto [polled, cancel_polled] = WithTimeout(Context::Background(), 1h);
  EXPECT_FALSE(polled.done());
  EXPECT_EQ(CountThreadsNamed("rl-ctx-timer"), 0) << "a polled deadline needs no thread";

  auto [watched, cancel_watched] = WithTimeout(Context::Background(), 1h);
  CallbackHandle h = watched.on_done([] {});
  // The thread names itself once it runs.
  EXPECT_TRUE(Eventually([] { return CountThreadsNamed("rl-ctx-timer") == 1; }));
  cancel_watched();
  EXPECT_TRUE(Eventually([] { return CountThreadsNamed("rl-ctx-timer") == 0; }));

  // A later deadline starts it again, and it fires.
  auto [again, cancel_again] = WithTimeout(Context::Background(), 1ms);
  std::promise<void> fired;
  CallbackHandle h2 = again.on_done([&] { fired.set_value(); });
  ASSERT_EQ(fired.get_future().wait_for(kPatience), std::future_status::ready);
  EXPECT_TRUE(Eventually([] { return CountThreadsNamed("rl-ctx-timer") == 0; }));
}

TEST(ContextTest, DestroyedContextStopsTheTimerThread) {
  ASSERT_TRUE(Eventually([] { return CountThreadsNamed("rl-ctx-timer") == 0; }));
  {
    auto [ctx, cancel] = WithTimeout(Context::Background(), 1h);
    CallbackHandle h = ctx.on_done([] {});
    // The thread names itself once it runs.
    EXPECT_TRUE(Eventually([] { return CountThreadsNamed("rl-ctx-timer") == 1; }));
  }
  EXPECT_TRUE(Eventually([] { return CountThreadsNamed("rl-ctx-timer") == 0; }));
}

// Stress: many threads register, stop and cancel at once. Every callback
// whose stop() did not prevent it must have run exactly once.
TEST(ContextTest, StressConcurrentRegisterStopAndCancel) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  for (int round = 0; round < 5; ++round) {
    auto [ctx, cancel] = WithCancel(Context::Background());
    std::vector<std::atomic<int>> runs(kThreads * kPerThread);
    std::vector<char> prevented(kThreads * kPerThread, 0);
    std::latch go(kThreads + 1);
    std::vector<std::vector<CallbackHandle>> kept(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t, ctx = ctx, cancel = cancel] {
        SetCurrentThreadName("rl-test-" + std::to_string(t));
        go.arrive_and_wait();
        for (int i = 0; i < kPerThread; ++i) {
          const int slot = t * kPerThread + i;
          CallbackHandle h = ctx.on_done([&runs, slot] { runs[slot].fetch_add(1); });
          if (i % 2 == 0) prevented[slot] = h.stop() ? 1 : 0;
          else kept[t].push_back(std::move(h));
          if (t == 0 && i == kPerThread / 2) cancel();
        }
      });
    }
    go.arrive_and_wait();
    for (auto& th : threads) th.join();
    cancel();
    for (auto& handles : kept) {
      for (CallbackHandle& h : handles) ASSERT_FALSE(h.stop());
    }
    for (int slot = 0; slot < kThreads * kPerThread; ++slot) {
      ASSERT_EQ(runs[slot].load(), prevented[slot] ? 0 : 1) << "slot " << slot;
    }
  }
}

// Stress: a tree of contexts canceled from many threads at once while new
// children join it; every context ends done and the root holds no links.
TEST(ContextTest, StressTreeCancelledFromManyThreads) {
  for (int round = 0; round < 10; ++round) {
    auto [root, cancel_root] = WithCancel(Context::Background());
    std::vector<std::pair<Context, CancelFunc>> nodes{{root, cancel_root}};
    for (int i = 1; i < 64; ++i) nodes.push_back(WithCancel(nodes[(i - 1) / 2].first));
    constexpr int kThreads = 6;
    std::latch go(kThreads);
    std::vector<std::vector<std::pair<Context, CancelFunc>>> late(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        SetCurrentThreadName("rl-test-" + std::to_string(t));
        std::mt19937 rng(round * 100 + t);
        go.arrive_and_wait();
        for (int i = 0; i < 50; ++i) {
          const auto& node = nodes[rng() % nodes.size()];
          if (i % 3 == 0) node.second("t" + std::to_string(t));
          else late[t].push_back(WithCancel(node.first));
        }
        if (t == 0) nodes[0].second("root");
      });
    }
    for (auto& th : threads) th.join();
    for (const auto& [ctx, cancel] : nodes) ASSERT_TRUE(ctx.done());
    for (const auto& list : late) {
      for (const auto& [ctx, cancel] : list) ASSERT_TRUE(ctx.done());
    }
    for (const auto& [ctx, cancel] : nodes) EXPECT_EQ(ctx.registered_callbacks(), 0u);
  }
}

// Stress: many short deadlines, each with a callback; all fire, each once,
// no earlier than its deadline.
TEST(ContextTest, StressManyDeadlinesAllFireOnce) {
  constexpr int kContexts = 300;
  std::vector<std::pair<Context, CancelFunc>> ctxs;
  std::vector<CallbackHandle> handles;
  std::vector<std::atomic<int>> runs(kContexts);
  std::atomic<int> early{0};
  std::atomic<int> fired{0};
  std::promise<void> all_fired;
  std::mt19937 rng(7);
  for (int i = 0; i < kContexts; ++i) {
    const auto deadline = Clock::now() + std::chrono::microseconds(rng() % 20000);
    ctxs.push_back(WithDeadline(Context::Background(), deadline));
    handles.push_back(ctxs.back().first.on_done([&, i, deadline] {
      if (Clock::now() < deadline) early.fetch_add(1);
      runs[i].fetch_add(1);
      if (fired.fetch_add(1) + 1 == kContexts) all_fired.set_value();
    }));
  }
  ASSERT_EQ(all_fired.get_future().wait_for(kPatience), std::future_status::ready)
      << fired.load() << " of " << kContexts << " fired";
  EXPECT_EQ(early.load(), 0);
  for (auto& r : runs) EXPECT_EQ(r.load(), 1);
  for (auto& [ctx, cancel] : ctxs) EXPECT_EQ(ctx.err(), ContextErr::kDeadlineExceeded);
}

}  // namespace
}  // namespace racelab
