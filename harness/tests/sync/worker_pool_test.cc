#include "racelab/sync/worker_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <memory>
#include <mutex>
#include <set>
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
using ::testing::ElementsAre;
using ::testing::IsSubsetOf;
using ::testing::UnorderedElementsAre;

// A job that occupies a worker until released; started() says it runs.
class Blocker {
 public:
  auto job() {
    return [this] {
      started_.set_value();
      release_future_.wait();
    };
  }
  bool started() { return started_future_.wait_for(kPatience) == std::future_status::ready; }
  void release() { release_.set_value(); }

 private:
  std::promise<void> started_;
  std::future<void> started_future_ = started_.get_future();
  std::promise<void> release_;
  std::shared_future<void> release_future_ = release_.get_future().share();
};

// Collects on_failure reports.
struct Failures {
  std::mutex mu;
  std::vector<JobFailure> list;
  std::function<void(const JobFailure&)> callback() {
    return [this](const JobFailure& f) {
      std::lock_guard<std::mutex> lock(mu);
      list.push_back(f);
    };
  }
  std::vector<JobFailure> get() {
    std::lock_guard<std::mutex> lock(mu);
    return list;
  }
};

TEST(WorkerPoolTest, RunsEveryJobOnNamedWorkers) {
  std::mutex mu;
  std::set<std::string> names;
  std::atomic<int> ran{0};
  {
    WorkerPool pool({.workers = 2, .queue_capacity = 16});
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(pool.submit([&] {
        {
          std::lock_guard<std::mutex> lock(mu);
          names.insert(CurrentThreadName());
        }
        ran.fetch_add(1);
      }));
    }
    PoolShutdown r = pool.shutdown();
    EXPECT_FALSE(r.deadline_exceeded);
    EXPECT_TRUE(r.not_run.empty());
    EXPECT_EQ(pool.stats().done, 100u);
  }
  EXPECT_EQ(ran.load(), 100);
  EXPECT_THAT(names, IsSubsetOf({"rl-pool-0", "rl-pool-1"}));
  EXPECT_FALSE(names.empty());
}

TEST(WorkerPoolTest, SubmitReturnsIncreasingIds) {
  WorkerPool pool({.workers = 1, .queue_capacity = 4});
  JobId last = 0;
  for (int i = 0; i < 10; ++i) {
    SubmitResult r = pool.submit([] {});
    ASSERT_TRUE(r.ok());
    EXPECT_GT(r.id, last);
    last = r.id;
  }
  EXPECT_EQ(last, 10u);
}

TEST(WorkerPoolTest, TrySubmitReturnsFullWhenTheQueueIsFull) {
  Blocker blocker;  // outlives the pool, whose worker uses it
  WorkerPool pool({.workers = 1, .queue_capacity = 2});
  ASSERT_TRUE(pool.try_submit(blocker.job()));
  ASSERT_TRUE(blocker.started());
  EXPECT_TRUE(pool.try_submit([] {}));
  EXPECT_TRUE(pool.try_submit([] {}));
  SubmitResult full = pool.try_submit([] {});
  EXPECT_EQ(full.status, PoolStatus::kFull);
  EXPECT_EQ(full.id, 0u);
  PoolStats s = pool.stats();
  EXPECT_EQ(s.queued, 2u);
  EXPECT_EQ(s.running, 1u);
  EXPECT_EQ(s.rejected, 1u);
  blocker.release();
  pool.shutdown();
  EXPECT_EQ(pool.stats().done, 3u);
}

TEST(WorkerPoolTest, CapacityIsExactEvenWhenNotAPowerOfTwo) {
  for (std::size_t cap : {1u, 3u}) {
    Blocker blocker;  // outlives the pool, whose worker uses it
    WorkerPool pool({.workers = 1, .queue_capacity = cap});
    ASSERT_TRUE(pool.try_submit(blocker.job()));
    ASSERT_TRUE(blocker.started());
    for (std::size_t i = 0; i < cap; ++i) EXPECT_TRUE(pool.try_submit([] {})) << i;
    EXPECT_EQ(pool.try_submit([] {}).status, PoolStatus::kFull) << "cap " << cap;
    EXPECT_EQ(pool.stats().queued, cap);
    blocker.release();
    pool.shutdown();
    EXPECT_EQ(pool.stats().done, cap + 1);
  }
}

