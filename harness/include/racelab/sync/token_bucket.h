// TokenBucket: a rate limiter with the semantics of golang.org/x/time/rate.
//
// A bucket holds up to `burst` tokens, starts full, and refills at `limit`
// tokens per second. Each event takes one token (n with the _n forms). There
// are three ways to ask for tokens, for three policies:
//   allow()    take a token if there is one now, else say no (drop the
//              event, answer 429). Never blocks, never takes a token it
//              denies.
//   reserve()  take the token now even if it has not been refilled yet, and
//              learn how long to wait before acting (delay_from); later
//              callers queue behind it. cancel_at() gives tokens back.
//   wait(ctx)  block until the token is there. Fails at once when n exceeds
//              burst or the Context's deadline would pass before the token
//              comes; gives the token back if the Context is done first.
// Every call that reads the clock has a twin that takes the instant, so
// tests walk fixed instants t0..t9 and never sleep: allow_n(t, n),
// reserve_n(t, n), set_limit_at(t, r), set_burst_at(t, b), tokens_at(t).
//
//   racelab::TokenBucket bucket(/*limit=*/10, /*burst=*/3);  // 10/s, bursts of 3
//   if (!bucket.allow()) return Response::Text(429, "slow down\n");
//
//   WaitStatus s = bucket.wait_n(ctx, 2);   // e.g. ctx from WithTimeout
//   if (!s.ok()) return s.message;          // "wait_n(n=2) exceeds burst 1"
//
// Special values, as in x/time/rate: limit kInf allows every event and
// ignores burst; burst 0 allows nothing (unless the limit is kInf); limit 0
// allows the tokens in the bucket and then nothing, ever (a reserve or wait
// that would need a refill is refused). Instants passed by the caller may go
// backwards: the bucket then refills nothing and counts from the older
// instant, as x/time/rate does. The forms that read the clock themselves
// (allow, reserve, wait, set_limit, set_burst, tokens, cancel) never move
// the bucket's time backwards: an instant read before a concurrent caller's
// later one counts as that later one, so no interval is refilled twice.
//
// Where we differ from x/time/rate, deliberately: misuse is not undefined
// (n < 0 is refused; a negative or NaN limit counts as 0; a negative burst
// as 0); with limit 0 the bucket spends its tokens instead of shrinking its
// burst, so burst() keeps its value; a wait that could never be satisfied is
// refused even without a deadline; a Reservation is cancelled at most once.
//
// Lifetime: the bucket must outlive every Reservation on which cancel_at()
// or delay() is called and every wait in progress. The Clock it reads (a
// FakeClock in tests) must outlive the bucket.
//
// Memory ordering: every operation takes the bucket's mutex, so operations
// on one bucket are linearizable: each sees the effect of every operation
// that took the mutex before it (a cancel_at() happens-before the reserve
// that gets the returned tokens). A caller's other writes are published to
// the next caller only as a side effect of that mutex; do not rely on it.
#ifndef RACELAB_SYNC_TOKEN_BUCKET_H_
#define RACELAB_SYNC_TOKEN_BUCKET_H_

#include <chrono>
#include <limits>
#include <string>
#include <string_view>

#include "racelab/sync/clock.h"
#include "racelab/sync/mutex.h"
#include "racelab/sync/thread_annotations.h"

namespace racelab {

class Context;
class TokenBucket;

// How a wait ended. Anything but kOk is an expected outcome, not a crash.
enum class WaitCode {
  kOk,
  kInvalidArgument,   // n < 0
  kExceedsBurst,      // n > burst (and the limit is not kInf)
  kExceedsDeadline,   // the tokens would come after the context's deadline,
                      // or never (limit 0); nothing was taken
  kCanceled,          // the context was canceled (before or while waiting)
  kDeadlineExceeded,  // the context's deadline passed (before or while waiting)
};
std::string_view ToString(WaitCode code);

struct [[nodiscard]] WaitStatus {
  WaitCode code = WaitCode::kOk;
  // "" when ok; else names the operation and the values:
  // "wait_n(n=5) exceeds burst 3".
  std::string message;

