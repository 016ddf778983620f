// TokenBucket: x/time/rate's semantics on fixed instants t0..t9 (100 ms
// apart), waits on a FakeClock, and stress under TSan. No test sleeps: a
// test that needs a thread to be parked asks FakeClock::await_sleepers, and
// every wait carries a deadline.
#include "racelab/sync/token_bucket.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <future>
#include <thread>
#include <vector>

#include "racelab/base/thread_name.h"
#include "racelab/sync/clock.h"
#include "racelab/sync/context.h"
#include "test_support.h"

namespace racelab {
namespace {

using racelab::testing::kPatience;
using std::chrono::milliseconds;
using std::chrono::seconds;
using TimePoint = Clock::time_point;

constexpr Clock::duration kD = milliseconds(100);
constexpr TimePoint kT0 = FakeClock::kDefaultStart;
// Safety net for every test that blocks: a hang fails instead of hanging.

TimePoint T(int k) { return kT0 + k * kD; }

// Instants are compared to the microsecond, as x/time/rate's tests compare
// to the nearest d: float token arithmetic may be off by a nanosecond.
::testing::AssertionResult ActsAt(const Reservation& r, int k) {
  if (!r.ok()) return ::testing::AssertionFailure() << "reservation not ok";
  const auto off = r.time_to_act() - T(k);
  if (off < -std::chrono::microseconds(1) || off > std::chrono::microseconds(1)) {
    return ::testing::AssertionFailure()
           << "acts at t0+" << (r.time_to_act() - kT0).count() << "ns, want t" << k;
  }
  return ::testing::AssertionSuccess();
}

struct Step {
  int k;  // instant t_k
  int n;
  bool ok;
};

void Walk(TokenBucket& bucket, const std::vector<Step>& steps) {
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    EXPECT_EQ(bucket.allow_n(T(s.k), s.n), s.ok)
        << "step " << i << ": allow_n(t" << s.k << ", " << s.n << ")";
  }
}

// ---- allow on fixed instants ----------------------------------------------

TEST(TokenBucketTest, StartsFull) {
  TokenBucket bucket(10, 3);
  EXPECT_DOUBLE_EQ(bucket.tokens_at(T(0)), 3);
  EXPECT_EQ(bucket.limit(), 10);
  EXPECT_EQ(bucket.burst(), 3);
}

TEST(TokenBucketTest, BurstOneAllowsOneEventPerInterval) {
  TokenBucket bucket(10, 1);
  Walk(bucket, {{0, 1, true},
                {0, 1, false},
                {0, 1, false},
                {1, 1, true},
                {1, 1, false},
                {1, 1, false},
                {2, 2, false},  // n above burst never fits
                {2, 1, true},
                {2, 1, false}});
}

TEST(TokenBucketTest, BurstThreeRefillsOneTokenPerInterval) {
  TokenBucket bucket(10, 3);
  Walk(bucket, {{0, 2, true},
                {0, 2, false},
                {0, 1, true},
                {0, 1, false},
                {1, 4, false},
                {2, 1, true},
                {3, 1, true},
                {4, 1, true},
                {4, 1, true},
                {4, 1, false},
                {4, 1, false},
                {9, 3, true},
                {9, 0, true}});
}

TEST(TokenBucketTest, JumpingBackwardsRefillsNothing) {
  TokenBucket bucket(10, 3);
  Walk(bucket, {{1, 1, true},  // start at t1
                {0, 1, true},  // back to t0: two tokens remain
                {0, 1, true},
                {0, 1, false},
                {0, 1, false},
                {1, 1, true},  // one interval after t0
                {1, 1, false},
                {1, 1, false},
                {2, 1, true},
                {2, 1, false},
                {2, 1, false}});
}

TEST(TokenBucketTest, BurstZeroAllowsNothing) {
  TokenBucket bucket(10, 0);
  Walk(bucket, {{0, 1, false}, {5, 1, false}, {9, 1, false}});
  EXPECT_TRUE(bucket.allow_n(T(9), 0));  // zero events always fit
  EXPECT_FALSE(bucket.reserve_n(T(9), 1).ok());
  EXPECT_DOUBLE_EQ(bucket.tokens_at(T(9)), 0);
}

TEST(TokenBucketTest, InfiniteLimitAllowsEverythingAndIgnoresBurst) {
  TokenBucket bucket(TokenBucket::kInf, 0);
  for (int k = 0; k < 10; ++k) EXPECT_TRUE(bucket.allow_n(T(0), 1000)) << k;
  Reservation r = bucket.reserve_n(T(0), 1'000'000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.delay_from(T(0)), Clock::duration::zero());
  const auto [ctx, cancel] = WithTimeout(Context::Background(), kPatience);
  EXPECT_TRUE(bucket.wait_n(ctx, 5).ok());
}

TEST(TokenBucketTest, ZeroLimitAllowsOnlyTheInitialBurst) {
  TokenBucket bucket(0, 2);
  Walk(bucket, {{0, 1, true}, {0, 1, true}, {0, 1, false}, {9, 1, false}});
  EXPECT_FALSE(bucket.reserve_n(T(9), 1).ok());  // a refill never comes
  EXPECT_EQ(bucket.burst(), 2);                  // spent tokens, not burst
  EXPECT_DOUBLE_EQ(bucket.tokens_at(T(9)), 0);
}

TEST(TokenBucketTest, ZeroLimitOnFirstUseAllowsOne) {
  TokenBucket bucket(0, 1);
  EXPECT_TRUE(bucket.allow());
  EXPECT_FALSE(bucket.allow());
}

TEST(TokenBucketTest, NegativeCountsAreRefusedAndTakeNothing) {
  TokenBucket bucket(10, 3);
  EXPECT_FALSE(bucket.allow_n(T(0), -1));
  EXPECT_FALSE(bucket.reserve_n(T(0), -2).ok());
  EXPECT_DOUBLE_EQ(bucket.tokens_at(T(0)), 3);
}

TEST(TokenBucketTest, NegativeOrNanLimitCountsAsZero) {
  TokenBucket negative(-5, 1);
  TokenBucket nan(std::nan(""), 1);
  EXPECT_EQ(negative.limit(), 0);
  EXPECT_EQ(nan.limit(), 0);
  EXPECT_TRUE(nan.allow_n(T(0), 1));
  EXPECT_FALSE(nan.allow_n(T(9), 1));
}

TEST(TokenBucketTest, NoTruncationErrorOnAwkwardLimit) {
  EXPECT_TRUE(TokenBucket(0.7692307692307693, 1).allow());
}

TEST(TokenBucketTest, TokensRefillOverTimeUpToBurst) {
  TokenBucket bucket(10, 5);
  ASSERT_TRUE(bucket.allow_n(T(0), 5));
  EXPECT_NEAR(bucket.tokens_at(T(0)), 0, 1e-9);
  EXPECT_NEAR(bucket.tokens_at(T(1)), 1, 1e-9);
  EXPECT_NEAR(bucket.tokens_at(T(3)), 3, 1e-9);
  EXPECT_NEAR(bucket.tokens_at(T(5)), 5, 1e-9);
  EXPECT_NEAR(bucket.tokens_at(T(9)), 5, 1e-9);  // capped at burst
  ASSERT_TRUE(bucket.reserve_n(T(1), 3).ok());   // 1 there, 2 owed
  EXPECT_NEAR(bucket.tokens_at(T(1)), -2, 1e-9);
  EXPECT_NEAR(bucket.tokens_at(T(4)), 1, 1e-9);
}

TEST(TokenBucketTest, TakeReportsTokensLeftAndWaitWhenDenied) {
  TokenBucket bucket(10, 2);
  TokenBucket::Take take = bucket.take_n(T(0), 2);
  EXPECT_TRUE(take.allowed);
  EXPECT_NEAR(take.tokens, 0, 1e-9);
  EXPECT_EQ(take.wait, Clock::duration::zero());
  take = bucket.take_n(T(0), 1);
  EXPECT_FALSE(take.allowed);
  EXPECT_NEAR(take.tokens, 0, 1e-9);
  EXPECT_NEAR(std::chrono::duration<double>(take.wait).count(), 0.1, 1e-6);
  EXPECT_EQ(bucket.take_n(T(0), 3).wait, TokenBucket::kInfDuration);  // > burst
  EXPECT_TRUE(bucket.take_n(T(1), 1).allowed);                        // the denial took nothing
}

// ---- reserve and cancel ---------------------------------------------------

TEST(TokenBucketTest, ReserveSchedulesLaterCallersBehindEarlierOnes) {
  TokenBucket bucket(10, 2);
  Reservation a = bucket.reserve_n(T(0), 2);
  EXPECT_TRUE(ActsAt(a, 0));
  EXPECT_EQ(a.delay_from(T(0)), Clock::duration::zero());
  Reservation b = bucket.reserve_n(T(0), 2);
  EXPECT_TRUE(ActsAt(b, 2));
  EXPECT_NEAR(std::chrono::duration<double>(b.delay_from(T(0))).count(), 0.2, 1e-6);
  EXPECT_EQ(b.delay_from(T(5)), Clock::duration::zero());
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(3), 2), 4));
}

