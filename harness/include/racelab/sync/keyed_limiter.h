// KeyedLimiter: one TokenBucket per key (a client IP, an API key), with
// per-key limits, a hard cap on the number of keys, stale-entry eviction,
// and the numbers a refusal needs (remaining tokens, when to retry).
//
// allow(key) finds or creates the key's bucket and takes one token. A new
// key's limits (a rate and a burst) come from the options' limits_for, else
// are options.limits; they are resolved once, when the key's bucket is
// created, outside any lock (limits_for may be slow). The Decision says
// whether the request may go on, and why not. HTTP's share (tiers of API
// keys, the Retry-After and RateLimit-* headers, the client's address as a
// key) is in racelab/http/rate_limit.h and client_ip.h.
//
//   racelab::KeyedLimiterOptions options;
//   options.limits_for = [](std::string_view key) {
//     return IsPartner(key) ? racelab::KeyLimits{50, 100} : racelab::KeyLimits{10, 20};
//   };
//   racelab::KeyedLimiter limiter(std::move(options));
//   if (!limiter.allow(api_key).allowed) return Response::Text(429, "slow down\n");
//
// One rule decides when an entry may be forgotten: when its bucket is full
// again, so that a fresh bucket would be the same and forgetting loses
// nothing. Idleness alone never is: an idle bucket that has not refilled
// would come back full (a 1-per-hour key polled every 10 minutes would get
// a token each time), and a limit-0 key that spent its burst would get a
// new one. So an entry whose bucket never refills (limit 0, once a token is
// spent) is kept for the limiter's life; count such keys into max_keys.
//
// Memory is bounded: at most max_keys entries in all (each about 200 bytes
// plus its key; keys longer than max_key_bytes are refused, never stored).
// At the cap, a new key takes the slot of a forgettable entry anywhere in
// the table: every shard is visited in turn, from a cursor shared by all
// callers, looking at up to 16 entries in each from where the last look
// stopped, so which keys hash where makes no difference to who may be
// evicted. If none can go, the new key is refused with reason
// kOverCapacity and a Retry-After for the soonest one looked at
// (kRetryNever if every entry was looked at and none will ever go). So a
// flood of distinct keys can neither exhaust memory nor reset the bucket of
// a client that is being limited; an attacker who keeps the cap full of
// keys it re-touches (at any rate their buckets refill) does not lock new
// clients out, since those entries are forgettable in turn; only a table
// full of clients that are all being limited right now makes new keys wait.
//
// Stale entries (idle for idle_ttl, and forgettable) are evicted by a
// cleanup thread named "rl-keyed-gc" every cleanup_interval of real time,
// and by evict_stale(now) for tests. The thread waits on a condition
// variable with a deadline, so the destructor stops and joins it at once;
// no thread outlives the limiter.
//
// Locking is sharded: a key's entry lives in one of `shards` shards, each
// with its own mutex and its own open-addressing table, so requests for
// keys in different shards never wait for each other. The shard and the
// slot come from a hash seeded once per process (std::random_device), so
// they cannot be predicted from outside. The key's TokenBucket is used
// under its shard's mutex (shard mutex first, then the bucket's); a new
// key at the cap locks the other shards one at a time, holding none of its
// own. Only the count of entries and the eviction cursor are shared,
// atomics.
//
// Lifetime: the Clock (a FakeClock in tests) must outlive the limiter. The
// limits_for and on_cleanup hooks must be safe to call from any thread, must
// not call back into the limiter, and must outlive it.
//
// Memory ordering: an allow() on a key is linearizable with every other
// operation on the same key (they take the same shard mutex); operations on
// keys in different shards are not ordered with each other. The cleanup
// thread's on_cleanup call happens-after the evictions it reports.
#ifndef RACELAB_SYNC_KEYED_LIMITER_H_
#define RACELAB_SYNC_KEYED_LIMITER_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "racelab/sync/clock.h"
#include "racelab/sync/mutex.h"
#include "racelab/sync/thread_annotations.h"

namespace racelab {

// The bucket of one key: a rate and a burst.
struct KeyLimits {
  double limit = 10;  // events per second; TokenBucket::kInf for no limit
  int burst = 20;
};

struct KeyedLimiterOptions {
  // The limits of every key that limits_for does not decide (all of them
  // when it is not set), and the limit a refused over-long key reports.
  KeyLimits limits{10, 20};
  // key -> its limits, called once per new key, outside any lock.
  std::function<KeyLimits(std::string_view key)> limits_for;

