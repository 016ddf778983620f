// KeyedLimiter: per-key buckets and limits on fixed instants of a
// FakeClock, the cap policy, stale eviction, the cleanup thread's lifetime,
// and concurrent use under TSan. No test sleeps; every wait has a
// deadline.
#include "racelab/sync/keyed_limiter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "racelab/base/thread_name.h"
#include "racelab/sync/clock.h"
#include "racelab/sync/mutex.h"
#include "racelab/sync/token_bucket.h"
#include "test_support.h"

namespace racelab {
namespace {

using racelab::testing::kPatience;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using TimePoint = Clock::time_point;

constexpr TimePoint kT0 = FakeClock::kDefaultStart;

// One shard, no cleanup thread, every key {10/s, 3}: results depend only
// on the instants the test passes.
KeyedLimiterOptions Options() {
  KeyedLimiterOptions o;
  o.limits = {10, 3};
  o.shards = 1;
  o.cleanup_interval = std::chrono::nanoseconds::zero();
  o.idle_ttl = minutes(1);
  return o;
}

int CountThreadsNamed(std::string_view name) {
  const std::vector<ThreadInfo> threads = ListThreads();
  return static_cast<int>(std::count_if(threads.begin(), threads.end(),
                                        [&](const ThreadInfo& t) { return t.name == name; }));
}

// ---- decisions ------------------------------------------------------------

TEST(KeyedLimiterTest, NewKeyStartsWithAFullBucket) {
  KeyedLimiter limiter(Options());
  for (int remaining : {2, 1, 0}) {
    const Decision d = limiter.allow_at("10.0.0.1", kT0);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, remaining);
    EXPECT_EQ(d.retry_after, seconds(0));
    EXPECT_EQ(d.limit, 10);
    EXPECT_EQ(d.reason, DecisionReason::kAllowed);
  }
  const Decision denied = limiter.allow_at("10.0.0.1", kT0);
  EXPECT_FALSE(denied.allowed);
  EXPECT_EQ(denied.reason, DecisionReason::kRateLimited);
  EXPECT_EQ(denied.remaining, 0);
  EXPECT_EQ(denied.retry_after, seconds(1));  // 100 ms, rounded up
  EXPECT_TRUE(limiter.allow_at("10.0.0.1", kT0 + milliseconds(100)).allowed);
}

TEST(KeyedLimiterTest, KeysHaveSeparateBuckets) {
  KeyedLimiter limiter(Options());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(limiter.allow_at("a", kT0).allowed);
  EXPECT_FALSE(limiter.allow_at("a", kT0).allowed);
  EXPECT_TRUE(limiter.allow_at("b", kT0).allowed);
  EXPECT_EQ(limiter.size(), 2u);
}

TEST(KeyedLimiterTest, RetryAfterIsTheWaitRoundedUpToWholeSeconds) {
  KeyedLimiterOptions o = Options();
  o.limits = {0.25, 1};  // a token every 4 s
  KeyedLimiter limiter(o);
  ASSERT_TRUE(limiter.allow_at("k", kT0).allowed);
  EXPECT_EQ(limiter.allow_at("k", kT0).retry_after, seconds(4));
  EXPECT_EQ(limiter.allow_at("k", kT0 + milliseconds(1500)).retry_after, seconds(3));
  EXPECT_EQ(limiter.allow_at("k", kT0 + milliseconds(3999)).retry_after, seconds(1));
}

TEST(KeyedLimiterTest, RetryAfterIsAtLeastOneSecondWhenDenied) {
  KeyedLimiterOptions o = Options();
  o.limits = {1000, 1};  // the next token in 1 ms
  KeyedLimiter limiter(o);
  ASSERT_TRUE(limiter.allow_at("k", kT0).allowed);
  const Decision d = limiter.allow_at("k", kT0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, seconds(1));
}

TEST(KeyedLimiterTest, LimitsForGivesEachNewKeyItsLimitsOnce) {
  std::atomic<int> calls{0};
  KeyedLimiterOptions o = Options();
  o.limits_for = [&](std::string_view key) {
    calls.fetch_add(1);
    return key == "key-pro" ? KeyLimits{50, 7} : KeyLimits{1, 5};
  };
  KeyedLimiter limiter(o);
  const Decision pro = limiter.allow_at("key-pro", kT0);
  EXPECT_EQ(pro.limit, 50);
  EXPECT_EQ(pro.remaining, 6);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(limiter.allow_at("key-pro", kT0).limit, 50);
  EXPECT_EQ(limiter.allow_at("anon", kT0).limit, 1);
  EXPECT_EQ(calls.load(), 2);
}

// A slow limits_for (say, a database lookup) for one new key must not hold
// up other keys, even in the same shard: it runs outside the lock.
TEST(KeyedLimiterTest, LimitsForRunsOutsideTheShardLock) {
  Mutex mu;
  CondVar cv;
  bool resolving = false;  // guarded by mu (test-local)
  bool fast_done = false;  // guarded by mu
  bool slow_released = false;
  KeyedLimiterOptions o = Options();  // one shard
  o.limits_for = [&](std::string_view key) {
    if (key == "slow") {
      MutexLock lock(mu);
      resolving = true;
      cv.NotifyAll();
      slow_released = cv.WaitFor(lock, kPatience, [&] { return fast_done; });
    }
    return KeyLimits{10, 3};
  };
  KeyedLimiter limiter(o);
  std::thread slow([&] {
    SetCurrentThreadName("rl-test-slow");
    (void)limiter.allow_at("slow", kT0);
  });
  {
    MutexLock lock(mu);
    ASSERT_TRUE(cv.WaitFor(lock, kPatience, [&] { return resolving; }));
  }
  EXPECT_TRUE(limiter.allow_at("fast", kT0).allowed);  // while "slow" resolves
  {
    MutexLock lock(mu);
    fast_done = true;
  }
  cv.NotifyAll();
  slow.join();
  EXPECT_TRUE(slow_released);
  EXPECT_EQ(limiter.size(), 2u);
}

TEST(KeyedLimiterTest, BurstZeroKeyIsNeverAllowedAndNeverWorthRetrying) {
  KeyedLimiterOptions o = Options();
  o.limits_for = [](std::string_view key) {
    return key == "banned" ? KeyLimits{10, 0} : KeyLimits{10, 3};
  };
  KeyedLimiter limiter(o);
  const Decision d = limiter.allow_at("banned", kT0 + minutes(5));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, kRetryNever);
}

