#include "racelab/sync/clock.h"

#include <atomic>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "racelab/sync/context.h"
#include "racelab/sync/mutex.h"
#include "racelab/sync/thread_annotations.h"

namespace racelab {

namespace clock_internal {

// Shared by a FakeClock and the on_done callbacks of its sleepers, so a
// callback that runs late (after its sleeper returned) still finds it alive.
class FakeState : public std::enable_shared_from_this<FakeState> {
 public:
  explicit FakeState(Clock::time_point start) : now_(start) {}

  Clock::time_point Now() const RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return now_;
  }

  bool Set(Clock::time_point t) RACELAB_EXCLUDES(mu_) {
    std::vector<std::function<void()>> due;
    {
      MutexLock lock(mu_);
      if (t < now_) return false;
      now_ = t;
      due = TakeDueTimersLocked();
    }
    changed_.NotifyAll();
    for (auto& fn : due) fn();
    return true;
  }

  bool Advance(Clock::duration d) RACELAB_EXCLUDES(mu_) {
    if (d < Clock::duration::zero()) return false;
    std::vector<std::function<void()>> due;
    {
      MutexLock lock(mu_);
      now_ += d;
      due = TakeDueTimersLocked();
    }
    changed_.NotifyAll();
    for (auto& fn : due) fn();
    return true;
  }

  std::uint64_t AddTimer(Clock::time_point t, std::function<void()> fn) RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    if (now_ >= t) return 0;
    const std::uint64_t id = next_timer_id_++;
    timers_.emplace(std::make_pair(t, id), std::move(fn));
    timer_instants_.emplace(id, t);
    return id;
  }

  void RemoveTimer(std::uint64_t id) RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    const auto it = timer_instants_.find(id);
    if (it == timer_instants_.end()) return;  // fired already
    timers_.erase(std::make_pair(it->second, id));
    timer_instants_.erase(it);
  }

  int Sleepers() const RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return sleepers_;
  }

  bool AwaitSleepers(int n, std::chrono::nanoseconds real_timeout) const RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return changed_.WaitFor(lock, real_timeout,
                            [&]() RACELAB_REQUIRES(mu_) { return sleepers_ >= n; });
  }

  bool SleepUntil(const Context& ctx, Clock::time_point t) RACELAB_EXCLUDES(mu_) {
    if (Now() >= t) return true;
    if (ctx.done()) return false;
    // The callback sets the sleeper's own flag under mu_, so its wake-up
    // cannot slip in between the predicate check and the wait. The sleeper
    // never calls into ctx while holding mu_: no lock-order between them.
    // `lock` below is released before `on_done` deregisters: stop() may wait
    // for a running callback, which takes mu_.
    auto woken = std::make_shared<std::atomic<bool>>(false);
    CallbackHandle on_done =
        ctx.on_done([self = shared_from_this(), woken] { self->Wake(*woken); });
    MutexLock lock(mu_);
    ++sleepers_;
    changed_.NotifyAll();
    changed_.Wait(lock, [&]() RACELAB_REQUIRES(mu_) {
      return now_ >= t || woken->load(std::memory_order_relaxed);
    });
    --sleepers_;
    changed_.NotifyAll();
    return now_ >= t;
  }

 private:
  void Wake(std::atomic<bool>& woken) RACELAB_EXCLUDES(mu_) {
    {
      MutexLock lock(mu_);
      woken.store(true, std::memory_order_relaxed);
    }
    changed_.NotifyAll();
  }

  // The timers whose instant has come, in instant order, taken out so that
  // the caller runs them after releasing mu_.
  std::vector<std::function<void()>> TakeDueTimersLocked() RACELAB_REQUIRES(mu_) {
    std::vector<std::function<void()>> due;
    while (!timers_.empty() && timers_.begin()->first.first <= now_) {
      auto it = timers_.begin();
      due.push_back(std::move(it->second));
      timer_instants_.erase(it->first.second);
      timers_.erase(it);
    }
    return due;
  }

  mutable Mutex mu_;
  // Notified when the time, the number of sleepers or a sleeper's context
  // changes; every waiter re-checks its own predicate.
  mutable CondVar changed_;
  Clock::time_point now_ RACELAB_GUARDED_BY(mu_);
  int sleepers_ RACELAB_GUARDED_BY(mu_) = 0;
  // Pending timers by (instant, id), and each id's instant for removal.
  std::map<std::pair<Clock::time_point, std::uint64_t>, std::function<void()>> timers_
      RACELAB_GUARDED_BY(mu_);
  std::map<std::uint64_t, Clock::time_point> timer_instants_ RACELAB_GUARDED_BY(mu_);
  std::uint64_t next_timer_id_ RACELAB_GUARDED_BY(mu_) = 1;
};

}  // namespace clock_internal

Clock::time_point Clock::FakeNow(const clock_internal::FakeState* fake) noexcept {
  return fake->Now();
}

std::uint64_t Clock::AddFakeTimer(time_point t, std::function<void()> fn) const {
  return fake_->AddTimer(t, std::move(fn));
}

void Clock::RemoveFakeTimer(std::uint64_t id) const { fake_->RemoveTimer(id); }

bool Clock::sleep_until(const Context& ctx, time_point t) const {
  if (fake_ != nullptr) return fake_->SleepUntil(ctx, t);
  // Context::wait_until returns early only when ctx is done; the loop keeps
  // this correct whatever its return value means and on spurious returns.
  while (std::chrono::steady_clock::now() < t) {
    if (ctx.done()) return false;
    ctx.wait_until(t);
  }
  return true;
}

FakeClock::FakeClock(Clock::time_point start)
    : state_(std::make_shared<clock_internal::FakeState>(start)) {}

FakeClock::~FakeClock() = default;

Clock FakeClock::clock() const noexcept { return Clock(state_.get()); }
Clock::time_point FakeClock::now() const { return state_->Now(); }
bool FakeClock::set(Clock::time_point t) { return state_->Set(t); }
bool FakeClock::advance(Clock::duration d) { return state_->Advance(d); }
int FakeClock::sleepers() const { return state_->Sleepers(); }
bool FakeClock::await_sleepers(int n, std::chrono::nanoseconds real_timeout) const {
  return state_->AwaitSleepers(n, real_timeout);
}

}  // namespace racelab
