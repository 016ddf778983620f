#include "racelab/sync/context.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <stdexcept>
#include <thread>
#include <utility>

#include "racelab/base/thread_name.h"
#include "racelab/sync/mutex.h"
#include "racelab/sync/thread_annotations.h"

namespace racelab {

std::string_view ToString(ContextErr err) {
  switch (err) {
    case ContextErr::kNone: return "";
    case ContextErr::kCanceled: return "context canceled";
    case ContextErr::kDeadlineExceeded: return "context deadline exceeded";
  }
  return "context error (unknown)";
}

namespace context_internal {

namespace {

void PrintCallbackError(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "racelab::Context: on_done callback threw: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "racelab::Context: on_done callback threw a non-std exception\n");
  }
}

}  // namespace

// now + d without overflow (a timeout of duration::max() means "never").
Clock::time_point SaturatingAdd(Clock::time_point t, Clock::duration d) {
  if (d > Clock::duration::zero() && t > Clock::time_point::max() - d) {
    return Clock::time_point::max();
  }
  if (d < Clock::duration::zero() && t < Clock::time_point::min() - d) {
    return Clock::time_point::min();
  }
  return t + d;
}

// The deadline timer of the real clock: one thread, "rl-ctx-timer", that
// cancels armed contexts when their deadline passes. It runs while `pending_` is not
// empty and exits when it is; Add() starts a new one (after joining the
// previous, which has left its loop). At process exit JoinAtExit() stops and
// joins it. Leaked on purpose: contexts destroyed during static destruction
// still call Remove().
class Timers {
 public:
  using Key = std::pair<Clock::time_point, std::uint64_t>;  // (deadline, serial)

  static Timers& Instance() {
    static Timers* const timers = new Timers;
    return *timers;
  }

  // Fires `state` at key.first. Throws std::system_error if the thread
  // cannot be started (and then adds nothing).
  void Add(Key key, std::weak_ptr<State> state) RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    const bool earliest = pending_.empty() || key < pending_.begin()->first;
    auto [it, inserted] = pending_.emplace(key, std::move(state));
    if (running_) {
      if (earliest) changed_.NotifyAll();
      return;
    }
    // After exit began nobody runs callbacks on time; done() and err()
    // still read the clock.
    if (exiting_) return;
    if (thread_.joinable()) thread_.join();  // it left its loop; it never locks again
    if (!atexit_registered_) {
      atexit_registered_ = std::atexit(&Timers::JoinAtExit) == 0;
    }
    try {
      thread_ = std::thread([this] { Run(); });
    } catch (...) {
      pending_.erase(it);
      throw;
    }
    running_ = true;
  }

  void Remove(Key key) RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    auto it = pending_.find(key);
    if (it == pending_.end()) return;
    const bool earliest = it == pending_.begin();
    pending_.erase(it);
    // Wake the thread so it re-reads the earliest deadline, or exits.
    if (earliest) changed_.NotifyAll();
  }

 private:
  Timers() = default;

  void Run() RACELAB_EXCLUDES(mu_);

  static void JoinAtExit() {
    Timers& timers = Instance();
    std::thread thread;
    {
      MutexLock lock(timers.mu_);
      timers.exiting_ = true;
      thread = std::move(timers.thread_);
    }
    timers.changed_.NotifyAll();
    if (thread.joinable()) thread.join();
  }

  Mutex mu_;
  CondVar changed_;  // pending_'s earliest entry changed, or exiting_
  std::map<Key, std::weak_ptr<State>> pending_ RACELAB_GUARDED_BY(mu_);
  std::thread thread_ RACELAB_GUARDED_BY(mu_);
  bool running_ RACELAB_GUARDED_BY(mu_) = false;  // thread_ is in its loop
  bool exiting_ RACELAB_GUARDED_BY(mu_) = false;
  bool atexit_registered_ RACELAB_GUARDED_BY(mu_) = false;
};