TEST(KeyedLimiterTest, InfiniteLimitAllowsEverything) {
  KeyedLimiterOptions o = Options();
  o.limits_for = [](std::string_view key) {
    return key == "vip" ? KeyLimits{TokenBucket::kInf, 0} : KeyLimits{10, 3};
  };
  KeyedLimiter limiter(o);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(limiter.allow_at("vip", kT0).allowed);
}

TEST(KeyedLimiterTest, KeyTooLongIsRefusedAndNotStored) {
  KeyedLimiterOptions o = Options();
  o.max_key_bytes = 8;
  KeyedLimiter limiter(o);
  const Decision d = limiter.allow_at(std::string(9, 'x'), kT0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, DecisionReason::kKeyTooLong);
  EXPECT_EQ(d.retry_after, kRetryNever);
  EXPECT_EQ(limiter.size(), 0u);
  EXPECT_TRUE(limiter.allow_at(std::string(8, 'x'), kT0).allowed);
}

TEST(KeyedLimiterTest, EarlierInstantDoesNotRefillTwice) {
  KeyedLimiter limiter(Options());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(limiter.allow_at("k", kT0).allowed);
  ASSERT_TRUE(limiter.allow_at("k", kT0 + milliseconds(100)).allowed);
  // A request stamped before the last one counts as its instant.
  EXPECT_FALSE(limiter.allow_at("k", kT0).allowed);
  EXPECT_FALSE(limiter.allow_at("k", kT0 + milliseconds(100)).allowed);
}

// ---- the cap --------------------------------------------------------------

TEST(KeyedLimiterTest, AtCapNewKeyIsRefusedWhileTheLeastRecentKeyIsLimited) {
  KeyedLimiterOptions o = Options();
  o.limits = {1, 2};
  o.max_keys = 2;
  KeyedLimiter limiter(o);
  ASSERT_TRUE(limiter.allow_at("a", kT0).allowed);
  ASSERT_TRUE(limiter.allow_at("b", kT0).allowed);
  const Decision d = limiter.allow_at("c", kT0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, DecisionReason::kOverCapacity);
  EXPECT_EQ(d.retry_after, seconds(1));  // "a" is full again in 1 s
  EXPECT_EQ(limiter.size(), 2u);
}

