// Context: cancellation and deadlines that flow from a caller to everything
// it started, with the semantics of Go's context package.
//
// A Context is a cheap, copyable handle to shared state. It becomes done
// once, for good: when its CancelFunc is called, when its parent becomes
// done, or when its deadline passes. Code that does long or blocking work
// takes a `const Context&` and gives up when it is done:
//
//   auto [ctx, cancel] = racelab::WithTimeout(parent, std::chrono::seconds(2));
//   while (!ctx.done()) { ... }                   // poll, or
//   ctx.wait_for(std::chrono::milliseconds(50));  // wait (never a plain sleep), or
//   racelab::CallbackHandle h = ctx.on_done([&] { conn.close(); });  // be told
//   if (ctx.err() == racelab::ContextErr::kDeadlineExceeded) ...
//
// Operations:
//   Background()                 the root: never done, no deadline.
//   WithCancel / WithTimeout / WithDeadline(parent)
//                                a child and the CancelFunc that cancels it.
//   done(), err(), cause(), deadline(), clock()   observe.
//   wait(), wait_for(), wait_until()         block until done.
//   on_done(fn)                  run fn once when done (Go's AfterFunc).
//
// Rules, as in Go:
//   - Cancellation flows from parent to children, never back: canceling a
//     child leaves its parent and siblings alone.
//   - A child's deadline is never later than its parent's (deadline() is
//     the earliest of its own and its ancestors').
//   - Once done, a context stays done; err() and cause() never change again.
//   - A deadline counts the instant it passes, whether or not anyone waits:
//     done() and err() read the clock, and on_done callbacks run on time
//     (see "Deadline timer" below).
//   - A deadline is an instant of the context's Clock (clock.h): the real
//     one unless WithTimeout / WithDeadline were given another, as tests
//     give a FakeClock's so that no deadline waits on real time. A child
//     reads its parent's clock.
//   - A child that is canceled, destroyed, or reaches a deadline of its own
//     unregisters from its parent, so a long-lived parent does not
//     accumulate dead children. For the deadline, as Go's child timer does,
//     a child whose own deadline is earlier than its parent's is put on the
//     deadline timer, which cancels it then (kDeadlineExceeded).
//
// Deadline timer: on_done callbacks of a context with a deadline are run by
// one process-wide thread, "rl-ctx-timer". It exists only while at least one
// context with a pending deadline has a callback registered: an on_done
// callback, or its link in a parent that it must leave at that deadline (a
// context of Background() that is only polled or waited on needs no
// thread: done(), err() and the waits read the clock). A deadline leaves the timer when its last
// callback does: when the callback is stopped (stop(), or its handle destroyed), when the context
// is canceled (even if a callback throws) or destroyed. When nothing is pending the thread exits; a
// later deadline starts a new one; at process exit it is joined. So no thread outlives its need. A
// deadline on a FakeClock needs no thread: the set() or advance() that reaches it runs the
// callbacks, on the thread that moved the clock.
//
// Lifetime: the state lives as long as any Context, CancelFunc or
// CallbackHandle referring to it, and through a cancellation in progress: a
// callback may destroy the last Context, CancelFunc and handles of the
// context that runs it (even the CancelFunc whose call runs it). A
// FakeClock that a context reads must outlive it. A CallbackHandle must not outlive what its
// callback captures by reference: destroy (or stop()) it first; stop() waits
// for a callback that is running on another thread. Callbacks run on the
// thread that makes the context done (the canceller, or rl-ctx-timer), so
// they should be short. Deadlock caveat (as with std::stop_callback): do not
// stop() a handle while holding a lock that its callback takes; the callback
// may be running, and stop() waits for it.
//
// Memory ordering: everything a thread wrote before calling a CancelFunc
// (or before the cancellation of an ancestor) happens-before every call
// that observes the context as done through that cancellation: done() or
// err() returning it, a wait returning true, an on_done callback starting.
// A context done because its deadline passed carries no happens-before edge
// of its own (nobody wrote anything); the clock says so (a FakeClock's
// set()/advance() that reached the deadline happens-before the callbacks it
// runs: clock.h).
#ifndef RACELAB_SYNC_CONTEXT_H_
#define RACELAB_SYNC_CONTEXT_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "racelab/sync/clock.h"

namespace racelab {

enum class ContextErr { kNone, kCanceled, kDeadlineExceeded };

// "", "context canceled", "context deadline exceeded" (Go's texts).
std::string_view ToString(ContextErr err);

// Why an operation that watched a context gave up, in the status enum E of
// that operation (ChanStatus, PoolStatus, WaitCode): E::kDeadlineExceeded
// when the deadline passed, E::kCanceled otherwise.
// Requires: err != kNone (the context is done).
template <typename E>
constexpr E StatusFor(ContextErr err) {
  return err == ContextErr::kDeadlineExceeded ? E::kDeadlineExceeded : E::kCanceled;
}

class CancelFunc;
namespace context_internal {
class State;
struct Access;
}  // namespace context_internal

// The registration of an on_done callback. Move-only.
class CallbackHandle {
 public:
  // An empty handle: stop() returns false.
  CallbackHandle() noexcept = default;
  CallbackHandle(CallbackHandle&& other) noexcept;
  // Stops the callback this handle held, then takes other's.
  CallbackHandle& operator=(CallbackHandle&& other) noexcept;
  CallbackHandle(const CallbackHandle&) = delete;
  CallbackHandle& operator=(const CallbackHandle&) = delete;
  // Calls stop().
  ~CallbackHandle();