TEST(WorkerPoolTest, BlockedSubmitProceedsWhenRoomFrees) {
  Blocker blocker;  // outlives the pool, whose worker uses it
  WorkerPool pool({.workers = 1, .queue_capacity = 1});
  ASSERT_TRUE(pool.submit(blocker.job()));
  ASSERT_TRUE(blocker.started());
  ASSERT_TRUE(pool.submit([] {}));  // fills the queue
  auto blocked = std::async(std::launch::async, [&] { return pool.submit([] {}); });
  blocker.release();
  ASSERT_EQ(blocked.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(blocked.get().status, PoolStatus::kOk);
  pool.shutdown();
  EXPECT_EQ(pool.stats().done, 3u);
}

TEST(WorkerPoolTest, BlockedSubmitGivesUpWhenItsContextIsCanceled) {
  Blocker blocker;  // outlives the pool, whose worker uses it
  WorkerPool pool({.workers = 1, .queue_capacity = 1});
  ASSERT_TRUE(pool.submit(blocker.job()));
  ASSERT_TRUE(blocker.started());
  ASSERT_TRUE(pool.submit([] {}));
  auto [ctx, cancel] = WithCancel(Context::Background());
  bool ran = false;
  std::latch submitting(1);
  auto blocked = std::async(std::launch::async, [&, ctx = ctx] {
    submitting.count_down();
    return pool.submit([&] { ran = true; }, ctx);
  });
  submitting.wait();
  cancel();
  ASSERT_EQ(blocked.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(blocked.get().status, PoolStatus::kCanceled);
  EXPECT_EQ(pool.stats().rejected, 1u);
  blocker.release();
  pool.shutdown();
  EXPECT_FALSE(ran);
  EXPECT_EQ(ctx.registered_callbacks(), 0u);
}

TEST(WorkerPoolTest, BlockedSubmitGivesUpAtItsDeadline) {
  Blocker blocker;  // outlives the pool, whose worker uses it
  WorkerPool pool({.workers = 1, .queue_capacity = 1});
  ASSERT_TRUE(pool.submit(blocker.job()));
  ASSERT_TRUE(blocker.started());
  ASSERT_TRUE(pool.submit([] {}));
  FakeClock fake;
  auto [ctx, cancel] = WithTimeout(Context::Background(), 20ms, fake.clock());
  auto submit = std::async(std::launch::async, [&, ctx = ctx] {
    SetCurrentThreadName("rl-test-submit");
    return pool.submit([] {}, ctx).status;
  });
  ASSERT_TRUE(AwaitCallbacks(ctx, 1));  // blocked on the full queue
  fake.advance(19ms);
  EXPECT_NE(submit.wait_for(0s), std::future_status::ready);
  fake.advance(1ms);
  ASSERT_EQ(submit.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(submit.get(), PoolStatus::kDeadlineExceeded);
  blocker.release();
}

// One slot frees while a submitter is blocked (its deadline 1 s away): the
// slot is the blocked submitter's, at once, not a later try_submit's; and
// at its deadline it does not report "deadline exceeded" for a queue that
// had room. As a Go buffered channel serves its blocked senders.
TEST(WorkerPoolTest, BlockedSubmitGetsTheFirstFreedSlot) {
  Blocker first;  // outlive the pool, whose worker uses them
  Blocker second;
  WorkerPool pool({.workers = 1, .queue_capacity = 4});
  ASSERT_TRUE(pool.submit(first.job()));
  ASSERT_TRUE(first.started());
  ASSERT_TRUE(pool.submit(second.job()));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(pool.submit([] {}));  // full
  FakeClock fake;
  auto [ctx, cancel] = WithTimeout(Context::Background(), 1s, fake.clock());
  auto blocked = std::async(std::launch::async, [&, ctx = ctx] {
    SetCurrentThreadName("rl-test-submit");
    return pool.submit([] {}, ctx);
  });
  ASSERT_TRUE(AwaitCallbacks(ctx, 1));  // blocked on the full queue
  first.release();
  ASSERT_TRUE(second.started());  // the worker took `second`: one slot freed
  EXPECT_EQ(pool.try_submit([] {}).status, PoolStatus::kFull)
      << "a try_submit took the slot a blocked submitter was waiting for";
  fake.advance(1s);
  ASSERT_EQ(blocked.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(blocked.get().status, PoolStatus::kOk);
  second.release();
  pool.shutdown();
  EXPECT_EQ(pool.stats().done, 6u);
}

// Blocked submitters are served first come, first served.
TEST(WorkerPoolTest, BlockedSubmittersAreServedInArrivalOrder) {
  Blocker gate;  // outlives the pool
  WorkerPool pool({.workers = 1, .queue_capacity = 1});
  ASSERT_TRUE(pool.submit(gate.job()));
  ASSERT_TRUE(gate.started());
  ASSERT_TRUE(pool.submit([] {}));  // full
  std::mutex mu;
  std::vector<int> order;
  std::vector<std::future<SubmitResult>> blocked;
  std::vector<CancelFunc> cancels;
  for (int i = 0; i < 4; ++i) {
    auto [ctx, cancel] = WithCancel(Context::Background());
    cancels.push_back(cancel);
    blocked.push_back(std::async(std::launch::async, [&, i, ctx = ctx] {
      SetCurrentThreadName("rl-test-submit");
      return pool.submit(
          [&, i] {
            std::lock_guard<std::mutex> lock(mu);
            order.push_back(i);
          },
          ctx);
    }));
    ASSERT_TRUE(AwaitCallbacks(ctx, 1));  // i is queued before i + 1 comes
  }
  gate.release();
  for (auto& b : blocked) {
    ASSERT_EQ(b.wait_for(kPatience), std::future_status::ready);
    EXPECT_EQ(b.get().status, PoolStatus::kOk);
  }
  pool.shutdown();
  EXPECT_THAT(order, ElementsAre(0, 1, 2, 3));
}

// A client spinning on try_submit must not starve a blocking submit.
TEST(WorkerPoolTest, BlockedSubmitIsNotStarvedByATrySubmitSpinner) {
  Blocker gate;  // outlives the pool
  WorkerPool pool({.workers = 1, .queue_capacity = 4});
  ASSERT_TRUE(pool.submit(gate.job()));
  ASSERT_TRUE(gate.started());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(pool.submit([] {}));  // full: ids 2..5
  std::atomic<bool> stop{false};
  std::atomic<JobId> spinner_first{0};  // the first id the spinner got
  std::thread spinner([&] {
    SetCurrentThreadName("rl-test-spin");
    while (!stop.load()) {
      const SubmitResult r = pool.try_submit([] {});
      if (r.ok() && spinner_first.load() == 0) spinner_first.store(r.id);
    }
  });
  auto [ctx, cancel] = WithCancel(Context::Background());
  auto blocked = std::async(std::launch::async, [&, ctx = ctx] {
    SetCurrentThreadName("rl-test-submit");
    return pool.submit([] {}, ctx);
  });
  ASSERT_TRUE(AwaitCallbacks(ctx, 1));
  gate.release();
  const bool served = blocked.wait_for(kPatience) == std::future_status::ready;
  stop.store(true);
  spinner.join();
  ASSERT_TRUE(served) << "starved by try_submit";
  const SubmitResult r = blocked.get();
  EXPECT_EQ(r.status, PoolStatus::kOk);
  EXPECT_EQ(r.id, 6u) << "the spinner got in first, with id " << spinner_first.load();
}

TEST(WorkerPoolTest, SubmitWithADoneContextIsRejectedAtOnce) {
  WorkerPool pool({.workers = 1, .queue_capacity = 4});
  auto [ctx, cancel] = WithCancel(Context::Background());
  cancel();
  EXPECT_EQ(pool.submit([] {}, ctx).status, PoolStatus::kCanceled);
  EXPECT_EQ(pool.stats().rejected, 1u);
}

TEST(WorkerPoolTest, SubmitAfterShutdownIsRejectedNotACrash) {
  WorkerPool pool({.workers = 2, .queue_capacity = 4});
  pool.shutdown();
  EXPECT_EQ(pool.submit([] {}).status, PoolStatus::kShutdown);
  EXPECT_EQ(pool.try_submit([] {}).status, PoolStatus::kShutdown);
  EXPECT_EQ(pool.stats().rejected, 2u);
}

TEST(WorkerPoolTest, ShutdownReleasesBlockedSubmitters) {
  Blocker blocker;  // outlives the pool, whose worker uses it
  WorkerPool pool({.workers = 1, .queue_capacity = 1});
  ASSERT_TRUE(pool.submit(blocker.job()));
  ASSERT_TRUE(blocker.started());
  ASSERT_TRUE(pool.submit([] {}));
  std::latch submitting(1);
  auto blocked = std::async(std::launch::async, [&] {
    submitting.count_down();
    return pool.submit([] {});
  });
  submitting.wait();
  auto shutdown = std::async(std::launch::async, [&] { return pool.shutdown(); });
  // The blocked submit either got in before the close (and runs) or is refused.
  ASSERT_EQ(blocked.wait_for(kPatience), std::future_status::ready);
  const PoolStatus s = blocked.get().status;
  EXPECT_TRUE(s == PoolStatus::kShutdown || s == PoolStatus::kOk) << ToString(s);
  blocker.release();
  ASSERT_EQ(shutdown.wait_for(kPatience), std::future_status::ready);
  EXPECT_TRUE(shutdown.get().not_run.empty());
  EXPECT_EQ(pool.stats().done, s == PoolStatus::kOk ? 3u : 2u);
}

TEST(WorkerPoolTest, ShutdownDrainsEveryAcceptedJob) {
  std::atomic<int> ran{0};
  WorkerPool pool({.workers = 2, .queue_capacity = 128});
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(pool.try_submit([&] { ran.fetch_add(1); }));
  PoolShutdown r = pool.shutdown(steady_clock::now() + kPatience);
  EXPECT_FALSE(r.deadline_exceeded);
  EXPECT_TRUE(r.not_run.empty());
  EXPECT_EQ(ran.load(), 100);
  EXPECT_TRUE(pool.context().done()) << "a finished pool's context is done";
}

TEST(WorkerPoolTest, ShutdownPastItsDeadlineReportsJobsThatNeverRan) {
  WorkerPool pool({.workers = 1, .queue_capacity = 8});
  std::promise<ContextErr> first_saw;
  std::promise<void> first_started;
  ASSERT_EQ(pool.submit([&](const Context& ctx) {
                  first_started.set_value();
                  ctx.wait_for(kPatience);  // runs until shutdown cancels it
                  first_saw.set_value(ctx.err());
                })
                .id,
            1u);
  ASSERT_EQ(first_started.get_future().wait_for(kPatience), std::future_status::ready);
  std::atomic<int> others_ran{0};
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(pool.submit([&] { others_ran.fetch_add(1); }));
  const auto start = steady_clock::now();
  PoolShutdown r = pool.shutdown(steady_clock::now() + 20ms);
  EXPECT_LT(steady_clock::now() - start, kPatience);
  EXPECT_TRUE(r.deadline_exceeded);
  EXPECT_THAT(r.not_run, ElementsAre(2u, 3u, 4u, 5u, 6u));
  EXPECT_EQ(others_ran.load(), 0);
  EXPECT_EQ(first_saw.get_future().get(), ContextErr::kCanceled);
  PoolStats s = pool.stats();
  EXPECT_EQ(s.not_run, 5u);
  EXPECT_EQ(s.done, 1u);
  EXPECT_EQ(s.queued, 0u);
}

TEST(WorkerPoolTest, ShutdownIsIdempotent) {
  Blocker blocker;  // outlives the pool, whose worker uses it
  WorkerPool pool({.workers = 1, .queue_capacity = 4});
  ASSERT_TRUE(pool.submit(blocker.job()));
  ASSERT_TRUE(blocker.started());
  ASSERT_TRUE(pool.submit([] {}));
  std::thread releaser([&] {
    SetCurrentThreadName("rl-test-release");
    // Released only once both shutdowns gave up on their deadline.
    pool.context().wait_for(kPatience);
    blocker.release();
  });
  PoolShutdown first = pool.shutdown(steady_clock::now() + 1ms);
  PoolShutdown second = pool.shutdown();
  releaser.join();
  EXPECT_TRUE(first.deadline_exceeded);
  EXPECT_THAT(first.not_run, ElementsAre(2u));
  EXPECT_EQ(second.not_run, first.not_run);
}

TEST(WorkerPoolTest, ShutdownFromItsOwnWorkerThrowsInsteadOfDeadlocking) {
  WorkerPool pool({.workers = 1, .queue_capacity = 4});
  std::promise<std::string> message;
  ASSERT_TRUE(pool.submit([&] {
    try {
      pool.shutdown();
      message.set_value("(no exception)");
    } catch (const std::logic_error& e) {
      message.set_value(e.what());
    }
  }));
  auto f = message.get_future();
  ASSERT_EQ(f.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(f.get(),
            "worker_pool: shutdown() called from one of its own workers (it would wait for "
            "itself)");
}

TEST(WorkerPoolTest, JobsGetThePoolContextNeverTheSubmitters) {
  Blocker blocker;  // outlives the pool, whose worker uses it
  WorkerPool pool({.workers = 1, .queue_capacity = 4});
  ASSERT_TRUE(pool.submit(blocker.job()));
  ASSERT_TRUE(blocker.started());
  auto [request, cancel_request] = WithCancel(Context::Background());
  std::promise<std::pair<bool, bool>> seen;
  ASSERT_TRUE(pool.submit(
      [&](const Context& ctx) {
        seen.set_value({ctx == pool.context(), ctx.done()});
      },
      request));
  cancel_request();  // the request ends; the job it handed off still runs
  blocker.release();
  auto f = seen.get_future();
  ASSERT_EQ(f.wait_for(kPatience), std::future_status::ready);
  const auto [is_pool_ctx, was_done] = f.get();
  EXPECT_TRUE(is_pool_ctx);
  EXPECT_FALSE(was_done);
}

TEST(WorkerPoolTest, FailuresAreReportedWithIdAndErrorText) {
  Failures failures;
  WorkerPool pool({.workers = 2, .queue_capacity = 8, .on_failure = failures.callback()});
  const JobId a = pool.submit([]() -> Status { return "bad input"; }).id;
  const JobId b = pool.submit([]() -> Status { throw std::runtime_error("boom"); }).id;
  const JobId c = pool.submit([] { throw 42; }).id;
  ASSERT_TRUE(pool.submit([]() -> Status { return Status::Ok(); }));
  pool.shutdown();
  std::vector<std::pair<JobId, std::string>> got;
  for (const JobFailure& f : failures.get()) {
    EXPECT_EQ(f.attempts, 1);
    got.emplace_back(f.id, f.error);
  }
  EXPECT_THAT(got, UnorderedElementsAre(std::make_pair(a, std::string("bad input")),
                                        std::make_pair(b, std::string("boom")),
                                        std::make_pair(c, std::string("unknown exception"))));
  PoolStats s = pool.stats();
  EXPECT_EQ(s.failed, 3u);
  EXPECT_EQ(s.done, 1u);
}

TEST(WorkerPoolTest, RetryRunsAFailingJobAgainUntilItSucceeds) {
  Failures failures;
  WorkerPool pool({.workers = 1,
                   .queue_capacity = 4,
                   .retry = {.max_attempts = 3, .initial_backoff = 1ms},
                   .on_failure = failures.callback()});
  std::atomic<int> runs{0};
  ASSERT_TRUE(pool.submit([&]() -> Status {
    if (runs.fetch_add(1) < 2) return "flaky";
    return Status::Ok();
  }));
  pool.shutdown();
  EXPECT_EQ(runs.load(), 3);
  EXPECT_TRUE(failures.get().empty());
  EXPECT_EQ(pool.stats().done, 1u);
}

TEST(WorkerPoolTest, RetryGivesUpAfterMaxAttempts) {
  Failures failures;
  WorkerPool pool({.workers = 1,
                   .queue_capacity = 4,
                   .retry = {.max_attempts = 3, .initial_backoff = 1ms, .multiplier = 2},
                   .on_failure = failures.callback()});
  const JobId id = pool.submit([]() -> Status { return "down"; }).id;
  pool.shutdown();
  auto got = failures.get();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, id);
  EXPECT_EQ(got[0].error, "down");
  EXPECT_EQ(got[0].attempts, 3);
}

TEST(WorkerPoolTest, ShutdownDeadlineInterruptsARetryBackoff) {
  Failures failures;
  WorkerPool pool({.workers = 1,
                   .queue_capacity = 4,
                   .retry = {.max_attempts = 5, .initial_backoff = 1h},
                   .on_failure = failures.callback()});
  std::promise<void> first_run;
  std::atomic<int> runs{0};
  ASSERT_TRUE(pool.submit([&]() -> Status {
    if (runs.fetch_add(1) == 0) first_run.set_value();
    return "unavailable";
  }));
  ASSERT_EQ(first_run.get_future().wait_for(kPatience), std::future_status::ready);
  const auto start = steady_clock::now();
  PoolShutdown r = pool.shutdown(steady_clock::now() + 20ms);
  EXPECT_LT(steady_clock::now() - start, kPatience);
  EXPECT_TRUE(r.deadline_exceeded);
  EXPECT_EQ(runs.load(), 1);
  auto got = failures.get();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].attempts, 1);
}

TEST(WorkerPoolTest, RunWithRetryStopsWhenTheContextIsCanceled) {
  auto [ctx, cancel] = WithCancel(Context::Background());
  int attempts = 0;
  int runs = 0;
  Status err = RunWithRetry(
      ctx, {.max_attempts = 10, .initial_backoff = 1ms},
      [&, cancel = cancel](const Context&) -> Status {
        if (++runs == 2) cancel();
        return "nope";
      },
      &attempts);
  EXPECT_EQ(err, Status("nope"));
  EXPECT_EQ(attempts, 2);
}

TEST(WorkerPoolTest, MisconfigurationThrowsNamingTheValue) {
  try {
    WorkerPool pool({.workers = 0});
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "worker_pool: workers must be >= 1 (got 0)");
  }
  try {
    WorkerPool pool({.workers = 1, .queue_capacity = 0});
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "worker_pool: queue_capacity must be >= 1 (got 0)");
  }
}