TEST(KeyedLimiterTest, AtCapNewKeyTakesTheSlotOfAFullLeastRecentKey) {
  KeyedLimiterOptions o = Options();
  o.limits = {1, 2};
  o.max_keys = 2;
  KeyedLimiter limiter(o);
  ASSERT_TRUE(limiter.allow_at("a", kT0).allowed);  // a: 1 left
  ASSERT_TRUE(limiter.allow_at("b", kT0).allowed);
  ASSERT_TRUE(limiter.allow_at("b", kT0).allowed);  // b: 0 left, most recent
  const TimePoint t1 = kT0 + seconds(1);            // a full, b at 1
  EXPECT_TRUE(limiter.allow_at("c", t1).allowed);   // evicts a
  EXPECT_EQ(limiter.size(), 2u);
  const Decision b = limiter.allow_at("b", t1);  // b was remembered
  EXPECT_TRUE(b.allowed);
  EXPECT_EQ(b.remaining, 0);
  // Now c (1 token left) is the least recent and not full: a must wait.
  EXPECT_EQ(limiter.allow_at("a", t1).reason, DecisionReason::kOverCapacity);
}

// Idleness alone never frees a slot: "a" would come back with a new burst.
TEST(KeyedLimiterTest, AtCapAnEntryThatNeverRefillsIsNeverEvicted) {
  KeyedLimiterOptions o = Options();
  o.limits = {0, 1};  // never refills: never full again
  o.max_keys = 1;
  KeyedLimiter limiter(o);
  ASSERT_TRUE(limiter.allow_at("a", kT0).allowed);
  const Decision later = limiter.allow_at("b", kT0 + std::chrono::hours(5));
  EXPECT_EQ(later.reason, DecisionReason::kOverCapacity);
  EXPECT_EQ(later.retry_after, kRetryNever);  // every entry looked at; none will go
  EXPECT_FALSE(limiter.allow_at("a", kT0 + std::chrono::hours(5)).allowed);
  EXPECT_EQ(limiter.size(), 1u);
}

// At the cap, a new key may take the slot of a forgettable entry of
// another shard.
TEST(KeyedLimiterTest, AtCapNewKeyEvictsFromAnyShard) {
  KeyedLimiterOptions o = Options();
  o.shards = 8;
  o.max_keys = 8;
  KeyedLimiter limiter(o);
  std::vector<std::string> same_shard;
  for (int i = 0; same_shard.size() < 8; ++i) {
    std::string key = "k" + std::to_string(i);
    if (limiter.shard_of(key) == 0) same_shard.push_back(std::move(key));
  }
  for (const std::string& key : same_shard) ASSERT_TRUE(limiter.allow_at(key, kT0).allowed);
  std::string elsewhere = "x";
  while (limiter.shard_of(elsewhere) == 0) elsewhere += "x";
  // Each bucket took one of 3 tokens at 10/s: full again 100 ms later.
  EXPECT_EQ(limiter.allow_at(elsewhere, kT0).reason, DecisionReason::kOverCapacity);
  EXPECT_TRUE(limiter.allow_at(elsewhere, kT0 + milliseconds(100)).allowed);
  EXPECT_EQ(limiter.size(), 8u);
}

TEST(KeyedLimiterTest, ZeroMaxKeysRefusesEveryKey) {
  KeyedLimiterOptions o = Options();
  o.max_keys = 0;
  KeyedLimiter limiter(o);
  const Decision d = limiter.allow_at("a", kT0);
  EXPECT_EQ(d.reason, DecisionReason::kOverCapacity);
  EXPECT_EQ(d.retry_after, kRetryNever);
  EXPECT_EQ(limiter.size(), 0u);
}

TEST(KeyedLimiterTest, ShardCountIsAPowerOfTwoNoLargerThanMaxKeys) {
  KeyedLimiterOptions o = Options();
  o.shards = 10;
  EXPECT_EQ(KeyedLimiter(o).shard_count(), 16);
  o.max_keys = 3;
  EXPECT_EQ(KeyedLimiter(o).shard_count(), 2);
  o.shards = 0;
  EXPECT_EQ(KeyedLimiter(o).shard_count(), 1);
}