TEST(TokenBucketTest, ReserveRefusesMoreThanBurstAndAllowSeesOwedTokens) {
  TokenBucket bucket(10, 2);
  Reservation over = bucket.reserve_n(T(0), 3);
  EXPECT_FALSE(over.ok());
  EXPECT_EQ(over.delay_from(T(0)), TokenBucket::kInfDuration);
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(0), 2), 0));
  EXPECT_FALSE(bucket.allow_n(T(1), 2));  // only one token by t1
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(1), 2), 2));
  EXPECT_FALSE(bucket.allow_n(T(1), 1));  // tokens are owed
  EXPECT_TRUE(bucket.allow_n(T(3), 1));
}

TEST(TokenBucketTest, CancelOfRefusedReservationDoesNothing) {
  TokenBucket bucket(10, 2);
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(0), 2), 0));
  Reservation refused = bucket.reserve_n(T(0), 3);
  ASSERT_FALSE(refused.ok());
  refused.cancel_at(T(0));
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(0), 2), 2));  // no tokens appeared
}

TEST(TokenBucketTest, ReserveThenCancelRestoresTokens) {
  TokenBucket bucket(10, 2);
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(0), 2), 0));
  Reservation r = bucket.reserve_n(T(0), 2);
  EXPECT_TRUE(ActsAt(r, 2));
  EXPECT_NEAR(bucket.tokens_at(T(1)), -1, 1e-9);
  r.cancel_at(T(1));
  EXPECT_EQ(r.tokens(), 0);
  EXPECT_NEAR(bucket.tokens_at(T(1)), 1, 1e-9);
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(1), 2), 2));
}