TEST(WorkerPoolTest, LargeAndMoveOnlyJobsRun) {
  WorkerPool pool({.workers = 1, .queue_capacity = 4});
  std::array<int, 64> big{};
  big[63] = 7;
  std::promise<int> from_big;
  ASSERT_TRUE(pool.submit([big, &from_big] { from_big.set_value(big[63]); }));
  auto owned = std::make_unique<int>(9);
  std::promise<int> from_owned;
  ASSERT_TRUE(pool.submit([p = std::move(owned), &from_owned] { from_owned.set_value(*p); }));
  pool.shutdown();
  EXPECT_EQ(from_big.get_future().get(), 7);
  EXPECT_EQ(from_owned.get_future().get(), 9);
}

TEST(WorkerPoolTest, DroppedJobsAreDestroyedNotLeaked) {
  auto token = std::make_shared<int>(0);
  {
    Blocker blocker;  // outlives the pool, whose worker uses it
    WorkerPool pool({.workers = 1, .queue_capacity = 4});
    ASSERT_TRUE(pool.submit(blocker.job()));
    ASSERT_TRUE(blocker.started());
    ASSERT_TRUE(pool.submit([token] {}));
    EXPECT_EQ(token.use_count(), 2);
    std::thread releaser([&] {
      SetCurrentThreadName("rl-test-release");
      pool.context().wait_for(kPatience);
      blocker.release();
    });
    EXPECT_THAT(pool.shutdown(steady_clock::now() + 1ms).not_run, ElementsAre(2u));
    releaser.join();
  }
  EXPECT_EQ(token.use_count(), 1);
}