TEST(KeyedLimiterTest, CapHoldsAcrossShards) {
  KeyedLimiterOptions o = Options();
  o.shards = 8;
  o.max_keys = 20;
  o.limits = {0, 1};  // entries never full: only idleness frees them
  KeyedLimiter limiter(o);
  int admitted = 0;
  for (int i = 0; i < 1000; ++i) {
    if (limiter.allow_at("key-" + std::to_string(i), kT0).allowed) ++admitted;
  }
  EXPECT_EQ(limiter.size(), 20u);  // every shard filled to its share
  EXPECT_EQ(admitted, 20);
}

// The shard that the unseeded std::hash (the old one) gave a key.
int UnseededShardOf(const KeyedLimiter& limiter, std::string_view key) {
  const std::uint64_t h = std::hash<std::string_view>{}(key);
  return static_cast<int>((h * 0x9E3779B97F4A7C15ULL) >>
                          (64 - std::countr_zero(static_cast<unsigned>(limiter.shard_count()))));
}

TEST(KeyedLimiterTest, ShardsComeFromAHashSeededPerProcess) {
  KeyedLimiterOptions o = Options();
  o.shards = 64;
  KeyedLimiter limiter(o);
  KeyedLimiter other(o);
  int predictable = 0;
  for (int i = 0; i < 256; ++i) {
    const std::string key = "198.51.100." + std::to_string(i);
    EXPECT_EQ(limiter.shard_of(key), other.shard_of(key)) << "one process, one seed";
    if (limiter.shard_of(key) == UnseededShardOf(limiter, key)) ++predictable;
  }
  EXPECT_LT(predictable, 256 / 4) << "shards follow the unseeded std::hash";
}

// The key flood of issue 8: an attacker fills the 10,000-key cap with
// addresses chosen to land in one shard, then re-touches each one before it
// goes stale (about 38 requests/s), for an hour, while 12,000 legitimate
// new clients arrive, one every 0.3 s, and the cleanup pass runs every
// minute. Nearly all of them must get in.
TEST(KeyedLimiterTest, KeyFloodInOneShardDoesNotLockOutNewClients) {
  constexpr std::size_t kCap = 10'000;
  constexpr int kLegit = 12'000;
  KeyedLimiterOptions o;  // 64 shards, {10/s, 20}, idle_ttl 10 min
  o.max_keys = kCap;
  o.cleanup_interval = std::chrono::nanoseconds::zero();  // evict_stale below
  KeyedLimiter limiter(o);
  ASSERT_GT(limiter.shard_count(), 1);
  std::vector<std::string> attacker;
  for (std::uint32_t i = 0; attacker.size() < kCap; ++i) {
    std::string ip = "10." + std::to_string(i >> 16) + "." + std::to_string((i >> 8) & 255) + "." +
                     std::to_string(i & 255);
    if (limiter.shard_of(ip) == 0) attacker.push_back(std::move(ip));  // knows the seed
  }
  for (const std::string& ip : attacker) ASSERT_TRUE(limiter.allow_at(ip, kT0).allowed);
  ASSERT_EQ(limiter.size(), kCap);

  // Each attacker key again every 10,000 / 38 = 263 s, under the 600 s TTL.
  const auto attack_gap = std::chrono::nanoseconds(std::chrono::seconds(1)) / 38;
  const auto legit_gap = std::chrono::nanoseconds(std::chrono::hours(1)) / kLegit;
  TimePoint next_attack = kT0;
  TimePoint next_cleanup = kT0 + minutes(1);
  std::size_t touched = 0;
  int admitted = 0;
  std::chrono::seconds worst_retry{0};
  for (int i = 0; i < kLegit; ++i) {
    const TimePoint t = kT0 + legit_gap * (i + 1);
    for (; next_attack <= t; next_attack += attack_gap) {
      (void)limiter.allow_at(attacker[touched++ % kCap], next_attack);
    }
    if (next_cleanup <= t) {
      limiter.evict_stale(next_cleanup);
      next_cleanup += minutes(1);
    }
    const Decision d =
        limiter.allow_at("203.0." + std::to_string(i / 250) + "." + std::to_string(i % 250), t);
    if (d.allowed) {
      ++admitted;
    } else {
      worst_retry = std::max(worst_retry, d.retry_after);
    }
  }
  EXPECT_GT(touched, 136'000u);  // the attack really ran for the hour
  EXPECT_GE(admitted, kLegit * 99 / 100)
      << "legitimate new clients locked out; worst Retry-After " << worst_retry.count() << " s";
  EXPECT_LE(limiter.size(), kCap);
}

// ---- eviction and the cleanup thread --------------------------------------

// A 1-per-hour tier (burst 1), polled every 10 minutes for 6 hours while
// the cleanup pass runs with a 10-minute idle_ttl: the limit allows 7 (at
// 0 h, 1 h, ..., 6 h), and eviction must not hand out more.
TEST(KeyedLimiterTest, IdleEvictionDoesNotRefillABucket) {
  KeyedLimiterOptions o = Options();
  o.limits = {1.0 / 3600, 1};
  o.idle_ttl = minutes(10);
  KeyedLimiter limiter(o);
  int allowed = 0;
  for (TimePoint t = kT0; t <= kT0 + std::chrono::hours(6); t += minutes(10)) {
    limiter.evict_stale(t);
    if (limiter.allow_at("198.51.100.7", t).allowed) ++allowed;
  }
  EXPECT_EQ(allowed, 7);
}

// A limit-0 tier has its burst and then nothing, ever: eviction of the idle
// entry must not give it a new burst.
TEST(KeyedLimiterTest, LimitZeroKeyStaysDeniedAfterIdleEviction) {
  KeyedLimiterOptions o = Options();
  o.limits_for = [](std::string_view key) {
    return key == "trial-key" ? KeyLimits{0, 1} : KeyLimits{10, 3};
  };
  KeyedLimiter limiter(o);
  ASSERT_TRUE(limiter.allow_at("trial-key", kT0).allowed);
  ASSERT_FALSE(limiter.allow_at("trial-key", kT0 + seconds(1)).allowed);
  limiter.evict_stale(kT0 + std::chrono::hours(2));
  const Decision d = limiter.allow_at("trial-key", kT0 + std::chrono::hours(2));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, kRetryNever);
}

