// KeyedLimiter: one TokenBucket per key (a client IP, an API key), with
// tiers, a hard cap on the number of keys, stale-entry eviction, and the
// answer an HTTP 429 needs.
//
// allow(key) finds or creates the key's bucket and takes one token. A new
// key's tier (default / free / pro / enterprise, each a limit and a burst)
// comes from the options' resolver, else from its key -> tier map, else is
// kDefault; it is resolved once, when the key's bucket is created, outside
// any lock (the resolver may be slow). The Decision says whether the request
// may go on and what to put in the response: RateLimitHeaders(decision)
// gives RateLimit-Limit, RateLimit-Remaining and, when denied, Retry-After.
//
//   racelab::KeyedLimiterOptions options;
//   options.pro_tier = {50, 100};
//   options.tiers = {{"key-123", racelab::Tier::kPro}};
//   racelab::KeyedLimiter limiter(std::move(options));
//   ...
//   racelab::Decision d = limiter.allow(racelab::ClientIpKey(
//       req.peer_address, {req.header("X-Forwarded-For"), {}}, proxies));
//   if (!d.allowed) {
//     Response r = Response::Text(429, "slow down\n");
//     for (auto& [name, value] : racelab::RateLimitHeaders(d))
//       r.headers.push_back({name, value});
//     return r;
//   }
//
// Memory is bounded: at most max_keys entries in all (each about 200 bytes
// plus its key; keys longer than max_key_bytes are refused, never stored).
// At the cap, a new key takes the slot of an entry of its shard that has
// nothing left to remember: idle for idle_ttl, or with its bucket full again
// (a fresh bucket would be the same). Up to 16 entries are looked at, from
// where the last look stopped. If none can go, the new key is refused with
// reason kOverCapacity and a Retry-After for when one of them can. So a
// flood of distinct keys can neither exhaust memory nor reset the bucket of
// a client that is being limited right now; while the flood lasts, it is
// new keys that wait.
//
// Stale entries (idle for idle_ttl) are evicted by a cleanup thread named
// "rl-keyed-gc" every cleanup_interval of real time, and by evict_stale(now)
// for tests. The thread waits on a condition variable with a deadline, so
// the destructor stops and joins it at once; no thread outlives the limiter.
//
// Locking is sharded: a key's entry lives in one of `shards` shards (a hash
// of the key), each with its own mutex and its own open-addressing table,
// so requests for keys in different shards never wait for each other. The
// key's TokenBucket is used under its shard's mutex (shard mutex first,
// then the bucket's). Only the count of entries is shared, an atomic.
//
// Lifetime: the Clock (a FakeClock in tests) must outlive the limiter. The
// resolver and on_cleanup hooks must be safe to call from any thread, must
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
#include <unordered_map>
#include <utility>
#include <vector>

#include "racelab/sync/clock.h"
#include "racelab/sync/mutex.h"
#include "racelab/sync/thread_annotations.h"

namespace racelab {

enum class Tier { kDefault, kFree, kPro, kEnterprise };
std::string_view ToString(Tier tier);  // "default", "free", "pro", "enterprise"

struct TierLimits {
  double limit = 10;  // events per second; TokenBucket::kInf for no limit
  int burst = 20;
};

struct KeyedLimiterOptions {
  TierLimits default_tier{10, 20};
  TierLimits free_tier{1, 5};
  TierLimits pro_tier{20, 40};
  TierLimits enterprise_tier{200, 400};
  // key -> tier for new keys; wins over `tiers` when set.
  std::function<Tier(std::string_view key)> resolver;
  // key -> tier for new keys when there is no resolver; others get kDefault.
  std::unordered_map<std::string, Tier> tiers;

  std::size_t max_keys = 100'000;    // hard cap on entries (0 refuses all)
  std::size_t max_key_bytes = 256;   // longer keys are refused, not stored
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
  double limit = 0;   // the key's tier limit, events per second
  int remaining = 0;  // whole tokens left after this decision
  Tier tier = Tier::kDefault;
  DecisionReason reason = DecisionReason::kAllowed;
};

// The response headers for a decision: RateLimit-Limit (events per second;
// left out when infinite), RateLimit-Remaining and, when denied,
// Retry-After in seconds (left out when kRetryNever).
std::vector<std::pair<std::string, std::string>> RateLimitHeaders(const Decision& d);

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

  // Evicts every entry idle for idle_ttl or more at instant `now`; returns
  // how many. The cleanup thread calls it with the clock's now.
  std::size_t evict_stale(Clock::time_point now);

  // Entries stored now.
  std::size_t size() const;
  std::size_t max_keys() const noexcept { return max_keys_; }
  int shard_count() const noexcept { return shard_count_; }

 private:
  struct Shard;
  struct Entry;

  Shard& ShardFor(std::uint64_t hash) const;
  // Takes one of the max_keys slots if one is free.
  bool ReserveSlot();
  Tier Resolve(std::string_view key) const;
  const TierLimits& LimitsOf(Tier tier) const;
  void CleanupLoop() RACELAB_EXCLUDES(stop_mu_);

  const KeyedLimiterOptions options_;
  const std::size_t max_keys_;
  const int shard_count_;
  const int shard_shift_;  // 64 - log2(shard_count_)
  std::unique_ptr<Shard[]> shards_;
  // Entries in all shards; never above max_keys_. A slot is taken before an
  // entry is inserted and given back after it is erased.
  std::atomic<std::size_t> entries_{0};

  Mutex stop_mu_;
  CondVar stop_cv_;
  bool stopping_ RACELAB_GUARDED_BY(stop_mu_) = false;
  std::thread cleanup_;  // last: started once everything above exists
};

}  // namespace racelab

#endif  // RACELAB_SYNC_KEYED_LIMITER_H_
