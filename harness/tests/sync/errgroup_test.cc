#include "racelab/sync/errgroup.h"

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
#include "racelab/sync/context.h"
#include "test_support.h"

namespace racelab {
namespace {

using racelab::testing::kPatience;
using namespace std::chrono_literals;
using ::testing::AnyOf;
using ::testing::StartsWith;

std::string LogicErrorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::logic_error& e) {
    return e.what();
  }
  return "(no exception)";
}

TEST(ErrGroupTest, WaitReturnsNoErrorWhenEveryTaskSucceeds) {
  ErrGroup group;
  std::atomic<int> ran{0};
  for (int i = 0; i < 10; ++i) {
    group.go([&]() -> Status {
      ran.fetch_add(1);
      return Status::Ok();
    });
  }
  group.go([&] { ran.fetch_add(1); });  // void tasks succeed
  EXPECT_TRUE(group.wait().ok());
  EXPECT_EQ(ran.load(), 11);
}

TEST(ErrGroupTest, WaitPublishesWhatTasksWrote) {
  ErrGroup group;
  std::vector<int> out(8, 0);  // plain ints: TSan checks the edge
  for (int i = 0; i < 8; ++i) group.go([&out, i] { out[i] = i * i; });
  ASSERT_TRUE(group.wait().ok());
  for (int i = 0; i < 8; ++i) EXPECT_EQ(out[i], i * i);
}

TEST(ErrGroupTest, WaitReturnsTheFirstError) {
  auto [group, ctx] = ErrGroup::WithContext(Context::Background());
  group.go([]() -> Status { return "first"; });
  // Fails only once the first error canceled the context: strictly later.
  group.go([ctx = ctx]() -> Status {
    if (!ctx.wait_for(kPatience)) return "timed out waiting for the first error";
    return "second";
  });
  EXPECT_EQ(group.wait(), Status("first"));
  EXPECT_EQ(group.wait(), Status("first")) << "wait() may be called again";
}

TEST(ErrGroupTest, AnExceptionIsTheTasksError) {
  ErrGroup a;
  a.go([]() -> Status { throw std::runtime_error("boom"); });
  EXPECT_EQ(a.wait(), Status("boom"));
  ErrGroup b;
  b.go([] { throw 42; });
  EXPECT_EQ(b.wait(), Status("unknown exception"));
}

