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
#include <tuple>
#include <vector>

#include "racelab/base/thread_name.h"
#include "racelab/sync/clock.h"
#include "test_support.h"

namespace racelab {
namespace {

using racelab::testing::Eventually;
using racelab::testing::kPatience;
using namespace std::chrono_literals;
using TimePoint = Clock::time_point;

// Deadlines are on a FakeClock that the test moves: no test waits for real
// time to pass, except the two that check the real clock's timer thread.
constexpr TimePoint kT0 = FakeClock::kDefaultStart;

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

TEST(ContextTest, StatusForMapsWhyAContextIsDone) {
  enum class OpStatus { kOk, kCanceled, kDeadlineExceeded };
  EXPECT_EQ(StatusFor<OpStatus>(ContextErr::kCanceled), OpStatus::kCanceled);
  EXPECT_EQ(StatusFor<OpStatus>(ContextErr::kDeadlineExceeded), OpStatus::kDeadlineExceeded);
}

TEST(ContextTest, BackgroundIsNeverDone) {
  Context bg = Context::Background();
  EXPECT_FALSE(bg.done());
  EXPECT_EQ(bg.err(), ContextErr::kNone);
  EXPECT_EQ(bg.cause(), "");
  EXPECT_FALSE(bg.deadline().has_value());
  EXPECT_FALSE(bg.clock().is_fake());
  EXPECT_FALSE(bg.wait_for(0ms));
  EXPECT_FALSE(bg.wait_until(std::chrono::steady_clock::now() - 1s));
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
  FakeClock fake;
  auto [parent, cancel_parent] = WithDeadline(Context::Background(), kT0 + 1h, fake.clock());
  auto [later, cancel_later] = WithDeadline(parent, kT0 + 2h);
  auto [earlier, cancel_earlier] = WithDeadline(parent, kT0 + 30min);
  auto [plain, cancel_plain] = WithCancel(earlier);
  EXPECT_EQ(parent.deadline(), kT0 + 1h);
  EXPECT_EQ(later.deadline(), kT0 + 1h);
  EXPECT_EQ(earlier.deadline(), kT0 + 30min);
  EXPECT_EQ(plain.deadline(), kT0 + 30min);
}

TEST(ContextTest, ChildrenReadTheirParentsClock) {
  FakeClock fake;
  auto [parent, cancel_parent] = WithTimeout(Context::Background(), 1h, fake.clock());
  auto [child, cancel_child] = WithCancel(parent);
  auto [timed, cancel_timed] = WithTimeout(child, 1s);
  EXPECT_EQ(parent.clock(), fake.clock());
  EXPECT_EQ(child.clock(), fake.clock());
  EXPECT_EQ(timed.clock(), fake.clock());
  EXPECT_EQ(timed.deadline(), kT0 + 1s);
  EXPECT_FALSE(WithCancel(Context::Background()).first.clock().is_fake());
}

TEST(ContextTest, ADeadlineOnAnotherClockThanTheParentsIsRefused) {
  FakeClock fake;
  FakeClock other;
  auto [parent, cancel] = WithTimeout(Context::Background(), 1h, fake.clock());
  EXPECT_THROW(WithTimeout(parent, 1s, Clock()), std::invalid_argument);
  EXPECT_THROW(WithDeadline(parent, kT0 + 1s, other.clock()), std::invalid_argument);
  EXPECT_NO_THROW(WithDeadline(parent, kT0 + 1s, fake.clock()));
  // A parent without a deadline has nothing to compare: any clock will do.
  auto [plain, cancel_plain] = WithCancel(Context::Background());
  EXPECT_NO_THROW(WithTimeout(plain, 1s, other.clock()));
}

TEST(ContextTest, DeadlinePassesWhenTheClockReachesIt) {
  FakeClock fake;
  auto [ctx, cancel] = WithTimeout(Context::Background(), 20ms, fake.clock());
  fake.advance(19ms);
  EXPECT_FALSE(ctx.done());
  EXPECT_EQ(ctx.err(), ContextErr::kNone);
  fake.set(kT0 + 20ms);
  EXPECT_TRUE(ctx.done());
  EXPECT_EQ(ctx.err(), ContextErr::kDeadlineExceeded);
  EXPECT_EQ(ctx.cause(), "context deadline exceeded");
}

TEST(ContextTest, DeadlineInThePastIsDoneAtOnce) {
  FakeClock fake;
  auto [ctx, cancel] = WithDeadline(Context::Background(), kT0 - 1s, fake.clock());
  EXPECT_TRUE(ctx.done());
  EXPECT_EQ(ctx.err(), ContextErr::kDeadlineExceeded);
  EXPECT_EQ(ctx.cause(), "context deadline exceeded");
}

TEST(ContextTest, CancelAfterTheDeadlineKeepsDeadlineExceeded) {
  FakeClock fake;
  auto [ctx, cancel] = WithTimeout(Context::Background(), 1s, fake.clock());
  fake.advance(1s);
  cancel("too late");
  EXPECT_EQ(ctx.err(), ContextErr::kDeadlineExceeded);
  EXPECT_EQ(ctx.cause(), "context deadline exceeded");
}

TEST(ContextTest, HugeTimeoutSaturatesInsteadOfOverflowing) {
  FakeClock fake;
  auto [ctx, cancel] = WithTimeout(Context::Background(), Clock::duration::max(), fake.clock());
  EXPECT_FALSE(ctx.done());
  EXPECT_EQ(ctx.deadline(), TimePoint::max());
  EXPECT_FALSE(ctx.wait_until(kT0));  // the clock is there already: no wait
}

TEST(ContextTest, DeadlineRunsCallbacksOnTheThreadThatMovesTheClock) {
  FakeClock fake;
  auto [ctx, cancel] = WithTimeout(Context::Background(), 20ms, fake.clock());
  std::thread::id ran_on;
  int runs = 0;
  CallbackHandle h = ctx.on_done([&] {
    ++runs;
    ran_on = std::this_thread::get_id();
  });
  fake.advance(19ms);
  EXPECT_EQ(runs, 0);
  std::thread mover([&] {
    SetCurrentThreadName("rl-test-mover");
    fake.advance(1ms);
  });
  const std::thread::id mover_id = mover.get_id();
  mover.join();
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(ran_on, mover_id);
  EXPECT_EQ(ctx.err(), ContextErr::kDeadlineExceeded);
  EXPECT_FALSE(h.stop());
  fake.advance(1h);
  EXPECT_EQ(runs, 1);
}

TEST(ContextTest, StoppedOrCanceledContextLeavesNoTimerOnTheClock) {
  FakeClock fake;
  int runs = 0;
  {
    auto [ctx, cancel] = WithTimeout(Context::Background(), 1s, fake.clock());
    CallbackHandle h = ctx.on_done([&] { ++runs; });
    cancel();
    EXPECT_EQ(runs, 1);
  }
  {
    auto [ctx, cancel] = WithTimeout(Context::Background(), 1s, fake.clock());
    CallbackHandle h = ctx.on_done([&] { ++runs; });
  }  // destroyed before its deadline
  fake.advance(1h);
  EXPECT_EQ(runs, 1);
}

TEST(ContextTest, ParentDeadlineReachesChildCallbacks) {
  FakeClock fake;
  auto [parent, cancel_parent] = WithTimeout(Context::Background(), 20ms, fake.clock());
  auto [child, cancel_child] = WithCancel(parent);
  bool fired = false;
  CallbackHandle h = child.on_done([&] { fired = true; });
  fake.advance(20ms);
  EXPECT_TRUE(fired);
  EXPECT_EQ(child.err(), ContextErr::kDeadlineExceeded);
  EXPECT_TRUE(parent.done());
}

TEST(ContextTest, WaitReturnsAtTheDeadline) {
  FakeClock fake;
  auto [ctx, cancel] = WithTimeout(Context::Background(), 20ms, fake.clock());
  auto waiter = std::async(std::launch::async, [&, ctx = ctx] {
    SetCurrentThreadName("rl-test-waiter");
    ctx.wait();
    return fake.now();
  });
  ASSERT_TRUE(fake.await_sleepers(1, kPatience));
  fake.advance(19ms);
  ASSERT_TRUE(fake.await_sleepers(1, kPatience));  // still waiting
  fake.advance(1ms);
  ASSERT_EQ(waiter.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(waiter.get(), kT0 + 20ms);
  EXPECT_EQ(ctx.err(), ContextErr::kDeadlineExceeded);
}

TEST(ContextTest, WaitForTimesOutWhileNotDone) {
  FakeClock fake;
  auto [ctx, cancel] = WithTimeout(Context::Background(), 1h, fake.clock());
  auto waiter = std::async(std::launch::async, [ctx = ctx] {
    SetCurrentThreadName("rl-test-waiter");
    return ctx.wait_for(10ms);
  });
  ASSERT_TRUE(fake.await_sleepers(1, kPatience));
  fake.advance(10ms);
  ASSERT_EQ(waiter.wait_for(kPatience), std::future_status::ready);
  EXPECT_FALSE(waiter.get());
  EXPECT_FALSE(ctx.done());
  EXPECT_FALSE(ctx.wait_until(kT0));  // an instant already passed: at once
}

TEST(ContextTest, WaitForWakesWhenCanceledBeforeTheTimeout) {
  FakeClock fake;
  auto [ctx, cancel] = WithTimeout(Context::Background(), 1h, fake.clock());
  auto waiter = std::async(std::launch::async, [ctx = ctx] {
    SetCurrentThreadName("rl-test-waiter");
    return ctx.wait_for(10min);
  });
  ASSERT_TRUE(fake.await_sleepers(1, kPatience));
  cancel();
  ASSERT_EQ(waiter.wait_for(kPatience), std::future_status::ready);
  EXPECT_TRUE(waiter.get());
}

// The production default: the real clock's deadlines are run by
// rl-ctx-timer. Real time passes here, on purpose (20 ms).
TEST(ContextTest, RealClockDeadlineRunsCallbacksOnTheTimerThread) {
  const auto start = std::chrono::steady_clock::now();
  auto [ctx, cancel] = WithTimeout(Context::Background(), 20ms);
  EXPECT_FALSE(ctx.clock().is_fake());
  std::promise<std::string> fired;
  CallbackHandle h = ctx.on_done([&] { fired.set_value(CurrentThreadName()); });
  std::future<std::string> f = fired.get_future();
  ASSERT_EQ(f.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(f.get(), "rl-ctx-timer");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
  EXPECT_EQ(ctx.err(), ContextErr::kDeadlineExceeded);
  EXPECT_FALSE(h.stop());
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
  {
    CallbackHandle h = ctx.on_done([&] { ran = true; });
  }
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

// A request's context lives in a session object; the session's on_done
// callback ends the session, dropping the last Context, CancelFunc and
// handles of the context that is being canceled, while that cancel is on
// the stack. (ASan: heap-use-after-free in State::RunCallbacks before.)
TEST(ContextTest, CallbackMayDropTheLastOwnersOfItsContext) {
  struct Session {
    Context ctx;
    CancelFunc cancel;
    CallbackHandle on_end;
    CallbackHandle on_other;
  };
  auto session = std::make_unique<Session>();
  std::tie(session->ctx, session->cancel) = WithCancel(Context::Background());
  int ended = 0;
  int others = 0;
  session->on_end = session->ctx.on_done([&] {
    session.reset();  // the context's last owners go here
    ++ended;
  });
  session->on_other = session->ctx.on_done([&] { ++others; });
  session->cancel();  // a member of the session that the callback destroys
  EXPECT_EQ(session, nullptr);
  EXPECT_EQ(ended, 1);
  EXPECT_EQ(others, 0) << "its handle was destroyed before it ran";
}

// A context that lives on (a connection's, say) with a deadline an hour
// away: stopping its only on_done callback leaves nothing that awaits the
// deadline, so the timer thread must go.
TEST(ContextTest, StoppingTheLastCallbackStopsTheTimerThread) {
  ASSERT_TRUE(Eventually([] { return CountThreadsNamed("rl-ctx-timer") == 0; }));
  auto [ctx, cancel] = WithTimeout(Context::Background(), 1h);
  CallbackHandle h = ctx.on_done([] {});
  ASSERT_TRUE(Eventually([] { return CountThreadsNamed("rl-ctx-timer") == 1; }));
  EXPECT_TRUE(h.stop());
  EXPECT_TRUE(Eventually([] { return CountThreadsNamed("rl-ctx-timer") == 0; }))
      << "no callback is registered, yet rl-ctx-timer still runs";
  EXPECT_FALSE(ctx.done());
}

// Two callbacks on one deadline: the timer stays while one is left.
TEST(ContextTest, TimerThreadStaysWhileAnyCallbackIsRegistered) {
  ASSERT_TRUE(Eventually([] { return CountThreadsNamed("rl-ctx-timer") == 0; }));
  auto [ctx, cancel] = WithTimeout(Context::Background(), 1ms);
  std::promise<void> fired;
  CallbackHandle stopped = ctx.on_done([] {});
  CallbackHandle kept = ctx.on_done([&] { fired.set_value(); });
  EXPECT_TRUE(stopped.stop());
  ASSERT_EQ(fired.get_future().wait_for(kPatience), std::future_status::ready);
  EXPECT_TRUE(Eventually([] { return CountThreadsNamed("rl-ctx-timer") == 0; }));
}

TEST(ContextTest, ThrowingCallbackStillStopsTheTimerThread) {
  ASSERT_TRUE(Eventually([] { return CountThreadsNamed("rl-ctx-timer") == 0; }));
  auto [ctx, cancel] = WithTimeout(Context::Background(), 1h);
  CallbackHandle h = ctx.on_done([] { throw std::runtime_error("callback failed"); });
  ASSERT_TRUE(Eventually([] { return CountThreadsNamed("rl-ctx-timer") == 1; }));
  EXPECT_THROW(cancel(), std::runtime_error);
  EXPECT_TRUE(Eventually([] { return CountThreadsNamed("rl-ctx-timer") == 0; }))
      << "the canceled context's deadline is still on the timer thread";
}

// A server context lives as long as the process; each request gets a child
// with its own deadline, which a session table keeps after it passed. As in
// Go, where the child's timer unlinks it, the parent must not keep them.
TEST(ContextTest, ChildrenEndedByTheirOwnDeadlineLeaveTheirParent) {
  FakeClock fake;
  auto [server, stop_server] = WithCancel(Context::Background());
  std::vector<std::pair<Context, CancelFunc>> requests;
  for (int i = 0; i < 100; ++i) {
    requests.push_back(WithTimeout(server, 1s, fake.clock()));
    fake.advance(1s);
    ASSERT_EQ(requests.back().first.err(), ContextErr::kDeadlineExceeded);
  }
  EXPECT_EQ(server.registered_callbacks(), 0u) << "the parent accumulates expired children";
  auto [live, cancel_live] = WithTimeout(server, 1s, fake.clock());
  EXPECT_EQ(server.registered_callbacks(), 1u);
  stop_server();  // still reaches the child that has not expired
  EXPECT_EQ(live.err(), ContextErr::kCanceled);
}

TEST(ContextTest, ChildrenEndedByARealDeadlineLeaveTheirParent) {
  auto [server, stop_server] = WithCancel(Context::Background());
  std::vector<std::pair<Context, CancelFunc>> requests;
  for (int i = 0; i < 20; ++i) requests.push_back(WithTimeout(server, 1ms));
  EXPECT_TRUE(Eventually([s = server] { return s.registered_callbacks() == 0; }))
      << server.registered_callbacks() << " expired children are still linked";
  EXPECT_TRUE(Eventually([] { return CountThreadsNamed("rl-ctx-timer") == 0; }));
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
          if (i % 2 == 0)
            prevented[slot] = h.stop() ? 1 : 0;
          else
            kept[t].push_back(std::move(h));
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
          if (i % 3 == 0)
            node.second("t" + std::to_string(t));
          else
            late[t].push_back(WithCancel(node.first));
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

// Stress: many deadlines on one FakeClock, each with a callback, while two
// threads move the clock and a third cancels some contexts: every callback
// runs exactly once, none before its deadline unless its context was
// canceled first.
TEST(ContextTest, StressManyDeadlinesAllFireOnce) {
  constexpr int kContexts = 300;
  FakeClock fake;
  std::vector<std::pair<Context, CancelFunc>> ctxs;
  std::vector<CallbackHandle> handles;
  std::vector<std::atomic<int>> runs(kContexts);
  std::atomic<int> early{0};
  std::mt19937 rng(7);
  for (int i = 0; i < kContexts; ++i) {
    const TimePoint deadline = kT0 + std::chrono::microseconds(1 + rng() % 20000);
    ctxs.push_back(WithDeadline(Context::Background(), deadline, fake.clock()));
    handles.push_back(ctxs.back().first.on_done([&, i, deadline, ctx = ctxs.back().first] {
      if (fake.now() < deadline && ctx.err() != ContextErr::kCanceled) early.fetch_add(1);
      runs[i].fetch_add(1);
    }));
  }
  std::latch go(3);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      SetCurrentThreadName("rl-test-mover-" + std::to_string(t));
      go.arrive_and_wait();
      for (int step = 0; step < 100; ++step) fake.advance(std::chrono::microseconds(100));
    });
  }
  threads.emplace_back([&] {
    SetCurrentThreadName("rl-test-cancel");
    go.arrive_and_wait();
    for (int i = 0; i < kContexts; i += 7) ctxs[i].second("canceled");
  });
  for (auto& th : threads) th.join();
  EXPECT_EQ(fake.now(), kT0 + 20ms);
  EXPECT_EQ(early.load(), 0);
  for (auto& r : runs) EXPECT_EQ(r.load(), 1);
  for (int i = 0; i < kContexts; ++i) {
    if (ctxs[i].first.err() != ContextErr::kCanceled) {
      EXPECT_EQ(ctxs[i].first.err(), ContextErr::kDeadlineExceeded) << "context " << i;
    }
  }
}

}  // namespace
}  // namespace racelab