TEST(KeyedLimiterTest, EvictStaleRemovesOnlyIdleEntries) {
  KeyedLimiter limiter(Options());
  ASSERT_TRUE(limiter.allow_at("a", kT0).allowed);
  ASSERT_TRUE(limiter.allow_at("b", kT0 + seconds(30)).allowed);
  EXPECT_EQ(limiter.evict_stale(kT0 + seconds(59)), 0u);
  EXPECT_EQ(limiter.evict_stale(kT0 + minutes(1)), 1u);
  EXPECT_EQ(limiter.size(), 1u);
  EXPECT_EQ(limiter.allow_at("a", kT0 + minutes(1)).remaining, 2);  // a fresh bucket
}

// Many keys in one shard (the table grows), then every other one evicted
// (entries shift back): each survivor keeps its state, each evicted key
// starts afresh.
TEST(KeyedLimiterTest, EvictionKeepsEveryOtherEntryFindable) {
  constexpr int kKeys = 3000;
  KeyedLimiter limiter(Options());
  for (int i = 0; i < kKeys; ++i) {
    // Even keys are seen at t0, odd ones a minute later; each takes a token.
    const TimePoint t = i % 2 == 0 ? kT0 : kT0 + minutes(1);
    ASSERT_TRUE(limiter.allow_at("k" + std::to_string(i), t).allowed) << i;
  }
  EXPECT_EQ(limiter.size(), static_cast<std::size_t>(kKeys));
  EXPECT_EQ(limiter.evict_stale(kT0 + minutes(1)), static_cast<std::size_t>(kKeys / 2));
  EXPECT_EQ(limiter.size(), static_cast<std::size_t>(kKeys / 2));
  for (int i = 0; i < kKeys; ++i) {
    const Decision d = limiter.allow_at("k" + std::to_string(i), kT0 + minutes(1));
    // Survivors had 2 tokens left and take one; evicted keys start at 3.
    ASSERT_EQ(d.remaining, i % 2 == 0 ? 2 : 1) << i;
  }
  EXPECT_EQ(limiter.size(), static_cast<std::size_t>(kKeys));
}

TEST(KeyedLimiterTest, CleanupThreadEvictsStaleEntries) {
  FakeClock fake(kT0);
  Mutex mu;
  CondVar cv;
  std::size_t evicted = 0;  // guarded by mu (test-local)
  KeyedLimiterOptions o = Options();
  o.clock = fake.clock();
  o.cleanup_interval = milliseconds(1);
  o.on_cleanup = [&](std::size_t n) {
    {
      MutexLock lock(mu);
      evicted += n;
    }
    cv.NotifyAll();
  };
  KeyedLimiter limiter(o);
  ASSERT_TRUE(limiter.allow("a").allowed);
  ASSERT_TRUE(limiter.allow("b").allowed);
  fake.advance(minutes(1));
  MutexLock lock(mu);
  EXPECT_TRUE(cv.WaitFor(lock, kPatience, [&] { return evicted >= 2; }));
  EXPECT_EQ(limiter.size(), 0u);
}