TEST(TokenBucketTest, CancelAfterTimeToActRestoresNothing) {
  TokenBucket bucket(10, 2);
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(0), 2), 0));
  Reservation r = bucket.reserve_n(T(0), 2);
  EXPECT_TRUE(ActsAt(r, 2));
  r.cancel_at(T(3));  // it already acted
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(3), 2), 4));
}

TEST(TokenBucketTest, CancelKeepsTokensPromisedToLaterReservations) {
  TokenBucket bucket(10, 2);
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(0), 2), 0));
  Reservation r = bucket.reserve_n(T(0), 1);
  EXPECT_TRUE(ActsAt(r, 1));
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(0), 1), 2));
  r.cancel_at(T(0));  // its token went to the reservation behind it
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(0), 1), 3));
}

TEST(TokenBucketTest, CancelRestoresOnlyTokensNotPromisedLater) {
  TokenBucket bucket(10, 2);
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(0), 2), 0));
  Reservation r = bucket.reserve_n(T(0), 2);
  EXPECT_TRUE(ActsAt(r, 2));
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(0), 1), 3));
  r.cancel_at(T(2));  // one of its two tokens is promised to the t3 holder
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(2), 2), 4));
}

TEST(TokenBucketTest, CancelInAnyOrderRestoresAsIfNeverReserved) {
  TokenBucket bucket(10, 4);
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(0), 4), 0));
  Reservation a = bucket.reserve_n(T(0), 3);
  EXPECT_TRUE(ActsAt(a, 3));
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(0), 1), 4));
  Reservation c = bucket.reserve_n(T(0), 1);
  EXPECT_TRUE(ActsAt(c, 5));
  c.cancel_at(T(1));  // one token back
  a.cancel_at(T(1));  // two back, as if c had never been reserved
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(1), 3), 5));
}

TEST(TokenBucketTest, CancelTwiceRestoresOnce) {
  TokenBucket bucket(10, 2);
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(0), 2), 0));
  Reservation r = bucket.reserve_n(T(0), 2);
  r.cancel_at(T(0));
  r.cancel_at(T(0));
  EXPECT_NEAR(bucket.tokens_at(T(0)), 0, 1e-9);
  Reservation moved = std::move(r);
  moved.cancel_at(T(0));
  EXPECT_NEAR(bucket.tokens_at(T(0)), 0, 1e-9);
}

