// WaitGroup: waits for a collection of tasks to finish, as Go's
// sync.WaitGroup.
//
// A counter: add(n) before starting n tasks, done() as each finishes,
// wait() blocks until the counter is zero. Any number of threads may wait.
//
//   racelab::WaitGroup wg;
//   for (auto& shard : shards) {
//     wg.add(1);
//     threads.emplace_back([&] { process(shard); wg.done(); });
//   }
//   if (wg.wait(ctx) != racelab::ContextErr::kNone) ...  // gave up; tasks still run
//
// Misuse is reported, never undefined: a done() or add(-n) that would make
// the counter negative throws std::logic_error naming the call and the value
// ("wait_group: done() would make the counter negative (-1)") and leaves the
// counter unchanged. Giving up a wait (timeout, context) is a return value.
//
// Lifetime: the WaitGroup must outlive every call on it, including the
// done() of the last task: a waiter that destroys it after wait() returns
// is safe, because done() touches nothing after its notify (which it makes
// while holding the mutex).
//
// Memory ordering: every add() and done() that brought the counter to zero,
// and everything its thread did before, happens-before the return of every
// wait that observes the zero (as Go's).
#ifndef RACELAB_SYNC_WAIT_GROUP_H_
#define RACELAB_SYNC_WAIT_GROUP_H_

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "racelab/sync/context.h"
#include "racelab/sync/mutex.h"
#include "racelab/sync/thread_annotations.h"

namespace racelab {

class WaitGroup {
 public:
  WaitGroup() = default;
  WaitGroup(const WaitGroup&) = delete;
  WaitGroup& operator=(const WaitGroup&) = delete;

  // Adds delta (which may be negative) to the counter; wakes the waiters
  // when it reaches zero.
  // Throws: std::logic_error if the counter would go negative (unchanged).
  void add(std::int64_t delta = 1) RACELAB_EXCLUDES(mu_) { Change(delta, /*is_done=*/false); }

  // One task finished: add(-1).
  // Throws: std::logic_error if the counter is zero (unchanged).
  void done() RACELAB_EXCLUDES(mu_) { Change(-1, /*is_done=*/true); }

  // Blocks until the counter is zero (returns at once if it is).
  void wait() const RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    zero_.Wait(lock, [this]() RACELAB_REQUIRES(mu_) { return count_ == 0; });
  }

  // Blocks until the counter is zero or `timeout` of real time passes; true
  // if zero. (For a deadline on a FakeClock, wait(ctx).)
  bool wait_for(std::chrono::steady_clock::duration timeout) const RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return zero_.WaitFor(lock, timeout, [this]() RACELAB_REQUIRES(mu_) { return count_ == 0; });
  }

  // Blocks until the counter is zero or the real clock reaches `deadline`;
  // true if zero.
  bool wait_until(std::chrono::steady_clock::time_point deadline) const RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return zero_.WaitUntil(lock, deadline, [this]() RACELAB_REQUIRES(mu_) { return count_ == 0; });
  }

  // Blocks until the counter is zero (returns ContextErr::kNone) or ctx is
  // done (returns ctx.err(); the tasks go on). A zero counter wins over a
  // context that is done.
  ContextErr wait(const Context& ctx) const RACELAB_EXCLUDES(mu_) {
    {
      MutexLock lock(mu_);
      if (count_ == 0) return ContextErr::kNone;
    }
    // Wakes this wait when ctx is done, canceled or at its deadline (on
    // time, whatever clock ctx reads); unregistered (below) after mu_ is
    // released.
    CallbackHandle wake = ctx.on_done([this] {
      MutexLock lock(mu_);
      zero_.NotifyAll();
    });
    MutexLock lock(mu_);
    zero_.Wait(lock, [&]() RACELAB_REQUIRES(mu_) { return count_ == 0 || ctx.done(); });
    if (count_ == 0) return ContextErr::kNone;
    return ctx.err();
  }

  // The counter now (a snapshot).
  std::int64_t count() const RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return count_;
  }

 private:
  void Change(std::int64_t delta, bool is_done) RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    if (delta < 0 && count_ < -delta) {
      const std::string what = is_done ? "done()" : "add(" + std::to_string(delta) + ")";
      throw std::logic_error("wait_group: " + what + " would make the counter negative (" +
                             std::to_string(count_ + delta) + ")");
    }
    count_ += delta;
    if (count_ == 0 && delta != 0) zero_.NotifyAll();  // under mu_: see Lifetime
  }

  mutable Mutex mu_;
  mutable CondVar zero_;  // the counter reached zero (or a context is done)
  std::int64_t count_ RACELAB_GUARDED_BY(mu_) = 0;
};

}  // namespace racelab

#endif  // RACELAB_SYNC_WAIT_GROUP_H_