  std::size_t max_keys = 100'000;   // hard cap on entries (0 refuses all)
  std::size_t max_key_bytes = 256;  // longer keys are refused, not stored
  Clock::duration idle_ttl = std::chrono::minutes(10);
  // Real time between cleanup passes; zero or negative: no cleanup thread.
  std::chrono::nanoseconds cleanup_interval = std::chrono::minutes(1);
  // Called on the cleanup thread after each pass with the number evicted.
  std::function<void(std::size_t evicted)> on_cleanup;
  int shards = 64;  // rounded up to a power of two, at most max_keys
  Clock clock;      // the real clock unless a test injects a FakeClock's
};

enum class DecisionReason {
  kAllowed,
  kRateLimited,   // the key's bucket is empty
  kOverCapacity,  // the key is new and the table is full of live keys
  kKeyTooLong,    // longer than max_key_bytes
};
std::string_view ToString(DecisionReason reason);

// retry_after when no wait will help (burst 0, limit 0, key too long).
inline constexpr std::chrono::seconds kRetryNever = std::chrono::seconds::max();

// What allow() decided, and what a 429 response needs.
struct Decision {
  bool allowed = false;
  // 0 when allowed; when denied, the wait until a retry can succeed, rounded
  // up to whole seconds and at least 1 (kRetryNever: no wait will help).
  std::chrono::seconds retry_after{0};
  double limit = 0;   // the key's limit, events per second
  int remaining = 0;  // whole tokens left after this decision
  DecisionReason reason = DecisionReason::kAllowed;
};

class KeyedLimiter {
 public:
  // Starts the cleanup thread unless options.cleanup_interval <= 0.
  explicit KeyedLimiter(KeyedLimiterOptions options = {});
  // Stops and joins the cleanup thread (at once: it waits on a condition).
  ~KeyedLimiter();
  KeyedLimiter(const KeyedLimiter&) = delete;
  KeyedLimiter& operator=(const KeyedLimiter&) = delete;

  // allow_at(key, clock now).
  Decision allow(std::string_view key);
  // Takes one token from key's bucket at instant t, creating the bucket
  // (full) if the key is new. Guarantees: never stores more than max_keys
  // entries; an earlier t than the key last saw counts as that later one.
  Decision allow_at(std::string_view key, Clock::time_point t);

  // Evicts every entry idle for idle_ttl or more at instant `now` whose
  // bucket is full again at `now`; returns how many. The cleanup thread
  // calls it with the clock's now.
  std::size_t evict_stale(Clock::time_point now);

  // Entries stored now.
  std::size_t size() const;
  std::size_t max_keys() const noexcept { return max_keys_; }
  int shard_count() const noexcept { return shard_count_; }
  // The shard key's entry lives in, 0 .. shard_count() - 1: a diagnostic
  // (tests play the attacker who knows the hash). It differs from one
  // process to the next.
  int shard_of(std::string_view key) const;

 private:
  struct Shard;
  struct Entry;

  Shard& ShardFor(std::uint64_t hash) const;
  // Takes one of the max_keys slots if one is free.
  bool ReserveSlot();
  // At the cap: evicts a forgettable entry of any shard, its slot passing
  // to the caller. Else lowers *wait to when one of those looked at will be
  // forgettable. Requires: the caller holds no shard mutex.
  bool TakeSlotOfForgettable(Clock::time_point t, Clock::duration* wait);
  KeyLimits LimitsFor(std::string_view key) const;
  void CleanupLoop() RACELAB_EXCLUDES(stop_mu_);

  const KeyedLimiterOptions options_;
  const std::size_t max_keys_;
  const int shard_count_;
  const int shard_shift_;  // 64 - log2(shard_count_)
  std::unique_ptr<Shard[]> shards_;
  // Entries in all shards; never above max_keys_. A slot is taken before an
  // entry is inserted and given back after it is erased.
  std::atomic<std::size_t> entries_{0};
  std::atomic<std::size_t> sweep_{0};  // where the next eviction look starts

  Mutex stop_mu_;
  CondVar stop_cv_;
  bool stopping_ RACELAB_GUARDED_BY(stop_mu_) = false;
  std::thread cleanup_;  // last: started once everything above exists
};

}  // namespace racelab

#endif  // RACELAB_SYNC_KEYED_LIMITER_H_