TEST(ErrGroupTest, FirstErrorCancelsTheContextSiblingsSee) {
  auto [group, ctx] = ErrGroup::WithContext(Context::Background());
  std::promise<std::string> sibling_saw;
  group.go([&, ctx = ctx] {
    ctx.wait_for(kPatience);
    sibling_saw.set_value(ctx.cause());
  });
  group.go([]() -> Status { return "disk full"; });
  auto saw = sibling_saw.get_future();
  ASSERT_EQ(saw.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(saw.get(), "disk full");
  EXPECT_EQ(group.wait(), Status("disk full"));
  EXPECT_EQ(ctx.err(), ContextErr::kCanceled);
}

TEST(ErrGroupTest, ContextIsCanceledWhenWaitReturns) {
  auto [group, ctx] = ErrGroup::WithContext(Context::Background());
  group.go([] {});
  EXPECT_TRUE(group.wait().ok());
  EXPECT_TRUE(ctx.done());
  EXPECT_EQ(ctx.err(), ContextErr::kCanceled);
  EXPECT_EQ(group.context(), ctx);
}

TEST(ErrGroupTest, ParentCancellationReachesTheGroupContext) {
  auto [parent, cancel_parent] = WithCancel(Context::Background());
  auto [group, ctx] = ErrGroup::WithContext(parent);
  group.go([](const Context& task_ctx) -> Status {
    if (!task_ctx.wait_for(kPatience)) return "never canceled";
    return std::string(ToString(task_ctx.err()));
  });
  cancel_parent();
  EXPECT_EQ(group.wait(), Status("context canceled"));
}

TEST(ErrGroupTest, TasksReceiveTheGroupContext) {
  auto [group, ctx] = ErrGroup::WithContext(Context::Background());
  std::promise<bool> same;
  group.go([&, ctx = ctx](const Context& task_ctx) { same.set_value(task_ctx == ctx); });
  EXPECT_TRUE(group.wait().ok());
  EXPECT_TRUE(same.get_future().get());
  ErrGroup plain;
  EXPECT_EQ(plain.context(), Context::Background());
}

TEST(ErrGroupTest, TasksRunOnNamedThreads) {
  ErrGroup group;
  std::promise<std::string> name;
  group.go([&] { name.set_value(CurrentThreadName()); });
  group.wait();
  EXPECT_THAT(name.get_future().get(), StartsWith("rl-errgroup-"));
}

TEST(ErrGroupTest, SetLimitBoundsTheTasksRunningAtOnce) {
  ErrGroup group;
  group.set_limit(2);
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  std::atomic<int> ran{0};
  for (int i = 0; i < 20; ++i) {
    group.go([&] {
      const int now = running.fetch_add(1) + 1;
      int seen = peak.load();
      while (now > seen && !peak.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::yield();
      running.fetch_sub(1);
      ran.fetch_add(1);
    });
  }
  EXPECT_TRUE(group.wait().ok());
  EXPECT_LE(peak.load(), 2);
  EXPECT_EQ(ran.load(), 20);
}

TEST(ErrGroupTest, GoBlocksAtTheLimitUntilATaskFinishes) {
  ErrGroup group;
  group.set_limit(1);
  std::promise<void> release;
  std::atomic<bool> first_done{false};
  group.go([&, f = release.get_future()]() mutable {
    f.wait();
    first_done.store(true);
  });
  std::promise<bool> second_saw_first_done;
  auto second = std::async(std::launch::async, [&] {
    group.go([&] { second_saw_first_done.set_value(first_done.load()); });
  });
  release.set_value();
  ASSERT_EQ(second.wait_for(kPatience), std::future_status::ready);
  EXPECT_TRUE(group.wait().ok());
  EXPECT_TRUE(second_saw_first_done.get_future().get());
}

TEST(ErrGroupTest, TryGoReturnsFalseAtTheLimit) {
  ErrGroup group;
  group.set_limit(1);
  std::promise<void> release;
  ASSERT_TRUE(group.try_go([f = release.get_future()]() mutable { f.wait(); }));
  bool ran = false;
  EXPECT_FALSE(group.try_go([&] { ran = true; }));
  release.set_value();
  group.wait();
  EXPECT_FALSE(ran);
  EXPECT_TRUE(group.try_go([&] { ran = true; }));
  group.wait();
  EXPECT_TRUE(ran);
}

TEST(ErrGroupTest, SetLimitWhileTasksRunThrowsNamingTheValues) {
  ErrGroup group;
  std::promise<void> release;
  group.go([f = release.get_future()]() mutable { f.wait(); });
  EXPECT_EQ(LogicErrorOf([&] { group.set_limit(2); }),
            "errgroup: set_limit(2) while 1 tasks are still active");
  release.set_value();
  group.wait();
  EXPECT_NO_THROW(group.set_limit(2));
}

TEST(ErrGroupTest, LimitZeroRefusesInsteadOfBlockingForever) {
  ErrGroup group;
  group.set_limit(0);
  EXPECT_FALSE(group.try_go([] {}));
  EXPECT_EQ(LogicErrorOf([&] { group.go([] {}); }),
            "errgroup: go() with limit 0 would block forever");
  group.set_limit(-1);
  EXPECT_TRUE(group.try_go([] {}));
}

TEST(ErrGroupTest, DestructorWaitsForEveryTask) {
  std::atomic<int> finished{0};
  {
    ErrGroup group;
    for (int i = 0; i < 4; ++i) {
      group.go([&] {
        std::this_thread::yield();
        finished.fetch_add(1);
      });
    }
  }
  EXPECT_EQ(finished.load(), 4);
}

TEST(ErrGroupTest, MovedGroupKeepsItsTasks) {
  std::atomic<int> finished{0};
  ErrGroup a;
  a.go([&]() -> Status {
    finished.fetch_add(1);
    return "from a";
  });
  ErrGroup b = std::move(a);
  EXPECT_EQ(b.wait(), Status("from a"));
  EXPECT_EQ(finished.load(), 1);
}

// Stress: several threads call go() on one limited group, tasks fail at
// random; every task runs exactly once and wait() returns one of the errors.
TEST(ErrGroupTest, StressConcurrentGoWithLimitAndErrors) {
  for (int round = 0; round < 5; ++round) {
    auto [group_, ctx] = ErrGroup::WithContext(Context::Background());
    ErrGroup& group = group_;  // a lambda cannot capture a structured binding
    group.set_limit(3);
    constexpr int kCallers = 4;
    constexpr int kPerCaller = 25;
    std::vector<std::atomic<int>> runs(kCallers * kPerCaller);
    std::latch go(kCallers);
    std::vector<std::thread> callers;
    for (int c = 0; c < kCallers; ++c) {
      callers.emplace_back([&, c] {
        SetCurrentThreadName("rl-test-" + std::to_string(c));
        go.arrive_and_wait();
        for (int i = 0; i < kPerCaller; ++i) {
          const int id = c * kPerCaller + i;
          auto task = [&runs, id]() -> Status {
            runs[id].fetch_add(1);
            if (id % 7 == 3) return "task " + std::to_string(id);
            return Status::Ok();
          };
          if (i % 2 == 0) {
            group.go(task);
          } else {
            while (!group.try_go(task)) std::this_thread::yield();
          }
        }
      });
    }
    for (auto& t : callers) t.join();
    Status err = group.wait();
    ASSERT_FALSE(err.ok());
    EXPECT_THAT(err.message(), StartsWith("task "));
    EXPECT_EQ(ctx.cause(), err.message());
    for (auto& r : runs) EXPECT_EQ(r.load(), 1);
  }
}

}  // namespace
}  // namespace racelab