// A job that runs until the pool's context ends (a long poll, a stream
// that lasts until the server stops) must not hang the destructor; the
// jobs queued behind it still run, and see the context done.
TEST(WorkerPoolTest, DestructorCancelsTheContextOfAJobWaitingOnIt) {
  std::promise<bool> saw_cancel;
  std::promise<bool> queued_saw_done;
  std::latch started(1);
  const auto start = steady_clock::now();
  {
    WorkerPool pool({.workers = 1, .queue_capacity = 4});
    ASSERT_TRUE(pool.submit([&](const Context& ctx) {
      started.count_down();
      saw_cancel.set_value(ctx.wait_for(kPatience));  // true: ended by cancellation
    }));
    ASSERT_TRUE(pool.submit([&](const Context& ctx) { queued_saw_done.set_value(ctx.done()); }));
    started.wait();
  }
  EXPECT_TRUE(saw_cancel.get_future().get())
      << "the job ended only because its own patience ran out";
  EXPECT_TRUE(queued_saw_done.get_future().get());
  EXPECT_LT(steady_clock::now() - start, kPatience);
}

TEST(WorkerPoolTest, DestructorRunsEveryAcceptedJob) {
  std::atomic<int> ran{0};
  {
    WorkerPool pool({.workers = 2, .queue_capacity = 8});
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(pool.submit([&] { ran.fetch_add(1); }));
  }
  EXPECT_EQ(ran.load(), 50);
}