TEST(TokenBucketTest, ReserveAtEarlierInstantCountsFromThere) {
  TokenBucket bucket(10, 2);
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(1), 2), 1));
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(0), 1), 1));  // overshoots the limit
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(2), 2), 3));
}

TEST(TokenBucketTest, CancelAtEarlierInstantStillRestores) {
  TokenBucket bucket(10, 2);
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(1), 2), 1));
  Reservation r = bucket.reserve_n(T(1), 2);
  EXPECT_TRUE(ActsAt(r, 3));
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(1), 1), 4));
  r.cancel_at(T(0));  // one token back
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(1), 2), 4));
}

TEST(TokenBucketTest, InfiniteLimitReservationCancelGivesNothingBack) {
  TokenBucket bucket(TokenBucket::kInf, 2);
  Reservation r = bucket.reserve_n(T(0), 100);
  ASSERT_TRUE(r.ok());
  bucket.set_limit_at(T(0), 10);
  EXPECT_TRUE(bucket.allow_n(T(0), 2));
  r.cancel_at(T(0));
  EXPECT_FALSE(bucket.allow_n(T(0), 1));
}

TEST(TokenBucketTest, ReservationOnTheBucketsClockCountsDownAndCancels) {
  FakeClock fake(kT0);
  TokenBucket bucket(10, 1, fake.clock());
  ASSERT_TRUE(bucket.allow());
  Reservation r = bucket.reserve();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.delay(), milliseconds(100));
  fake.advance(milliseconds(40));
  EXPECT_EQ(r.delay(), milliseconds(60));
  r.cancel();  // at t0+40ms: the token comes back
  EXPECT_NEAR(bucket.tokens(), 0.4, 1e-9);
  EXPECT_EQ(Reservation().delay(), TokenBucket::kInfDuration);
}

// ---- set_limit / set_burst ------------------------------------------------

TEST(TokenBucketTest, SetLimitMidwayChangesTheRefillRate) {
  TokenBucket bucket(5, 2);
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(0), 2), 0));
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(0), 2), 4));
  bucket.set_limit_at(T(2), 10);
  EXPECT_EQ(bucket.limit(), 10);
  // At t2: -2 + 1 = -1 tokens; one more at 10/s comes at t4.
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(2), 1), 4));
}

TEST(TokenBucketTest, SetLimitKeepsTokensEarnedAtTheOldRate) {
  TokenBucket bucket(10, 10);
  ASSERT_TRUE(bucket.allow_n(T(0), 10));
  bucket.set_limit_at(T(3), 1);  // 3 tokens earned at 10/s
  EXPECT_NEAR(bucket.tokens_at(T(3)), 3, 1e-9);
  EXPECT_NEAR(bucket.tokens_at(T(8)), 3.5, 1e-9);  // then 0.5 s at 1/s
}

TEST(TokenBucketTest, SetBurstMidwayAllowsBiggerReservations) {
  TokenBucket bucket(5, 2);
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(0), 2), 0));
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(0), 2), 4));
  EXPECT_FALSE(bucket.reserve_n(T(3), 4).ok());
  bucket.set_burst_at(T(3), 4);
  EXPECT_EQ(bucket.burst(), 4);
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(0), 4), 9));
}

TEST(TokenBucketTest, SetLimitThenCancelRestoresAtTheReservationsRate) {
  TokenBucket bucket(5, 2);
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(0), 2), 0));
  Reservation r = bucket.reserve_n(T(0), 2);
  EXPECT_TRUE(ActsAt(r, 4));
  bucket.set_limit_at(T(2), 10);
  r.cancel_at(T(2));  // both tokens back: -1 + 2 = 1
  EXPECT_TRUE(ActsAt(bucket.reserve_n(T(2), 2), 3));
}

TEST(TokenBucketTest, LoweringBurstCapsTheTokens) {
  TokenBucket bucket(10, 5);
  bucket.set_burst_at(T(0), 2);
  EXPECT_NEAR(bucket.tokens_at(T(0)), 2, 1e-9);
  EXPECT_TRUE(bucket.allow_n(T(0), 2));
  EXPECT_FALSE(bucket.allow_n(T(0), 1));
}

