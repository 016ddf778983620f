#include "racelab/sync/token_bucket.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ratio>
#include <utility>

#include "racelab/sync/context.h"

namespace racelab {

namespace {

using Duration = Clock::duration;
using TimePoint = Clock::time_point;

static_assert(std::is_same_v<Duration::period, std::nano>,
              "the token arithmetic counts nanoseconds");

constexpr Duration kInfDuration = TokenBucket::kInfDuration;

double SanitizeLimit(double limit) {
  // NaN and negative limits count as 0 (!(limit > 0) is true for NaN).
  return limit > 0 ? limit : 0;
}

int SanitizeBurst(int burst) { return burst > 0 ? burst : 0; }

// The tokens refilled over d at `limit` per second. Whole seconds and the
// nanoseconds left are converted apart, as x/time/rate does, so that a whole
// number of seconds at an integral rate is exact.
double TokensFromDuration(Duration d, double limit) {
  if (limit <= 0 || d == Duration::zero()) return 0;
  const std::int64_t ns = d.count();
  const double seconds =
      static_cast<double>(ns / 1'000'000'000) + static_cast<double>(ns % 1'000'000'000) / 1e9;
  return seconds * limit;
}

// The time it takes to refill `tokens` (>= 0) at `limit`, truncated to the
// nanosecond as x/time/rate does; kInfDuration when that is never (limit 0)
// or does not fit in a duration.
Duration DurationFromTokens(double tokens, double limit) {
  if (limit <= 0) return kInfDuration;
  const double ns = 1e9 * (tokens / limit);
  if (!(ns < 9223372036854775807.0)) return kInfDuration;  // also NaN
  return Duration(static_cast<std::int64_t>(ns));
}

// Whether t + d would not fit in a time_point.
bool AddOverflows(TimePoint t, Duration d) {
  const std::int64_t base = t.time_since_epoch().count();
  return base > 0 && d.count() > INT64_MAX - base;
}

// "200ms", "0.5ms", "1500.25ms": milliseconds, trailing zeros trimmed.
std::string FormatDuration(Duration d) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(d.count()) / 1e6);
  std::string s(buf);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s + "ms";
}

std::string Printf(const char* format, auto... args) {
  char buf[160];
  std::snprintf(buf, sizeof buf, format, args...);
  return buf;
}

WaitStatus FromContext(const Context& ctx, int n) {
  const ContextErr err = ctx.err();
  WaitStatus status;
  status.code = StatusFor<WaitCode>(err);
  const std::string_view what =
      err == ContextErr::kNone ? std::string_view("context canceled") : ToString(err);
  status.message = Printf("wait_n(n=%d): ", n);
  status.message += what;
  // cause() is err's text unless the canceller gave one.
  if (std::string cause = ctx.cause(); !cause.empty() && cause != what) {
    status.message += " (" + cause + ")";
  }
  return status;
}

}  // namespace

std::string_view ToString(WaitCode code) {
  switch (code) {
    case WaitCode::kOk: return "ok";
    case WaitCode::kInvalidArgument: return "invalid argument";
    case WaitCode::kExceedsBurst: return "exceeds burst";
    case WaitCode::kExceedsDeadline: return "exceeds deadline";
    case WaitCode::kCanceled: return "canceled";
    case WaitCode::kDeadlineExceeded: return "deadline exceeded";
  }
  return "unknown";
}

// ---- Reservation ----------------------------------------------------------

Reservation::Reservation(Reservation&& other) noexcept
    : bucket_(std::exchange(other.bucket_, nullptr)),
      ok_(std::exchange(other.ok_, false)),
      tokens_(std::exchange(other.tokens_, 0)),
      time_to_act_(other.time_to_act_),
      limit_(other.limit_) {}

Reservation& Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    bucket_ = std::exchange(other.bucket_, nullptr);
    ok_ = std::exchange(other.ok_, false);
    tokens_ = std::exchange(other.tokens_, 0);
    time_to_act_ = other.time_to_act_;
    limit_ = other.limit_;
  }
  return *this;
}

Clock::duration Reservation::delay_from(Clock::time_point t) const noexcept {
  if (!ok_) return kInfDuration;
  return time_to_act_ > t ? time_to_act_ - t : Duration::zero();
}

Clock::duration Reservation::delay() const {
  if (!ok_) return kInfDuration;
  return delay_from(bucket_->clock().now());
}

void Reservation::cancel_at(Clock::time_point t) {
  if (!ok_) return;
  bucket_->CancelReservation(*this, t, TokenBucket::Instant::kGiven);
}