// The shared state of one context (not of Background(), which has none).
class State : public std::enable_shared_from_this<State> {
 public:
  // `unlink_at_deadline`: the deadline is the child's own (earlier than its
  // parent's), so it must leave its parent when the deadline passes.
  State(std::shared_ptr<State> parent, std::optional<Clock::time_point> deadline, Clock clock,
        bool unlink_at_deadline)
      : parent_(std::move(parent)),
        deadline_(deadline),
        clock_(clock),
        serial_(NextSerial()),
        unlink_at_deadline_(unlink_at_deadline) {}

  ~State() RACELAB_EXCLUDES(mu_) {
    CallbackHandle link;
    bool armed = false;
    std::uint64_t fake_timer = 0;
    {
      MutexLock lock(mu_);
      link = std::move(parent_link_);
      armed = armed_;
      fake_timer = fake_timer_;
    }
    if (armed) Disarm(fake_timer);
    // `link` unregisters from the parent here: a dead child is not kept.
  }

  const std::optional<Clock::time_point>& deadline() const { return deadline_; }
  Clock clock() const { return clock_; }

  bool Done() const { return Err() != ContextErr::kNone; }

  // Once the deadline has passed, the first observer records it, so err()
  // never changes afterwards (a later cancel cannot turn it into kCanceled).
  ContextErr Err() const {
    ContextErr err = err_.load(std::memory_order_acquire);
    if (err != ContextErr::kNone || !PastDeadline()) return err;
    ContextErr expected = ContextErr::kNone;
    if (err_.compare_exchange_strong(expected, ContextErr::kDeadlineExceeded,
                                     std::memory_order_acq_rel)) {
      return ContextErr::kDeadlineExceeded;
    }
    return expected;
  }

  std::string Cause() const RACELAB_EXCLUDES(mu_) {
    const ContextErr err = Err();
    if (err != ContextErr::kCanceled) return std::string(ToString(err));
    MutexLock lock(mu_);  // written in the critical section that set err_
    return cause_;
  }

  bool WaitUntil(Clock::time_point t) const RACELAB_EXCLUDES(mu_) {
    {
      MutexLock lock(mu_);
      const Clock::time_point until = deadline_ ? std::min(t, *deadline_) : t;
      changed_.WaitUntil(lock, until, [this] {
        return err_.load(std::memory_order_acquire) != ContextErr::kNone;
      });
    }
    return Done();
  }

  void Wait() const RACELAB_EXCLUDES(mu_) {
    if (deadline_) {
      while (!WaitUntil(*deadline_)) {
      }
      return;
    }
    MutexLock lock(mu_);
    changed_.Wait(lock,
                  [this] { return err_.load(std::memory_order_acquire) != ContextErr::kNone; });
  }

