#include "racelab/sync/mutex.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "racelab/base/thread_name.h"
#include "test_support.h"

namespace racelab {
namespace {

using racelab::testing::kPatience;
using namespace std::chrono_literals;

// A counter only ever touched under its mutex; TSan checks the claim.
class GuardedCounter {
 public:
  void Add(int n) RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    value_ += n;
  }
  int Get() RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return value_;
  }

 private:
  Mutex mu_;
  int value_ RACELAB_GUARDED_BY(mu_) = 0;
};

TEST(MutexTest, StressManyThreadsIncrementWithoutLosingAny) {
  GuardedCounter counter;
  constexpr int kThreads = 8;
  constexpr int kAdds = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&counter, t] {
      SetCurrentThreadName("rl-test-" + std::to_string(t));
      for (int i = 0; i < kAdds; ++i) counter.Add(1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter.Get(), kThreads * kAdds);
}

TEST(MutexTest, TryLockFailsWhileAnotherThreadHoldsIt) {
  Mutex mu;
  MutexLock held(mu);
  const bool got = std::async(std::launch::async, [&mu]() RACELAB_NO_THREAD_SAFETY_ANALYSIS {
                     // The analysis cannot follow a try_lock across threads.
                     if (!mu.try_lock()) return false;
                     mu.unlock();
                     return true;
                   }).get();
  EXPECT_FALSE(got);
}

TEST(CondVarTest, WaitReturnsOncePredicateIsMadeTrueByAnotherThread) {
  Mutex mu;
  CondVar cv;
  bool ready = false;
  auto waiter = std::async(std::launch::async, [&] {
    MutexLock lock(mu);
    return cv.WaitFor(lock, kPatience, [&] { return ready; });
  });
  {
    MutexLock lock(mu);
    ready = true;
  }
  cv.NotifyAll();
  EXPECT_TRUE(waiter.get());
}

TEST(CondVarTest, WaitForGivesUpAtItsDeadlineWithPredicateFalse) {
  Mutex mu;
  CondVar cv;
  MutexLock lock(mu);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(cv.WaitFor(lock, 20ms, [] { return false; }));
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, 20ms);
  EXPECT_LT(waited, kPatience);
}

// The loop form: the condition is the caller's code, where -Wthread-safety
// checks that `ready` is read under its mutex.
TEST(CondVarTest, LoopFormWaitsUntilTheGuardedConditionHolds) {
  struct Box {
    Mutex mu;
    CondVar cv;
    bool ready RACELAB_GUARDED_BY(mu) = false;
  } box;
  auto waiter = std::async(std::launch::async, [&box] {
    MutexLock lock(box.mu);
    const auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (!box.ready) {
      if (!box.cv.WaitUntil(lock, deadline)) break;
    }
    return box.ready;
  });
  {
    MutexLock lock(box.mu);
    box.ready = true;
  }
  box.cv.NotifyAll();
  EXPECT_TRUE(waiter.get());
}

TEST(CondVarTest, LoopFormWaitUntilSaysWhenTheDeadlinePassed) {
  Mutex mu;
  CondVar cv;
  MutexLock lock(mu);
  EXPECT_FALSE(cv.WaitUntil(lock, std::chrono::steady_clock::now() - 1ms));
  const auto start = std::chrono::steady_clock::now();
  bool woken = true;
  while (woken) woken = cv.WaitUntil(lock, start + 20ms);  // spurious wake-ups loop
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
}

TEST(SharedMutexTest, ReadersHoldItTogether) {
  SharedMutex mu;
  ReaderLock first(mu);
  // A second reader on another thread gets in while the first holds it.
  const bool second = std::async(std::launch::async, [&mu]() RACELAB_NO_THREAD_SAFETY_ANALYSIS {
                        // try_lock_shared's result is the point of the test.
                        if (!mu.try_lock_shared()) return false;
                        mu.unlock_shared();
                        return true;
                      }).get();
  EXPECT_TRUE(second);
}

TEST(SharedMutexTest, WriterExcludesReaders) {
  SharedMutex mu;
  WriterLock writer(mu);
  const bool reader = std::async(std::launch::async, [&mu]() RACELAB_NO_THREAD_SAFETY_ANALYSIS {
                        if (!mu.try_lock_shared()) return false;
                        mu.unlock_shared();
                        return true;
                      }).get();
  EXPECT_FALSE(reader);
}

// Two fields that one writer keeps equal; readers must never see them differ.
class GuardedPair {
 public:
  void Set(int v) RACELAB_EXCLUDES(mu_) {
    WriterLock lock(mu_);
    a_ = v;
    b_ = v;
  }
  bool Consistent() RACELAB_EXCLUDES(mu_) {
    ReaderLock lock(mu_);
    return a_ == b_;
  }

 private:
  SharedMutex mu_;
  int a_ RACELAB_GUARDED_BY(mu_) = 0;
  int b_ RACELAB_GUARDED_BY(mu_) = 0;
};

// TSan checks the locking; the test checks readers never see a torn pair.
TEST(SharedMutexTest, StressReadersNeverSeeAHalfWrittenValue) {
  GuardedPair pair;
  std::atomic<bool> torn{false};
  std::atomic<bool> stop{false};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&, r] {
      SetCurrentThreadName("rl-test-read-" + std::to_string(r));
      while (!stop.load(std::memory_order_relaxed)) {
        if (!pair.Consistent()) torn = true;
      }
    });
  }
  for (int i = 1; i <= 300; ++i) pair.Set(i);
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_FALSE(torn.load());
}

}  // namespace
}  // namespace racelab