  // Unregisters the callback. Returns true if that prevented the call (it
  // had not started and never will), false if it ran, is running or was
  // stopped already.
  // Guarantees: when stop() returns, the callback is not running on another
  // thread and never will (it waits for a call in progress elsewhere; on the
  // callback's own thread it returns at once).
  bool stop();

 private:
  friend struct context_internal::Access;
  CallbackHandle(std::shared_ptr<context_internal::State> state, std::uint64_t id) noexcept
      : state_(std::move(state)), id_(id) {}

  // Registration `id_` in `state_`. No state: empty (id_ 0), or a
  // callback on Background() that can never run (id_ != 0).
  std::shared_ptr<context_internal::State> state_;
  std::uint64_t id_ = 0;
};

// A handle to a context. Cheap to copy (shared state); every member is
// thread-safe. A default-constructed Context is Background().
class Context {
 public:
  Context() noexcept = default;

  // The root context: never done, no deadline.
  static Context Background() noexcept { return Context(); }

  // True once canceled (directly or through an ancestor) or past its
  // deadline. Never goes back to false.
  bool done() const;

  // Why it is done; kNone while it is not.
  ContextErr err() const;

  // The cause given to the CancelFunc that canceled it (or an ancestor),
  // else ToString(err()); "" while not done.
  std::string cause() const;

  // The earliest of its own and its ancestors' deadlines; nullopt if none.
  // An instant of clock().
  std::optional<Clock::time_point> deadline() const;

  // The clock its deadline is measured on (the real one for Background()
  // and the contexts made without another).
  Clock clock() const;

  // Blocks until done. Requires: the context can become done (on
  // Background() it blocks forever, as in Go).
  void wait() const;

  // Blocks until done or `timeout` passes on clock(); returns done().
  bool wait_for(Clock::duration timeout) const;

  // Blocks until done or clock() reaches `deadline`; returns done().
  bool wait_until(Clock::time_point deadline) const;

  // Runs fn once when the context becomes done, on the thread that makes it
  // done (a canceller; for a deadline, rl-ctx-timer or the thread that
  // advances its FakeClock). If it is done already, fn runs at once on the
  // caller and the handle is empty.
  // Requires: fn does not throw (an exception is passed on to the
  // canceller, or printed to stderr when a deadline ran it).
  // Guarantees: fn runs at most once; destroying or stop()ping the handle
  // before the context is done means it never runs.
  [[nodiscard]] CallbackHandle on_done(std::function<void()> fn) const;

  // The number of callbacks registered on this context and not yet run or
  // stopped, its children's links included: a diagnostic, for tests and
  // leak checks (a parent whose count only grows leaks children). 0 for
  // Background(); a snapshot that may be stale when it returns.
  std::size_t registered_callbacks() const;

  // The same shared state (copies of one context compare equal).
  friend bool operator==(const Context& a, const Context& b) noexcept {
    return a.state_ == b.state_;
  }

 private:
  friend struct context_internal::Access;
  explicit Context(std::shared_ptr<context_internal::State> state) noexcept
      : state_(std::move(state)) {}

  std::shared_ptr<context_internal::State> state_;  // null: Background()
};

// Cancels the context it came with (and so all its descendants). Copyable;
// idempotent (only the first call counts); thread-safe.
class CancelFunc {
 public:
  // A CancelFunc that cancels nothing.
  CancelFunc() noexcept = default;

  // Cancels with err() == kCanceled and the given cause (Go's
  // WithCancelCause); an empty cause reads "context canceled". A context
  // already past its deadline records kDeadlineExceeded instead.
  // Guarantees: when it returns, the context is done, and the on_done
  // callbacks of the context and its descendants have run, unless another
  // thread made it done first (then they run on that thread).
  void operator()(std::string cause = {}) const;

 private:
  friend struct context_internal::Access;
  explicit CancelFunc(std::shared_ptr<context_internal::State> state) noexcept
      : state_(std::move(state)) {}

  std::shared_ptr<context_internal::State> state_;
};

// A child of `parent` that is done when parent is, or when cancel is called.
std::pair<Context, CancelFunc> WithCancel(const Context& parent);

// A child that is also done `timeout` from now on parent.clock().
std::pair<Context, CancelFunc> WithTimeout(const Context& parent, Clock::duration timeout);

// A child that is also done `timeout` from now on `clock`, which it reads.
// Requires: the parent has no deadline, or its deadline is on `clock`.
// Throws: std::invalid_argument if the parent's deadline is on another
// clock (the two instants could not be compared).
std::pair<Context, CancelFunc> WithTimeout(const Context& parent, Clock::duration timeout,
                                           Clock clock);

// A child that is also done when parent.clock() reaches `deadline` (or at
// its parent's deadline, if earlier). A deadline already past gives a child
// that is done at once.
std::pair<Context, CancelFunc> WithDeadline(const Context& parent, Clock::time_point deadline);

// As above, on `clock`, which the child reads. Requires and throws as the
// WithTimeout that takes a clock.
std::pair<Context, CancelFunc> WithDeadline(const Context& parent, Clock::time_point deadline,
                                            Clock clock);

}  // namespace racelab

#endif  // RACELAB_SYNC_CONTEXT_H_