  // Registers fn; returns its id, or 0 if the context is done already (fn
  // is then left to the caller to run). `arm`: a deadline must run it on
  // time (user callbacks; a child's link to its parent needs no timer, the
  // child reads its own clock). Sets *due when the deadline passed while fn
  // was being registered: the caller then cancels, outside any lock.
  std::uint64_t Register(std::function<void()>& fn, bool arm, bool* due) RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    if (fired_ || Done()) return 0;
    const std::uint64_t id = next_id_++;
    arm = arm && deadline_.has_value();
    callbacks_.emplace(id, Callback{std::move(fn), arm});
    if (!arm) return id;
    ++armed_callbacks_;
    try {
      ArmLocked(due);
    } catch (...) {
      fn = std::move(callbacks_[id].fn);
      callbacks_.erase(id);
      --armed_callbacks_;
      throw;
    }
    return id;
  }

  // What a deadline timer does: cancels with kDeadlineExceeded; a callback's
  // exception is printed (nobody called a CancelFunc to receive it). Takes
  // its own reference: a callback may drop every other owner of the state.
  static void FireDeadline(std::shared_ptr<State> state) {
    if (state == nullptr) return;
    try {
      state->Cancel(ContextErr::kDeadlineExceeded, {});
    } catch (...) {
      PrintCallbackError(std::current_exception());
    }
  }

  std::size_t Registered() const RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return callbacks_.size();
  }

  bool Stop(std::uint64_t id) RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    if (auto it = callbacks_.find(id); it != callbacks_.end()) {
      if (it->second.armed) --armed_callbacks_;
      callbacks_.erase(it);
      // Nothing awaits the deadline any more: off the timer, so that
      // rl-ctx-timer exits when no other context needs it.
      if (armed_ && !NeedsTimerLocked()) DisarmLocked();
      return true;
    }
    if (running_id_ == id && running_thread_ != std::this_thread::get_id()) {
      changed_.Wait(lock, [&]() RACELAB_REQUIRES(mu_) { return running_id_ != id; });
    }
    return false;
  }

  // Called once, right after construction, with the registration of this
  // child in its parent. A child with a deadline of its own goes on the
  // timer, whose Cancel() at the deadline unlinks it (Go's child timer).
  static void SetParentLink(const std::shared_ptr<State>& child, CallbackHandle link)
      RACELAB_EXCLUDES(child->mu_) {
    bool due = false;
    {
      MutexLock lock(child->mu_);
      if (child->fired_) return;  // the parent was canceled meanwhile: drop `link`
      child->parent_link_ = std::move(link);
      if (child->unlink_at_deadline_) {
        if (child->PastDeadline()) {
          due = true;
        } else {
          child->ArmLocked(&due);
        }
      }
    }
    if (due) FireDeadline(child);
  }

  void CancelFromParent() {
    const ContextErr err = parent_->Err();
    Cancel(err, err == ContextErr::kCanceled ? parent_->Cause() : std::string());
  }

  // Makes the context done (if it is not yet) and runs its callbacks on the
  // calling thread. Rethrows the first exception a callback threw, after
  // running the others.
  void Cancel(ContextErr err, std::string cause) RACELAB_EXCLUDES(mu_) {
    CallbackHandle link;
    bool armed = false;
    std::uint64_t fake_timer = 0;
    {
      MutexLock lock(mu_);
      if (fired_) return;
      fired_ = true;
      if (err == ContextErr::kCanceled && PastDeadline()) err = ContextErr::kDeadlineExceeded;
      ContextErr expected = ContextErr::kNone;
      if (err == ContextErr::kCanceled) {
        cause_ = cause.empty() ? std::string(ToString(err)) : std::move(cause);
      }
      // Fails only when an observer recorded the passed deadline first.
      err_.compare_exchange_strong(expected, err, std::memory_order_acq_rel);
      link = std::move(parent_link_);
      armed = armed_;
      fake_timer = fake_timer_;
    }
    changed_.NotifyAll();
    std::exception_ptr error;
    try {
      RunCallbacks();
    } catch (...) {
      error = std::current_exception();  // rethrown once the context is tidy
    }
    link.stop();  // children that are done leave their parent
    if (armed) Disarm(fake_timer);
    if (error) std::rethrow_exception(error);
  }

 private:
  static std::uint64_t NextSerial() {
    static std::atomic<std::uint64_t> serial{0};
    return serial.fetch_add(1, std::memory_order_relaxed) + 1;
  }

  bool PastDeadline() const { return deadline_ && clock_.now() >= *deadline_; }

  Timers::Key TimerKey() const { return {*deadline_, serial_}; }

  // Whether a deadline must run Cancel() on time: a callback awaits it, or
  // the child must leave its parent then.
  bool NeedsTimerLocked() const RACELAB_REQUIRES(mu_) {
    return armed_callbacks_ > 0 || unlink_at_deadline_;
  }

  // Puts the deadline on its timer unless it is there already. Under mu_,
  // so a concurrent Cancel() sees armed_ only once the timer holds the
  // entry and its removal cannot come first (lock order: State::mu_ before
  // the timer's lock; no timer holds its own lock while calling into a
  // State). Sets *due when a fake clock is at the deadline already: the
  // caller then fires it, outside any lock.
  void ArmLocked(bool* due) RACELAB_REQUIRES(mu_) {
    if (armed_) return;
    if (clock_.is_fake()) {
      fake_timer_ =
          clock_.AddFakeTimer(*deadline_, [weak = weak_from_this()] { FireDeadline(weak.lock()); });
      *due = fake_timer_ == 0;  // the clock got there since Done() looked
    } else {
      Timers::Instance().Add(TimerKey(), weak_from_this());
    }
    armed_ = !*due;
  }

  // Takes the deadline off its timer while the context stays live. Under
  // mu_, so that a later ArmLocked() (same timer key) cannot come first.
  void DisarmLocked() RACELAB_REQUIRES(mu_) {
    armed_ = false;
    Disarm(std::exchange(fake_timer_, 0));
  }

  // Takes the deadline off its timer.
  void Disarm(std::uint64_t fake_timer) {
    if (clock_.is_fake()) {
      clock_.RemoveFakeTimer(fake_timer);
    } else {
      Timers::Instance().Remove(TimerKey());
    }
  }

  void RunCallbacks() RACELAB_EXCLUDES(mu_) {
    std::exception_ptr first_error;
    for (;;) {
      std::function<void()> fn;
      {
        MutexLock lock(mu_);
        if (running_id_ != 0) {
          running_id_ = 0;
          changed_.NotifyAll();  // a stop() may wait for the one that finished
        }
        if (callbacks_.empty()) break;
        auto it = callbacks_.begin();
        running_id_ = it->first;
        running_thread_ = std::this_thread::get_id();
        fn = std::move(it->second.fn);
        if (it->second.armed) --armed_callbacks_;
        callbacks_.erase(it);
      }
      try {
        fn();
      } catch (...) {
        if (!first_error) first_error = std::current_exception();
      }
      fn = nullptr;  // its captures die before a waiting stop() returns
    }
    if (first_error) std::rethrow_exception(first_error);
  }

  const std::shared_ptr<State> parent_;              // null: child of Background
  const std::optional<Clock::time_point> deadline_;  // effective (min with parent's)
  const Clock clock_;                                // deadline_ is an instant of it
  const std::uint64_t serial_;                       // makes the timer key unique
  const bool unlink_at_deadline_;                    // see the constructor
  // The verdict, set once (compare-exchange from kNone), by Cancel() under
  // mu_ or by the first observer of a passed deadline. Atomic so done() is
  // one load; mutable because observing a deadline records it.
  mutable std::atomic<ContextErr> err_{ContextErr::kNone};

  mutable Mutex mu_;
  // Notified when err_ is set by Cancel() and when a callback finishes.
  mutable CondVar changed_;
  bool fired_ RACELAB_GUARDED_BY(mu_) = false;            // Cancel() ran (callbacks taken)
  bool armed_ RACELAB_GUARDED_BY(mu_) = false;            // in Timers, or on the fake clock
  std::uint64_t fake_timer_ RACELAB_GUARDED_BY(mu_) = 0;  // the fake clock's timer id
  std::string cause_ RACELAB_GUARDED_BY(mu_);
  struct Callback {
    std::function<void()> fn;
    bool armed = false;  // a user callback that the deadline must run on time
  };
  std::map<std::uint64_t, Callback> callbacks_ RACELAB_GUARDED_BY(mu_);
  std::size_t armed_callbacks_ RACELAB_GUARDED_BY(mu_) = 0;  // of callbacks_
  std::uint64_t next_id_ RACELAB_GUARDED_BY(mu_) = 1;
  std::uint64_t running_id_ RACELAB_GUARDED_BY(mu_) = 0;  // 0: none running
  std::thread::id running_thread_ RACELAB_GUARDED_BY(mu_);
  CallbackHandle parent_link_ RACELAB_GUARDED_BY(mu_);
};