TEST(TokenBucketTest, SetLimitToInfiniteAndBack) {
  TokenBucket bucket(10, 1);
  ASSERT_TRUE(bucket.allow_n(T(0), 1));
  bucket.set_limit_at(T(0), TokenBucket::kInf);
  EXPECT_TRUE(bucket.allow_n(T(0), 50));
  bucket.set_limit_at(T(0), 10);
  EXPECT_FALSE(bucket.allow_n(T(0), 1));
  EXPECT_TRUE(bucket.allow_n(T(1), 1));
}

// ---- wait -----------------------------------------------------------------

TEST(TokenBucketTest, WaitReturnsAtOnceWhenTokensAreThere) {
  FakeClock fake(kT0);
  TokenBucket bucket(10, 3, fake.clock());
  const auto [ctx, cancel] = WithTimeout(Context::Background(), kPatience);
  EXPECT_TRUE(bucket.wait_n(ctx, 2).ok());
  EXPECT_NEAR(bucket.tokens(), 1, 1e-9);
  EXPECT_EQ(fake.now(), kT0);  // nobody had to move the clock
}

TEST(TokenBucketTest, WaitFailsAtOnceWhenNExceedsBurst) {
  FakeClock fake(kT0);
  TokenBucket bucket(10, 3, fake.clock());
  const WaitStatus s = bucket.wait_n(Context::Background(), 5);
  EXPECT_EQ(s.code, WaitCode::kExceedsBurst);
  EXPECT_EQ(s.message, "wait_n(n=5) exceeds burst 3");
  EXPECT_NEAR(bucket.tokens(), 3, 1e-9);
}

TEST(TokenBucketTest, WaitFailsAtOnceWhenDeadlineTooShort) {
  FakeClock fake(kT0);
  TokenBucket bucket(10, 3, fake.clock());
  ASSERT_TRUE(bucket.allow_n(kT0, 2));
  // Three tokens need 200 ms more; the context has 50 ms.
  const auto [ctx, cancel] = WithTimeout(Context::Background(), milliseconds(50), fake.clock());
  const WaitStatus s = bucket.wait_n(ctx, 3);
  EXPECT_EQ(s.code, WaitCode::kExceedsDeadline);
  EXPECT_NE(s.message.find("wait_n(n=3) would exceed the context deadline: needs 200ms, 50ms left"),
            std::string::npos)
      << s.message;
  EXPECT_NEAR(bucket.tokens(), 1, 1e-9);  // nothing taken
  EXPECT_EQ(fake.sleepers(), 0);          // nothing waited
}

TEST(TokenBucketTest, WaitFailsAtOnceWhenDeadlineTooShortOnRealClock) {
  TokenBucket bucket(0.01, 1);  // one token per 100 s
  ASSERT_TRUE(bucket.allow());
  const auto start = std::chrono::steady_clock::now();
  const auto [ctx, cancel] = WithTimeout(Context::Background(), seconds(5));
  const WaitStatus s = bucket.wait(ctx);
  EXPECT_EQ(s.code, WaitCode::kExceedsDeadline) << s.message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(5));  // did not wait
  EXPECT_LT(bucket.tokens(), 1);
  EXPECT_GE(bucket.tokens(), 0);  // nothing reserved
}

TEST(TokenBucketTest, WaitFailsAtOnceWhenContextAlreadyCanceled) {
  FakeClock fake(kT0);
  TokenBucket bucket(10, 3, fake.clock());
  const auto [ctx, cancel] = WithCancel(Context::Background());
  cancel("client went away");
  const WaitStatus s = bucket.wait_n(ctx, 1);
  EXPECT_EQ(s.code, WaitCode::kCanceled);
  EXPECT_NE(s.message.find("client went away"), std::string::npos) << s.message;
  EXPECT_NEAR(bucket.tokens(), 3, 1e-9);
}

TEST(TokenBucketTest, WaitRefusesNegativeCount) {
  TokenBucket bucket(10, 3);
  const WaitStatus s = bucket.wait_n(Context::Background(), -1);
  EXPECT_EQ(s.code, WaitCode::kInvalidArgument);
  EXPECT_EQ(s.message, "wait_n(n=-1): n must not be negative");
}

TEST(TokenBucketTest, WaitOnZeroLimitFailsWhenTokensNeverCome) {
  FakeClock fake(kT0);
  TokenBucket bucket(0, 1, fake.clock());
  const auto [ctx, cancel] = WithTimeout(Context::Background(), kPatience);
  EXPECT_TRUE(bucket.wait(ctx).ok());
  const WaitStatus s = bucket.wait(ctx);  // no deadline would help
  EXPECT_EQ(s.code, WaitCode::kExceedsDeadline);
  EXPECT_NE(s.message.find("can never be satisfied"), std::string::npos) << s.message;
}