void Reservation::cancel() {
  if (!ok_) return;
  bucket_->CancelReservation(*this, bucket_->clock().now(), TokenBucket::Instant::kFromClock);
}

// ---- TokenBucket ----------------------------------------------------------

TokenBucket::TokenBucket(double limit, int burst, Clock clock)
    : clock_(clock),
      limit_(SanitizeLimit(limit)),
      burst_(SanitizeBurst(burst)),
      tokens_(static_cast<double>(burst_)) {}

double TokenBucket::TokensAtLocked(Clock::time_point t) const {
  if (last_ == kNever) return burst_;  // never used: full
  double tokens = tokens_;
  // An instant before last_ refills nothing (time went backwards).
  if (t > last_) tokens += TokensFromDuration(t - last_, limit_);
  return std::min(tokens, static_cast<double>(burst_));
}

TokenBucket::Attempt TokenBucket::ReserveLocked(Clock::time_point t, int n,
                                                Clock::duration max_wait) {
  Attempt a;
  const double tokens = TokensAtLocked(t) - n;
  if (tokens < 0) a.wait = DurationFromTokens(-tokens, limit_);
  a.ok = n <= burst_ && a.wait != kInfDuration && a.wait <= max_wait && !AddOverflows(t, a.wait);
  if (a.ok) {
    last_ = t;
    tokens_ = tokens;
    last_event_ = t + a.wait;
    a.tokens = tokens;
  } else {
    a.tokens = tokens + n;
  }
  return a;
}

Clock::time_point TokenBucket::NotBeforeLastLocked(Clock::time_point t) const {
  return last_ != kNever && t < last_ ? last_ : t;
}

bool TokenBucket::allow() { return AllowN(clock_.now(), 1, Instant::kFromClock); }

bool TokenBucket::allow_n(Clock::time_point t, int n) { return AllowN(t, n, Instant::kGiven); }

bool TokenBucket::AllowN(Clock::time_point t, int n, Instant instant) {
  if (n < 0) return false;
  MutexLock lock(mu_);
  if (limit_ == kInf) return true;
  if (instant == Instant::kFromClock) t = NotBeforeLastLocked(t);
  return ReserveLocked(t, n, Duration::zero()).ok;
}

TokenBucket::Take TokenBucket::take_n(Clock::time_point t, int n) {
  Take take;
  MutexLock lock(mu_);
  t = NotBeforeLastLocked(t);
  if (n < 0) {
    take.tokens = TokensAtLocked(t);
    take.wait = kInfDuration;
    return take;
  }
  if (limit_ == kInf) {
    take.allowed = true;
    take.tokens = burst_;
    return take;
  }
  const Attempt a = ReserveLocked(t, n, Duration::zero());
  take.allowed = a.ok;
  take.tokens = a.tokens;
  if (!a.ok) take.wait = n > burst_ ? kInfDuration : a.wait;
  return take;
}

Reservation TokenBucket::reserve() { return ReserveN(clock_.now(), 1, Instant::kFromClock); }

Reservation TokenBucket::reserve_n(Clock::time_point t, int n) {
  return ReserveN(t, n, Instant::kGiven);
}

Reservation TokenBucket::ReserveN(Clock::time_point t, int n, Instant instant) {
  if (n < 0) return Reservation();
  MutexLock lock(mu_);
  if (limit_ == kInf) return Reservation(this, n, t, kInf);
  if (instant == Instant::kFromClock) t = NotBeforeLastLocked(t);
  const Attempt a = ReserveLocked(t, n, kInfDuration);
  if (!a.ok) return Reservation();
  return Reservation(this, n, t + a.wait, limit_);
}

void TokenBucket::CancelReservation(Reservation& r, Clock::time_point t, Instant instant) {
  MutexLock lock(mu_);
  if (instant == Instant::kFromClock) t = NotBeforeLastLocked(t);
  const int tokens = r.tokens_;
  r.tokens_ = 0;  // cancelled once, whatever happens below
  if (limit_ == kInf || r.limit_ == kInf || tokens == 0 || r.time_to_act_ < t) {
    return;
  }
  // Reservations made after r act later than r, each by the time its tokens
  // take to refill; those tokens are promised and are not given back.
  const double restore = tokens - TokensFromDuration(last_event_ - r.time_to_act_, r.limit_);
  if (restore <= 0) return;
  tokens_ = std::min(TokensAtLocked(t) + restore, static_cast<double>(burst_));
  last_ = t;
  if (r.time_to_act_ == last_event_ && r.limit_ > 0) {
    // r was the last reservation: the next one may act as early as r's
    // predecessor did, but not before t.
    const Duration back = DurationFromTokens(tokens, r.limit_);
    if (back != kInfDuration) {
      const Clock::time_point previous = r.time_to_act_ - back;
      if (previous >= t) last_event_ = previous;
    }
  }
}