void Timers::Run() {
  SetCurrentThreadName("rl-ctx-timer");
  for (;;) {
    std::weak_ptr<State> due;
    {
      MutexLock lock(mu_);
      for (;;) {
        if (exiting_ || pending_.empty()) {
          running_ = false;
          return;
        }
        auto it = pending_.begin();
        if (std::chrono::steady_clock::now() >= it->first.first) {
          due = std::move(it->second);
          pending_.erase(it);
          break;
        }
        const Key first = it->first;
        changed_.WaitUntil(lock, first.first, [&]() RACELAB_REQUIRES(mu_) {
          return exiting_ || pending_.empty() || pending_.begin()->first != first;
        });
      }
    }
    State::FireDeadline(due.lock());
  }
}

// Builds contexts and handles (their constructors are private).
struct Access {
  // A child of `parent` with its own deadline `own` (if any) on `clock`.
  static std::pair<Context, CancelFunc> Make(const Context& parent,
                                             std::optional<Clock::time_point> own, Clock clock,
                                             const char* operation) {
    const std::shared_ptr<State>& up = parent.state_;
    if (up && up->deadline() && !(up->clock() == clock)) {
      throw std::invalid_argument(std::string(operation) +
                                  ": the parent's deadline is on another clock (" +
                                  (up->clock().is_fake() ? "a fake one" : "the real one") + ")");
    }
    std::optional<Clock::time_point> deadline = own;
    if (up && up->deadline() && (!deadline || *up->deadline() < *deadline)) {
      deadline = up->deadline();
    }
    // Go arms a child's timer only when its own deadline comes first; a
    // child of Background() has no parent to leave.
    const bool unlink_at_deadline = up && own && deadline == own;
    auto state = std::make_shared<State>(up, deadline, clock, unlink_at_deadline);
    if (up) {
      std::function<void()> link = [weak = std::weak_ptr<State>(state)] {
        if (std::shared_ptr<State> child = weak.lock()) child->CancelFromParent();
      };
      bool due = false;  // never set: a link is not armed
      if (const std::uint64_t id = up->Register(link, /*arm=*/false, &due); id != 0) {
        State::SetParentLink(state, CallbackHandle(up, id));
      } else {
        state->CancelFromParent();  // the parent is done already
      }
    }
    return {Context(state), CancelFunc(state)};
  }