// Stress: producers submit (blocking, non-blocking, with contexts that get
// canceled) while workers run; every accepted job runs exactly once and
// the counters add up.
TEST(WorkerPoolTest, StressEveryAcceptedJobRunsExactlyOnce) {
  constexpr int kProducers = 4;
  constexpr int kPerProducer = 2000;
  for (std::size_t cap : {1u, 8u, 100u}) {
    std::vector<std::atomic<int>> runs(kProducers * kPerProducer);
    std::vector<std::atomic<int>> accepted(kProducers * kPerProducer);
    std::atomic<int> total_rejected{0};
    WorkerPool pool({.workers = 3, .queue_capacity = cap});
    std::latch go(kProducers);
    std::vector<std::thread> producers;
    for (int p = 0; p < kProducers; ++p) {
      producers.emplace_back([&, p] {
        SetCurrentThreadName("rl-test-p" + std::to_string(p));
        go.arrive_and_wait();
        for (int i = 0; i < kPerProducer; ++i) {
          const int token = p * kPerProducer + i;
          auto job = [&runs, token]() -> Status {
            runs[token].fetch_add(1);
            if (token % 11 == 0) return "planned failure";
            return Status::Ok();
          };
          SubmitResult r;
          if (i % 3 == 0) {
            r = pool.try_submit(job);
          } else if (i % 3 == 1) {
            r = pool.submit(job);
          } else {
            auto [ctx, cancel] = WithCancel(Context::Background());
            if (i % 6 == 2) cancel();
            r = pool.submit(job, ctx);
          }
          if (r.ok())
            accepted[token].fetch_add(1);
          else
            total_rejected.fetch_add(1);
        }
      });
    }
    for (auto& t : producers) t.join();
    PoolShutdown result = pool.shutdown();
    ASSERT_TRUE(result.not_run.empty());
    std::uint64_t n_accepted = 0;
    for (std::size_t t = 0; t < runs.size(); ++t) {
      ASSERT_EQ(runs[t].load(), accepted[t].load()) << "token " << t << " cap " << cap;
      n_accepted += accepted[t].load();
    }
    PoolStats s = pool.stats();
    EXPECT_EQ(s.done + s.failed, n_accepted);
    EXPECT_EQ(s.rejected, static_cast<std::uint64_t>(total_rejected.load()));
    EXPECT_EQ(s.running, 0u);
    EXPECT_EQ(s.queued, 0u);
  }
}