WaitStatus TokenBucket::wait(const Context& ctx) { return wait_n(ctx, 1); }

WaitStatus TokenBucket::wait_n(const Context& ctx, int n) {
  if (n < 0) {
    return {WaitCode::kInvalidArgument, Printf("wait_n(n=%d): n must not be negative", n)};
  }
  int burst;
  double limit;
  {
    MutexLock lock(mu_);
    burst = burst_;
    limit = limit_;
  }
  if (n > burst && limit != kInf) {
    return {WaitCode::kExceedsBurst, Printf("wait_n(n=%d) exceeds burst %d", n, burst)};
  }
  if (ctx.done()) return FromContext(ctx, n);

  Clock::time_point t = clock_.now();
  Duration max_wait = kInfDuration;
  if (const std::optional<Clock::time_point> deadline = ctx.deadline()) {
    // The budget is on the context's clock; when it is ours, t is its now.
    max_wait = *deadline - (ctx.clock() == clock_ ? t : ctx.clock().now());
  }

  Reservation r;
  Attempt a;
  {
    MutexLock lock(mu_);
    if (limit_ == kInf) return {};
    t = NotBeforeLastLocked(t);
    a = ReserveLocked(t, n, max_wait);
    if (a.ok) r = Reservation(this, n, t + a.wait, limit_);
    burst = burst_;
    limit = limit_;
  }
  if (!a.ok) {
    if (n > burst) {  // the burst was lowered since we looked
      return {WaitCode::kExceedsBurst, Printf("wait_n(n=%d) exceeds burst %d", n, burst)};
    }
    if (a.wait == kInfDuration) {
      return {WaitCode::kExceedsDeadline,
              Printf("wait_n(n=%d) can never be satisfied: limit %g, %g tokens left", n, limit,
                     a.tokens)};
    }
    return {WaitCode::kExceedsDeadline,
            Printf("wait_n(n=%d) would exceed the context deadline: needs %s, %s left", n,
                   FormatDuration(a.wait).c_str(),
                   FormatDuration(std::max(max_wait, Duration::zero())).c_str())};
  }
  if (r.delay_from(t) == Duration::zero()) return {};
  if (clock_.sleep_until(ctx, r.time_to_act())) return {};
  // The context is done first: give the tokens back so others go sooner.
  r.cancel();
  return FromContext(ctx, n);
}

void TokenBucket::set_limit(double limit) { SetLimitAt(clock_.now(), limit, Instant::kFromClock); }

void TokenBucket::set_limit_at(Clock::time_point t, double limit) {
  SetLimitAt(t, limit, Instant::kGiven);
}

void TokenBucket::SetLimitAt(Clock::time_point t, double limit, Instant instant) {
  limit = SanitizeLimit(limit);
  MutexLock lock(mu_);
  if (instant == Instant::kFromClock) t = NotBeforeLastLocked(t);
  tokens_ = TokensAtLocked(t);
  last_ = t;
  limit_ = limit;
}

void TokenBucket::set_burst(int burst) { SetBurstAt(clock_.now(), burst, Instant::kFromClock); }

void TokenBucket::set_burst_at(Clock::time_point t, int burst) {
  SetBurstAt(t, burst, Instant::kGiven);
}

void TokenBucket::SetBurstAt(Clock::time_point t, int burst, Instant instant) {
  burst = SanitizeBurst(burst);
  MutexLock lock(mu_);
  if (instant == Instant::kFromClock) t = NotBeforeLastLocked(t);
  tokens_ = TokensAtLocked(t);
  last_ = t;
  burst_ = burst;
}

double TokenBucket::tokens() const {
  const Clock::time_point t = clock_.now();
  MutexLock lock(mu_);
  return TokensAtLocked(NotBeforeLastLocked(t));
}

double TokenBucket::tokens_at(Clock::time_point t) const {
  MutexLock lock(mu_);
  return TokensAtLocked(t);
}

double TokenBucket::limit() const {
  MutexLock lock(mu_);
  return limit_;
}

int TokenBucket::burst() const {
  MutexLock lock(mu_);
  return burst_;
}

}  // namespace racelab