  static CallbackHandle OnDone(const Context& ctx, std::function<void()> fn) {
    if (!ctx.state_) return CallbackHandle(nullptr, 1);  // Background: never runs
    bool due = false;
    if (const std::uint64_t id = ctx.state_->Register(fn, /*arm=*/true, &due); id != 0) {
      // Its fake clock reached the deadline meanwhile: nobody else will
      // fire it. fn runs here, on the caller, as for a context done already.
      if (due) State::FireDeadline(ctx.state_);
      return CallbackHandle(ctx.state_, id);
    }
    fn();  // done already: at once, on the caller
    return CallbackHandle();
  }

  static State* Of(const Context& ctx) { return ctx.state_.get(); }
};

namespace {

// Background() has no state; its waits park here until their deadline.
// Never notified. Leaked: a waiter may outlive static destruction.
struct Forever {
  Mutex mu;
  CondVar cv;
};
Forever& ForeverInstance() {
  static Forever* const forever = new Forever;
  return *forever;
}

}  // namespace
}  // namespace context_internal

using context_internal::Access;

CallbackHandle::CallbackHandle(CallbackHandle&& other) noexcept
    : state_(std::move(other.state_)), id_(std::exchange(other.id_, 0)) {}

CallbackHandle& CallbackHandle::operator=(CallbackHandle&& other) noexcept {
  if (this != &other) {
    stop();
    state_ = std::move(other.state_);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

CallbackHandle::~CallbackHandle() { stop(); }

bool CallbackHandle::stop() {
  const std::uint64_t id = std::exchange(id_, 0);
  if (!state_) return id != 0;  // Background's: pending forever until now
  std::shared_ptr<context_internal::State> state = std::move(state_);
  state_.reset();
  return id != 0 && state->Stop(id);
}

bool Context::done() const {
  const context_internal::State* s = Access::Of(*this);
  return s != nullptr && s->Done();
}

ContextErr Context::err() const {
  const context_internal::State* s = Access::Of(*this);
  return s == nullptr ? ContextErr::kNone : s->Err();
}

std::string Context::cause() const {
  const context_internal::State* s = Access::Of(*this);
  return s == nullptr ? std::string() : s->Cause();
}

std::optional<Clock::time_point> Context::deadline() const {
  const context_internal::State* s = Access::Of(*this);
  return s == nullptr ? std::nullopt : s->deadline();
}

Clock Context::clock() const {
  const context_internal::State* s = Access::Of(*this);
  return s == nullptr ? Clock() : s->clock();
}

std::size_t Context::registered_callbacks() const {
  const context_internal::State* s = Access::Of(*this);
  return s == nullptr ? 0 : s->Registered();
}

void Context::wait() const {
  if (const context_internal::State* s = Access::Of(*this)) {
    // A fake clock's sleep ends at the deadline or when ctx is done.
    if (s->clock().is_fake()) {
      s->clock().sleep_until(*this, s->deadline().value_or(Clock::time_point::max()));
      return;
    }
    return s->Wait();
  }
  auto& forever = context_internal::ForeverInstance();
  MutexLock lock(forever.mu);
  forever.cv.Wait(lock, [] { return false; });
}

bool Context::wait_for(Clock::duration timeout) const {
  return wait_until(context_internal::SaturatingAdd(clock().now(), timeout));
}

bool Context::wait_until(Clock::time_point deadline) const {
  if (const context_internal::State* s = Access::Of(*this)) {
    if (s->clock().is_fake()) {
      s->clock().sleep_until(*this, std::min(deadline, s->deadline().value_or(deadline)));
      return done();
    }
    return s->WaitUntil(deadline);
  }
  auto& forever = context_internal::ForeverInstance();
  MutexLock lock(forever.mu);
  return forever.cv.WaitUntil(lock, deadline, [] { return false; });
}

CallbackHandle Context::on_done(std::function<void()> fn) const {
  return Access::OnDone(*this, std::move(fn));
}

void CancelFunc::operator()(std::string cause) const {
  // A callback may drop the last owners of the context, this CancelFunc
  // among them: the copy keeps the state alive until Cancel() returns, and
  // nothing below touches *this.
  if (std::shared_ptr<context_internal::State> state = state_) {
    state->Cancel(ContextErr::kCanceled, std::move(cause));
  }
}

std::pair<Context, CancelFunc> WithCancel(const Context& parent) {
  return Access::Make(parent, std::nullopt, parent.clock(), "WithCancel");
}

std::pair<Context, CancelFunc> WithTimeout(const Context& parent, Clock::duration timeout) {
  return WithTimeout(parent, timeout, parent.clock());
}

std::pair<Context, CancelFunc> WithTimeout(const Context& parent, Clock::duration timeout,
                                           Clock clock) {
  return Access::Make(parent, context_internal::SaturatingAdd(clock.now(), timeout), clock,
                      "WithTimeout");
}

std::pair<Context, CancelFunc> WithDeadline(const Context& parent, Clock::time_point deadline) {
  return WithDeadline(parent, deadline, parent.clock());
}

std::pair<Context, CancelFunc> WithDeadline(const Context& parent, Clock::time_point deadline,
                                            Clock clock) {
  return Access::Make(parent, deadline, clock, "WithDeadline");
}

}  // namespace racelab