// Stress: shutdown with a short deadline while producers are still
// submitting. Every accepted job either ran or is listed in not_run,
// exactly once; nothing accepted is lost silently.
TEST(WorkerPoolTest, StressShutdownRaceLosesNoAcceptedJob) {
  for (int round = 0; round < 10; ++round) {
    constexpr int kProducers = 3;
    constexpr int kPerProducer = 3000;
    std::vector<std::atomic<int>> runs(kProducers * kPerProducer);
    std::vector<JobId> ids(kProducers * kPerProducer, 0);  // each producer writes its own range
    WorkerPool pool({.workers = 2, .queue_capacity = 64});
    std::latch go(kProducers + 1);
    std::vector<std::thread> producers;
    for (int p = 0; p < kProducers; ++p) {
      producers.emplace_back([&, p] {
        SetCurrentThreadName("rl-test-p" + std::to_string(p));
        go.arrive_and_wait();
        for (int i = 0; i < kPerProducer; ++i) {
          const int token = p * kPerProducer + i;
          SubmitResult r = (i % 2 == 0)
                               ? pool.submit([&runs, token] { runs[token].fetch_add(1); })
                               : pool.try_submit([&runs, token] { runs[token].fetch_add(1); });
          if (r.ok()) ids[token] = r.id;
          if (r.status == PoolStatus::kShutdown) break;
        }
      });
    }
    go.arrive_and_wait();
    PoolShutdown result =
        pool.shutdown(steady_clock::now() + std::chrono::microseconds(200 * round));
    for (auto& t : producers) t.join();
    std::set<JobId> not_run(result.not_run.begin(), result.not_run.end());
    ASSERT_EQ(not_run.size(), result.not_run.size()) << "an id reported twice";
    std::size_t accepted = 0;
    for (std::size_t t = 0; t < ids.size(); ++t) {
      if (ids[t] == 0) {
        ASSERT_EQ(runs[t].load(), 0) << "a refused job ran";
        continue;
      }
      ++accepted;
      const int dropped = not_run.count(ids[t]) ? 1 : 0;
      ASSERT_EQ(runs[t].load() + dropped, 1) << "token " << t << " id " << ids[t];
    }
    EXPECT_EQ(pool.stats().not_run, result.not_run.size());
    EXPECT_EQ(pool.stats().done + result.not_run.size(), accepted);
  }
}

}  // namespace
}  // namespace racelab