TEST(TokenBucketTest, WaitBlocksUntilTheClockReachesTimeToAct) {
  FakeClock fake(kT0);
  TokenBucket bucket(10, 1, fake.clock());
  ASSERT_TRUE(bucket.allow());
  const auto [ctx, cancel] = WithTimeout(Context::Background(), kPatience);
  std::atomic<bool> returned{false};
  WaitStatus status;
  std::thread waiter([&, ctx = ctx] {
    SetCurrentThreadName("rl-test-waiter");
    status = bucket.wait(ctx);
    returned = true;
  });
  ASSERT_TRUE(fake.await_sleepers(1, kPatience));
  fake.advance(milliseconds(50));  // half way: the token is not there yet
  ASSERT_TRUE(fake.await_sleepers(1, kPatience));
  EXPECT_FALSE(returned);
  fake.advance(milliseconds(50));
  waiter.join();
  EXPECT_TRUE(status.ok()) << status.message;
  EXPECT_NEAR(bucket.tokens(), 0, 1e-9);
}

TEST(TokenBucketTest, WaitCanceledWhileWaitingGivesTokensBack) {
  FakeClock fake(kT0);
  TokenBucket bucket(10, 3, fake.clock());
  const auto [bg, bg_cancel] = WithTimeout(Context::Background(), kPatience);
  ASSERT_TRUE(bucket.wait_n(bg, 2).ok());  // one token left
  const auto [ctx, cancel] = WithCancel(bg);
  WaitStatus status;
  std::thread waiter([&, ctx = ctx] {
    SetCurrentThreadName("rl-test-waiter");
    status = bucket.wait_n(ctx, 3);  // needs 200 ms more
  });
  ASSERT_TRUE(fake.await_sleepers(1, kPatience));
  EXPECT_NEAR(bucket.tokens(), -2, 1e-9);  // reserved while it waits
  cancel("shutdown");
  waiter.join();
  EXPECT_EQ(status.code, WaitCode::kCanceled) << status.message;
  EXPECT_EQ(status.message, "wait_n(n=3): context canceled (shutdown)");
  EXPECT_NEAR(bucket.tokens(), 1, 1e-9);  // all three back
  EXPECT_TRUE(bucket.wait_n(bg, 1).ok());
}

TEST(TokenBucketTest, WaitDeadlinePassingWhileWaitingGivesTokensBack) {
  FakeClock fake(kT0);
  TokenBucket bucket(10, 1, fake.clock());
  ASSERT_TRUE(bucket.allow());
  // The token comes in 100 ms of the bucket's clock, within the context's
  // 300 ms; but the context's clock is another one, and it gets there
  // first.
  FakeClock ctx_clock(kT0);
  const auto [ctx, cancel] =
      WithTimeout(Context::Background(), milliseconds(300), ctx_clock.clock());
  auto waiter = std::async(std::launch::async, [&, ctx = ctx] {
    SetCurrentThreadName("rl-test-waiter");
    return bucket.wait(ctx);
  });
  ASSERT_TRUE(fake.await_sleepers(1, kPatience));
  ctx_clock.advance(milliseconds(300));
  ASSERT_EQ(waiter.wait_for(kPatience), std::future_status::ready);
  const WaitStatus s = waiter.get();
  EXPECT_EQ(s.code, WaitCode::kDeadlineExceeded) << s.message;
  EXPECT_NEAR(bucket.tokens(), 0, 1e-9);  // the reserved token came back
  EXPECT_EQ(fake.sleepers(), 0);
}

TEST(TokenBucketTest, WaitOnRealClockWaitsForTheToken) {
  const auto start = std::chrono::steady_clock::now();
  TokenBucket bucket(50, 1);  // a token every 20 ms
  ASSERT_TRUE(bucket.allow());
  const auto [ctx, cancel] = WithTimeout(Context::Background(), kPatience);
  EXPECT_TRUE(bucket.wait(ctx).ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(20));
}

// ---- stress (run under TSan) ----------------------------------------------