TEST(KeyedLimiterTest, CleanupThreadIsNamedAndJoinedAtOnceOnDestruction) {
  const int before = CountThreadsNamed("rl-keyed-gc");
  const auto start = std::chrono::steady_clock::now();
  {
    KeyedLimiterOptions o = Options();
    o.cleanup_interval = std::chrono::hours(1);
    KeyedLimiter limiter(o);
    // The thread names itself first thing; give it until the deadline.
    const auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (CountThreadsNamed("rl-keyed-gc") == before &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    EXPECT_EQ(CountThreadsNamed("rl-keyed-gc"), before + 1);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, kPatience);  // not 1 h
  EXPECT_EQ(CountThreadsNamed("rl-keyed-gc"), before);             // joined, not leaked
}

TEST(KeyedLimiterTest, NoCleanupThreadWhenIntervalIsZero) {
  const int before = static_cast<int>(ListThreads().size());
  KeyedLimiter limiter(Options());
  EXPECT_EQ(static_cast<int>(ListThreads().size()), before);
}

// ---- stress (run under TSan) ----------------------------------------------

// Threads hammer one shared key at a fixed instant (exactly `burst` get
// through) and their own keys at the same time.
TEST(KeyedLimiterStressTest, SharedKeyAdmitsExactlyTheBurstAcrossThreads) {
  constexpr int kThreads = 8;
  constexpr int kAttempts = 200;
  FakeClock fake(kT0);
  KeyedLimiterOptions o = Options();
  o.limits = {10, 100};
  o.shards = 16;
  o.clock = fake.clock();
  KeyedLimiter limiter(o);
  std::atomic<int> shared_allowed{0};
  std::atomic<int> own_allowed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      SetCurrentThreadName("rl-test-keyed");
      const std::string own = "own-" + std::to_string(i);
      for (int j = 0; j < kAttempts; ++j) {
        if (limiter.allow("shared").allowed) shared_allowed.fetch_add(1);
        if (limiter.allow(own).allowed) own_allowed.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(shared_allowed.load(), 100);
  EXPECT_EQ(own_allowed.load(), kThreads * 100);
  EXPECT_EQ(limiter.size(), static_cast<std::size_t>(kThreads + 1));
}

// A flood of distinct keys from many threads, with the cleanup thread and
// explicit evictions running and the clock moving: the cap always holds.
TEST(KeyedLimiterStressTest, FloodOfDistinctKeysNeverExceedsTheCap) {
  constexpr int kThreads = 4;
  constexpr int kKeysPerThread = 2000;
  constexpr std::size_t kCap = 64;
  FakeClock fake(kT0);
  KeyedLimiterOptions o = Options();
  o.limits = {100, 2};
  o.shards = 8;
  o.max_keys = kCap;
  o.idle_ttl = milliseconds(50);
  o.cleanup_interval = milliseconds(1);
  o.clock = fake.clock();
  KeyedLimiter limiter(o);
  std::atomic<bool> stop{false};
  std::atomic<int> over_cap{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      SetCurrentThreadName("rl-test-flood");
      for (int j = 0; j < kKeysPerThread; ++j) {
        const Decision d = limiter.allow("t" + std::to_string(i) + "-" + std::to_string(j));
        if (d.reason == DecisionReason::kOverCapacity) over_cap.fetch_add(1);
      }
    });
  }
  std::size_t max_seen = 0;
  std::thread watcher([&] {
    SetCurrentThreadName("rl-test-watch");
    while (!stop.load()) {
      max_seen = std::max(max_seen, limiter.size());
      fake.advance(milliseconds(5));
      limiter.evict_stale(fake.now());
    }
  });
  for (std::thread& t : threads) t.join();
  stop.store(true);
  watcher.join();
  EXPECT_LE(max_seen, kCap);
  EXPECT_LE(limiter.size(), kCap);
  EXPECT_GT(over_cap.load() + static_cast<int>(limiter.size()), 0);
}

}  // namespace
}  // namespace racelab
