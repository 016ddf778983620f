// Clock and FakeClock: the monotonic clock that contexts and rate limiters
// read, and the one that tests set by hand so that no test sleeps.
//
// A Clock is a handle (one pointer, trivially copyable) to either the real
// clock, std::chrono::steady_clock, or a FakeClock. Code that needs "now"
// takes a Clock and calls now(); code that must wait for an instant calls
// sleep_until(ctx, t), which returns early when the Context is done. Tests
// hand a FakeClock's clock() to the code under test and move time with
// set() / advance(); await_sleepers() lets a test know that a thread is
// parked in sleep_until() before it advances time, so no test sleeps.
//
//   racelab::FakeClock fake;                          // starts at kDefaultStart
//   racelab::TokenBucket bucket(10, 3, fake.clock());
//   fake.advance(std::chrono::milliseconds(100));     // one more token
//   auto [ctx, cancel] = racelab::WithTimeout(parent, 2s, fake.clock());
//   fake.advance(2s);                                 // ctx is done now
//
// A Context whose deadline is on a FakeClock becomes done when set() or
// advance() reach it, and its on_done callbacks run on the thread that
// moved the clock (the real clock's deadlines run them on rl-ctx-timer).
//
// Why a handle and not a virtual interface or a template parameter: the hot
// path (TokenBucket::allow) reads the clock once per call. A handle whose
// null pointer means "steady_clock" costs one well-predicted branch and then
// inlines steady_clock::now() (a vDSO clock_gettime, no system call, no
// indirect call); a virtual Clock would add an indirect call that the
// compiler cannot inline, and a template parameter would turn TokenBucket,
// KeyedLimiter and everything that holds them into templates that must live
// in headers, for a second implementation that only tests use. The price is
// that the set of clocks is closed (real or FakeClock), which is all we need.
//
// Lifetime: a Clock made by a FakeClock refers to it; the FakeClock must
// outlive every use of the handle (every bucket, limiter and context that
// reads it). A wait in sleep_until() must return before its FakeClock is
// destroyed.
//
// Memory ordering: the real clock orders nothing. A FakeClock is guarded by
// a mutex: a set()/advance() happens-before every now() that returns the new
// time or a later one, before the return of every sleep_until() that it
// wakes, and before the deadline callbacks that it runs.
#ifndef RACELAB_SYNC_CLOCK_H_
#define RACELAB_SYNC_CLOCK_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

namespace racelab {

class Context;
class FakeClock;
namespace clock_internal {
class FakeState;
}  // namespace clock_internal
namespace context_internal {
class State;
}  // namespace context_internal

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;

  // The real clock (steady_clock).
  constexpr Clock() noexcept = default;
  static constexpr Clock Real() noexcept { return Clock(); }

  // The current instant. Real: steady_clock::now(), no lock, no system call.
  // Guarantees: never decreases between two calls on one handle.
  time_point now() const noexcept {
    if (fake_ == nullptr) [[likely]] {
      return std::chrono::steady_clock::now();
    }
    return FakeNow(fake_);
  }

  // Blocks until this clock reads >= t (returns true) or `ctx` is done
  // (returns false), whichever comes first; true if both.
  // Real clock: waits on the Context with deadline t, never a plain sleep.
  // Fake clock: waits until set()/advance() reach t or `ctx` is done.
  // Requires: ctx reads this clock or the real one.
  bool sleep_until(const Context& ctx, time_point t) const;

  bool is_fake() const noexcept { return fake_ != nullptr; }

  friend bool operator==(Clock a, Clock b) noexcept { return a.fake_ == b.fake_; }

 private:
  friend class FakeClock;
  friend class context_internal::State;  // deadlines on a fake clock
  explicit constexpr Clock(clock_internal::FakeState* fake) noexcept : fake_(fake) {}
  static time_point FakeNow(const clock_internal::FakeState* fake) noexcept;

  // Fake clock only: runs fn (which must not throw) on the thread whose
  // set()/advance() first reaches t, outside the clock's lock. Returns a
  // non-zero id for RemoveFakeTimer, or 0, adding nothing, when the clock
  // has reached t already.
  std::uint64_t AddFakeTimer(time_point t, std::function<void()> fn) const;
  // Forgets a timer that has not fired; does nothing for one that has.
  void RemoveFakeTimer(std::uint64_t id) const;

  clock_internal::FakeState* fake_ = nullptr;  // null: the real clock
};

// A clock that moves only when told to. Thread-safe: any thread may read,
// set or advance it, and any number may sleep on it.
class FakeClock {
 public:
  // An arbitrary, non-zero instant, so "unset" and "start" never coincide.
  static constexpr Clock::time_point kDefaultStart = Clock::time_point(std::chrono::hours(1000));

  explicit FakeClock(Clock::time_point start = kDefaultStart);
  ~FakeClock();
  FakeClock(const FakeClock&) = delete;
  FakeClock& operator=(const FakeClock&) = delete;

  // A handle for the code under test. Requires: *this outlives its uses.
  Clock clock() const noexcept;

  Clock::time_point now() const;

  // Moves the clock to t and wakes the sleepers whose instant has come.
  // Returns false, and changes nothing, when t is before now() (a monotonic
  // clock never goes back).
  bool set(Clock::time_point t);

  // Moves the clock forward by d. Returns false, and changes nothing, when
  // d is negative.
  bool advance(Clock::duration d);

  // The number of threads blocked in sleep_until() on this clock right now.
  int sleepers() const;

  // Blocks until at least n threads are blocked in sleep_until() on this
  // clock, or until `real_timeout` of real time passes; returns whether they
  // are. Tests call it before advance() instead of sleeping.
  bool await_sleepers(int n, std::chrono::nanoseconds real_timeout) const;

 private:
  std::shared_ptr<clock_internal::FakeState> state_;
};

}  // namespace racelab

#endif  // RACELAB_SYNC_CLOCK_H_