// N threads allow() on one bucket while the clock moves in steps that each
// refill less than the burst, and only once the bucket is drained: no token
// is lost to the cap, so exactly burst + rate * elapsed events get through.
TEST(TokenBucketStressTest, ConcurrentAllowAdmitsBurstPlusRateTimesElapsed) {
  constexpr int kThreads = 8;
  constexpr int kBurst = 50;
  constexpr int kSteps = 40;
  constexpr double kLimit = 100;         // tokens per second
  constexpr Clock::duration kStep = kD;  // 10 tokens per step
  FakeClock fake(kT0);
  TokenBucket bucket(kLimit, kBurst, fake.clock());
  std::atomic<bool> stop{false};
  std::atomic<long> allowed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      SetCurrentThreadName("rl-test-allow");
      long mine = 0;
      while (!stop.load(std::memory_order_acquire)) {
        if (bucket.allow()) ++mine;
      }
      allowed.fetch_add(mine);
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  auto drained = [&] {
    while (bucket.tokens() >= 1) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::yield();
    }
    return true;
  };
  bool ok = true;
  for (int step = 0; step < kSteps && ok; ++step) {
    ok = drained();
    fake.advance(kStep);
  }
  ok = ok && drained();
  stop.store(true, std::memory_order_release);
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE(ok) << "the workers did not drain the bucket in time";
  EXPECT_EQ(allowed.load(), kBurst + static_cast<long>(kLimit * 0.1) * kSteps);
}

// Waiters on one bucket (burst 1, 10/s) while the clock moves only when one
// is parked: the k-th completion is never before t0 + (k-1) * 100 ms.
TEST(TokenBucketStressTest, ConcurrentWaitersRespectTheRate) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5;
  FakeClock fake(kT0);
  TokenBucket bucket(10, 1, fake.clock());
  const auto [ctx, cancel] = WithTimeout(Context::Background(), kPatience);
  Mutex mu;
  std::vector<TimePoint> done_at;  // guarded by mu (a test-local vector)
  std::atomic<int> failures{0};
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, ctx = ctx] {
      SetCurrentThreadName("rl-test-wait");
      for (int j = 0; j < kPerThread; ++j) {
        if (!bucket.wait(ctx).ok()) failures.fetch_add(1);
        const TimePoint now = fake.now();
        {
          MutexLock lock(mu);
          done_at.push_back(now);
        }
        done.fetch_add(1);
      }
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (done.load() < kThreads * kPerThread && std::chrono::steady_clock::now() < deadline) {
    if (fake.sleepers() > 0) {
      fake.advance(milliseconds(10));
    } else {
      std::this_thread::yield();
    }
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  MutexLock lock(mu);
  ASSERT_EQ(done_at.size(), static_cast<std::size_t>(kThreads * kPerThread));
  std::sort(done_at.begin(), done_at.end());
  for (std::size_t k = 0; k < done_at.size(); ++k) {
    EXPECT_GE(done_at[k], kT0 + static_cast<int>(k) * kD) << "completion " << k;
  }
}

// Reservations, cancellations, set_limit and waits that get canceled, all
// at once: TSan must stay quiet and the bucket must end up consistent.
TEST(TokenBucketStressTest, MixedOperationsStayConsistent) {
  constexpr int kThreads = 6;
  constexpr int kRounds = 300;
  FakeClock fake(kT0);
  TokenBucket bucket(1000, 20, fake.clock());
  std::atomic<int> wait_errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      SetCurrentThreadName("rl-test-mixed");
      for (int j = 0; j < kRounds; ++j) {
        switch ((i + j) % 5) {
          case 0: {
            Reservation r = bucket.reserve();
            if (j % 2 == 0) r.cancel();
            break;
          }
          case 1: (void)bucket.allow(); break;
          case 2: bucket.set_limit(j % 3 == 0 ? 500 : 1000); break;
          case 3: {
            const auto [ctx, cancel] = WithCancel(Context::Background());
            cancel();  // a wait that is already over: must take nothing
            if (bucket.wait(ctx).code != WaitCode::kCanceled) wait_errors.fetch_add(1);
            break;
          }
          case 4:
            fake.advance(std::chrono::microseconds(100));
            (void)bucket.tokens();
            break;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wait_errors.load(), 0);
  fake.advance(seconds(60));  // long enough to refill whatever is owed
  EXPECT_NEAR(bucket.tokens(), 20, 1e-9);
  EXPECT_TRUE(bucket.limit() == 500 || bucket.limit() == 1000);
}

}  // namespace
}  // namespace racelab