  bool ok() const noexcept { return code == WaitCode::kOk; }
};

// Tokens taken by reserve_n(): when the holder may act, and how to give them
// back. A value owned by one thread; move-only, so it is cancelled once.
class Reservation {
 public:
  // A reservation that is not ok (as after a refusal).
  Reservation() = default;
  Reservation(Reservation&& other) noexcept;
  Reservation& operator=(Reservation&& other) noexcept;
  Reservation(const Reservation&) = delete;
  Reservation& operator=(const Reservation&) = delete;

  // Whether the bucket granted the tokens. A refused reservation took
  // nothing: its delay is kInfDuration and cancel_at() does nothing.
  bool ok() const noexcept { return ok_; }

  // How long after t the holder must wait before acting: 0 means act now;
  // kInfDuration when !ok().
  Clock::duration delay_from(Clock::time_point t) const noexcept;

  // delay_from(the bucket's clock now). Requires: the bucket is alive.
  Clock::duration delay() const;

  // The instant at which the holder may act. Requires: ok().
  Clock::time_point time_to_act() const noexcept { return time_to_act_; }

  // Tokens this reservation holds (0 once cancelled).
  int tokens() const noexcept { return tokens_; }

  // Says the holder will not act, and gives back the tokens, as far as that
  // is still possible at instant t: nothing if t is after time_to_act() (the
  // tokens were used) or the limit is kInf; never the tokens that later
  // reservations have already been promised (they keep their instants).
  // Requires: the bucket is alive. Guarantees: at most once per reservation.
  void cancel_at(Clock::time_point t);

  // cancel_at(the bucket's clock now). Requires: the bucket is alive.
  void cancel();

 private:
  friend class TokenBucket;
  Reservation(TokenBucket* bucket, int tokens, Clock::time_point time_to_act, double limit) noexcept
      : bucket_(bucket), ok_(true), tokens_(tokens), time_to_act_(time_to_act), limit_(limit) {}

  TokenBucket* bucket_ = nullptr;
  bool ok_ = false;
  int tokens_ = 0;
  Clock::time_point time_to_act_{};
  double limit_ = 0;  // the bucket's limit when reserved
};

class TokenBucket {
 public:
  // The infinite limit: every event is allowed, burst is ignored.
  static constexpr double kInf = std::numeric_limits<double>::infinity();
  // The delay of a reservation that will never be granted.
  static constexpr Clock::duration kInfDuration = Clock::duration::max();

  // A full bucket of `burst` tokens refilled at `limit` tokens per second,
  // reading `clock` (the real one unless a test passes a FakeClock's).
  // A negative or NaN limit counts as 0, a negative burst as 0.
  TokenBucket(double limit, int burst, Clock clock = Clock());
  TokenBucket(const TokenBucket&) = delete;
  TokenBucket& operator=(const TokenBucket&) = delete;

  // allow_n(clock now, 1).
  bool allow() RACELAB_EXCLUDES(mu_);
  // Takes n tokens at instant t if they are all there; else takes nothing
  // and returns false. n == 0 is allowed (if burst >= 0); n < 0 never.
  bool allow_n(Clock::time_point t, int n) RACELAB_EXCLUDES(mu_);

  // allow_n() plus what a 429 needs, under one lock. Meant for an instant
  // the caller just read from clock(): t never moves the bucket's time
  // backwards (an earlier t counts as the bucket's latest instant).
  struct Take {
    bool allowed = false;
    double tokens = 0;        // tokens left at t, after the take (may be < 0
                              // while reservations are pending)
    Clock::duration wait{0};  // when denied: how long until n tokens would be
                              // there (kInfDuration: never); 0 when allowed
  };
  Take take_n(Clock::time_point t, int n) RACELAB_EXCLUDES(mu_);

  // reserve_n(clock now, 1).
  Reservation reserve() RACELAB_EXCLUDES(mu_);
  // Takes n tokens at instant t, possibly before they are refilled: the
  // reservation says when the holder may act. Not ok (and nothing taken)
  // when n > burst (limit not kInf), n < 0, or the tokens would never come
  // (limit 0). Requires: the bucket outlives the reservation's cancel_at().
  Reservation reserve_n(Clock::time_point t, int n) RACELAB_EXCLUDES(mu_);

  // wait_n(ctx, 1).
  WaitStatus wait(const Context& ctx) RACELAB_EXCLUDES(mu_);
  // Blocks until n tokens are there and takes them. Fails at once, taking
  // nothing, when n < 0, n > burst (limit not kInf), ctx is already done, or
  // the tokens would come only after ctx's deadline. Otherwise waits on ctx
  // (never a plain sleep); if ctx is done first, gives the tokens back
  // (Reservation::cancel_at) and returns kCanceled / kDeadlineExceeded.
  // The time left before ctx's deadline is read on ctx.clock(), the delay
  // on the bucket's clock; a test gives both the same FakeClock.
  WaitStatus wait_n(const Context& ctx, int n) RACELAB_EXCLUDES(mu_);

  // set_limit_at(clock now, limit).
  void set_limit(double limit) RACELAB_EXCLUDES(mu_);
  // From instant t on, refills at `limit` (tokens until t at the old rate).
  // Reservations already made keep their instants. Negative / NaN -> 0.
  void set_limit_at(Clock::time_point t, double limit) RACELAB_EXCLUDES(mu_);

  // set_burst_at(clock now, burst).
  void set_burst(int burst) RACELAB_EXCLUDES(mu_);
  // From instant t on, holds at most `burst` tokens. Negative -> 0.
  void set_burst_at(Clock::time_point t, int burst) RACELAB_EXCLUDES(mu_);

  // tokens_at(clock now).
  double tokens() const RACELAB_EXCLUDES(mu_);
  // The tokens there would be at instant t (negative while reservations
  // are pending). Changes nothing.
  double tokens_at(Clock::time_point t) const RACELAB_EXCLUDES(mu_);

  double limit() const RACELAB_EXCLUDES(mu_);
  int burst() const RACELAB_EXCLUDES(mu_);
  Clock clock() const noexcept { return clock_; }

 private:
  friend class Reservation;

  // The outcome of a reservation attempt, before it is turned into a value.
  struct Attempt {
    bool ok = false;
    Clock::duration wait{0};  // needed delay (kInfDuration: never)
    double tokens = 0;        // tokens at t after the attempt
  };
  // Whether an instant was passed by the caller (taken as is, even when it
  // goes backwards) or read from clock_ by this bucket (never before last_:
  // a concurrent caller may have read a later instant and locked first).
  enum class Instant { kGiven, kFromClock };

  bool AllowN(Clock::time_point t, int n, Instant instant) RACELAB_EXCLUDES(mu_);
  Reservation ReserveN(Clock::time_point t, int n, Instant instant) RACELAB_EXCLUDES(mu_);
  void SetLimitAt(Clock::time_point t, double limit, Instant instant) RACELAB_EXCLUDES(mu_);
  void SetBurstAt(Clock::time_point t, int burst, Instant instant) RACELAB_EXCLUDES(mu_);
  void CancelReservation(Reservation& r, Clock::time_point t, Instant instant)
      RACELAB_EXCLUDES(mu_);
  Attempt ReserveLocked(Clock::time_point t, int n, Clock::duration max_wait) RACELAB_REQUIRES(mu_);
  double TokensAtLocked(Clock::time_point t) const RACELAB_REQUIRES(mu_);
  Clock::time_point NotBeforeLastLocked(Clock::time_point t) const RACELAB_REQUIRES(mu_);

  // "Never used": the bucket is full whatever the instant.
  static constexpr Clock::time_point kNever = Clock::time_point::min();

  const Clock clock_;
  mutable Mutex mu_;
  double limit_ RACELAB_GUARDED_BY(mu_);
  int burst_ RACELAB_GUARDED_BY(mu_);
  double tokens_ RACELAB_GUARDED_BY(mu_);  // at last_
  Clock::time_point last_ RACELAB_GUARDED_BY(mu_) = kNever;
  // The latest instant any reservation may act at (past or future).
  Clock::time_point last_event_ RACELAB_GUARDED_BY(mu_) = kNever;
};

}  // namespace racelab

#endif  // RACELAB_SYNC_TOKEN_BUCKET_H_
