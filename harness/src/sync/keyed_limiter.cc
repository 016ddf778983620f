#include "racelab/sync/keyed_limiter.h"

#include <algorithm>
#include <bit>
#include <boost/container_hash/hash.hpp>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "racelab/base/thread_name.h"
#include "racelab/sync/token_bucket.h"

namespace racelab {

namespace {

constexpr Clock::duration kInfDuration = TokenBucket::kInfDuration;

KeyLimits Sanitized(KeyLimits l) {
  if (!(l.limit > 0)) l.limit = 0;  // NaN and negative, as TokenBucket does
  if (l.burst < 0) l.burst = 0;
  return l;
}

std::chrono::seconds RetryAfter(Clock::duration wait) {
  if (wait >= kInfDuration) return kRetryNever;
  return std::max(std::chrono::ceil<std::chrono::seconds>(wait), std::chrono::seconds(1));
}

int Remaining(double tokens, int burst) {
  if (!(tokens >= 1)) return 0;
  return static_cast<int>(std::min(std::floor(tokens), static_cast<double>(burst)));
}

// The time a bucket holding `tokens` takes to be full again.
Clock::duration TimeToFull(double tokens, const KeyLimits& l) {
  if (tokens >= l.burst || l.limit == TokenBucket::kInf) return Clock::duration::zero();
  if (!(l.limit > 0)) return kInfDuration;
  const double ns = std::ceil((l.burst - tokens) / l.limit * 1e9);
  if (!(ns < 9223372036854775807.0)) return kInfDuration;
  return Clock::duration(static_cast<std::int64_t>(ns));
}

// t + d, or time_point::max() when that does not fit (d kInfDuration: never).
Clock::time_point SaturatingAdd(Clock::time_point t, Clock::duration d) {
  if (d >= Clock::time_point::max() - t) return Clock::time_point::max();
  return t + d;
}

// Drawn once per process, so that where a key lands (its shard, its slot)
// cannot be computed from outside: an attacker cannot pick keys that pile
// up in one shard or one probe run.
std::size_t ProcessSeed() {
  static const std::size_t seed = [] {
    std::random_device device;
    return (static_cast<std::size_t>(device()) << 32) ^ device();
  }();
  return seed;
}

std::uint64_t KeyHash(std::string_view key) {
  std::size_t h = ProcessSeed();
  boost::hash_range(h, key.begin(), key.end());
  return h;
}

int ShardCount(int requested, std::size_t max_keys) {
  unsigned n = std::bit_ceil(static_cast<unsigned>(std::clamp(requested, 1, 1024)));
  while (n > 1 && n > max_keys) n /= 2;
  return static_cast<int>(n);
}

}  // namespace

std::string_view ToString(DecisionReason reason) {
  switch (reason) {
    case DecisionReason::kAllowed: return "allowed";
    case DecisionReason::kRateLimited: return "rate limited";
    case DecisionReason::kOverCapacity: return "over capacity";
    case DecisionReason::kKeyTooLong: return "key too long";
  }
  return "unknown";
}

// ---- entries and shards ---------------------------------------------------

struct KeyedLimiter::Entry {
  Entry(std::string_view k, KeyLimits l, Clock clock, Clock::time_point seen)
      : key(k), limits(l), bucket(l.limit, l.burst, clock), last_seen(seen), full_at(seen) {}

  // Whether forgetting this entry at t loses nothing: its bucket is full
  // again, as a new one would be. Idleness alone is not enough: an idle
  // bucket that has not refilled would come back full, handing out tokens
  // the limit never allowed. Else sets *wait to the time until it will be.
  bool Forgettable(Clock::time_point t, Clock::duration* wait) const {
    if (full_at <= t) return true;
    *wait = full_at == Clock::time_point::max() ? kInfDuration : full_at - t;
    return false;
  }

  const std::string key;
  const KeyLimits limits;
  TokenBucket bucket;
  // Guarded by the shard's mutex, as the bucket's state they mirror.
  Clock::time_point last_seen;
  Clock::time_point full_at;  // when the bucket is full again (max: never)
};

namespace {

// One shard's entries: an open-addressing hash table (linear probing,
// backward-shift deletion) of owned entries. A lookup touches one slot and
// the entry it finds; node-based maps cost two or three more cache misses,
// which is most of the time of a lookup among 100,000 keys.
template <typename Entry>
class EntryTable {
 public:
  Entry* Find(std::uint64_t hash, std::string_view key) const {
    if (slots_.empty()) return nullptr;
    for (std::size_t i = Home(hash);; i = Next(i)) {
      const Slot& s = slots_[i];
      if (!s.entry) return nullptr;
      if (s.hash == hash && s.entry->key == key) return s.entry.get();
    }
  }

  // Requires: no entry with this key.
  Entry* Insert(std::uint64_t hash, std::unique_ptr<Entry> entry) {
    if ((size_ + 1) * 4 > slots_.size() * 3) Grow();
    Entry* raw = entry.get();
    Place(Slot{hash, std::move(entry)});
    ++size_;
    return raw;
  }

  // Looks at up to `budget` entries, from where the last call stopped, and
  // erases the first for which forget(entry) is true; returns whether it
  // did. Sets *all when it looked at every entry.
  template <typename Forget>
  bool EraseOneOf(std::size_t budget, Forget forget, bool* all) {
    *all = size_ <= budget;
    for (std::size_t n = 0; n < slots_.size() && budget > 0; ++n) {
      cursor_ = Next(cursor_);
      if (!slots_[cursor_].entry) continue;
      --budget;
      if (forget(*slots_[cursor_].entry)) {
        EraseAt(cursor_);
        return true;
      }
    }
    return false;
  }

  // Erases every entry for which forget(entry) is true; returns how many.
  template <typename Forget>
  std::size_t EraseIf(Forget forget) {
    std::vector<std::pair<std::uint64_t, const Entry*>> doomed;
    for (const Slot& s : slots_) {
      if (s.entry && forget(*s.entry)) doomed.emplace_back(s.hash, s.entry.get());
    }
    for (const auto& [hash, entry] : doomed) {
      std::size_t i = Home(hash);
      while (slots_[i].entry.get() != entry) i = Next(i);
      EraseAt(i);
    }
    return doomed.size();
  }

  std::size_t size() const { return size_; }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::unique_ptr<Entry> entry;  // null: empty
  };

  std::size_t Home(std::uint64_t hash) const { return hash & (slots_.size() - 1); }
  std::size_t Next(std::size_t i) const { return (i + 1) & (slots_.size() - 1); }

  void Place(Slot slot) {
    std::size_t i = Home(slot.hash);
    while (slots_[i].entry) i = Next(i);
    slots_[i] = std::move(slot);
  }

  void Grow() {
    const std::size_t capacity = std::max<std::size_t>(16, slots_.size() * 2);
    std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(capacity));
    for (Slot& s : old) {
      if (s.entry) Place(std::move(s));
    }
  }

  // Empties slot i, then moves back each later entry of the probe run whose
  // home is not between the hole and itself, so no lookup meets a gap.
  void EraseAt(std::size_t i) {
    slots_[i].entry.reset();
    for (std::size_t j = Next(i); slots_[j].entry; j = Next(j)) {
      const std::size_t home = Home(slots_[j].hash);
      const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (!stays) {
        slots_[i] = std::move(slots_[j]);
        i = j;
      }
    }
    --size_;
  }

  std::vector<Slot> slots_;  // size 0 or a power of two
  std::size_t size_ = 0;
  std::size_t cursor_ = 0;
};

// Entries looked at in each shard for a slot when a new key arrives at the
// cap (every shard is visited, so up to 16 x shards in all).
constexpr std::size_t kEvictionBudget = 16;

}  // namespace

// Aligned to a cache line so that shards used by different threads do not
// share one.
struct alignas(64) KeyedLimiter::Shard {
  // Takes a token from e at t.
  static Decision Take(Entry& e, Clock::time_point t) {
    e.last_seen = std::max(e.last_seen, t);
    const TokenBucket::Take take = e.bucket.take_n(t, 1);
    e.full_at = SaturatingAdd(e.last_seen, TimeToFull(take.tokens, e.limits));
    Decision d;
    d.allowed = take.allowed;
    d.limit = e.limits.limit;
    d.remaining = Remaining(take.tokens, e.limits.burst);
    if (!take.allowed) {
      d.reason = DecisionReason::kRateLimited;
      d.retry_after = RetryAfter(take.wait);
    }
    return d;
  }

  // At the cap: erases an entry of this shard with nothing left to
  // remember, looking at up to kEvictionBudget of them. Else lowers *wait
  // to the soonest time one of them will be, clears *all unless it looked
  // at every entry, and returns false.
  bool EvictOne(Clock::time_point t, Clock::duration* wait, bool* all) RACELAB_EXCLUDES(mu) {
    MutexLock lock(mu);
    bool looked_at_all = false;
    const bool evicted = table.EraseOneOf(
        kEvictionBudget,
        [&](const Entry& e) {
          Clock::duration until = kInfDuration;
          if (e.Forgettable(t, &until)) return true;
          *wait = std::min(*wait, until);
          return false;
        },
        &looked_at_all);
    *all = *all && looked_at_all;
    return evicted;
  }

  // Entries idle for idle_ttl whose bucket is full again.
  std::size_t EvictStale(Clock::time_point now, Clock::duration idle_ttl) RACELAB_EXCLUDES(mu) {
    MutexLock lock(mu);
    return table.EraseIf([&](const Entry& e) {
      Clock::duration unused;
      return now - e.last_seen >= idle_ttl && e.Forgettable(now, &unused);
    });
  }

  Mutex mu;
  EntryTable<Entry> table RACELAB_GUARDED_BY(mu);
};

// ---- KeyedLimiter ---------------------------------------------------------

KeyedLimiter::KeyedLimiter(KeyedLimiterOptions options)
    : options_(std::move(options)),
      max_keys_(options_.max_keys),
      shard_count_(ShardCount(options_.shards, options_.max_keys)),
      shard_shift_(64 - std::countr_zero(static_cast<unsigned>(shard_count_))),
      shards_(new Shard[static_cast<std::size_t>(shard_count_)]) {
  if (options_.cleanup_interval > std::chrono::nanoseconds::zero()) {
    cleanup_ = std::thread([this] { CleanupLoop(); });
  }
}

KeyedLimiter::~KeyedLimiter() {
  {
    MutexLock lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.NotifyAll();
  if (cleanup_.joinable()) cleanup_.join();
}

KeyedLimiter::Shard& KeyedLimiter::ShardFor(std::uint64_t hash) const {
  if (shard_count_ == 1) return shards_[0];
  // The top bits of a multiplicative mix: the table inside uses the low bits.
  return shards_[(hash * 0x9E3779B97F4A7C15ULL) >> shard_shift_];
}

KeyLimits KeyedLimiter::LimitsFor(std::string_view key) const {
  return Sanitized(options_.limits_for ? options_.limits_for(key) : options_.limits);
}

Decision KeyedLimiter::allow(std::string_view key) { return allow_at(key, options_.clock.now()); }

int KeyedLimiter::shard_of(std::string_view key) const {
  return static_cast<int>(&ShardFor(KeyHash(key)) - shards_.get());
}

Decision KeyedLimiter::allow_at(std::string_view key, Clock::time_point t) {
  if (key.size() > options_.max_key_bytes) {
    Decision d;
    d.reason = DecisionReason::kKeyTooLong;
    d.retry_after = kRetryNever;
    d.limit = Sanitized(options_.limits).limit;
    return d;
  }
  const std::uint64_t hash = KeyHash(key);
  Shard& shard = ShardFor(hash);
  {
    MutexLock lock(shard.mu);
    if (Entry* e = shard.table.Find(hash, key)) return Shard::Take(*e, t);
  }
  // A new key: resolve its limits without holding the lock (user code).
  const KeyLimits limits = LimitsFor(key);
  // A free slot, or else the slot of an entry that can go, in any shard.
  // No shard lock is held here: taking a slot locks other shards.
  Clock::duration wait = kInfDuration;
  if (!ReserveSlot() && !TakeSlotOfForgettable(t, &wait)) {
    Decision d;
    d.reason = DecisionReason::kOverCapacity;
    d.retry_after = max_keys_ == 0 ? kRetryNever : RetryAfter(wait);
    d.limit = limits.limit;
    return d;
  }
  MutexLock lock(shard.mu);
  if (Entry* e = shard.table.Find(hash, key)) {        // created meanwhile
    entries_.fetch_sub(1, std::memory_order_relaxed);  // the slot is not needed
    return Shard::Take(*e, t);
  }
  Entry* e = shard.table.Insert(hash, std::make_unique<Entry>(key, limits, options_.clock, t));
  return Shard::Take(*e, t);
}

bool KeyedLimiter::TakeSlotOfForgettable(Clock::time_point t, Clock::duration* wait) {
  // Every shard in turn, from a cursor shared by all callers, so the
  // entries of the whole table take turns, wherever their keys hash to.
  const std::size_t start = sweep_.fetch_add(1, std::memory_order_relaxed);
  bool looked_at_all = true;
  for (int i = 0; i < shard_count_; ++i) {
    Shard& shard =
        shards_[(start + static_cast<std::size_t>(i)) % static_cast<std::size_t>(shard_count_)];
    // The evicted entry's slot passes to the caller: entries_ is unchanged.
    if (shard.EvictOne(t, wait, &looked_at_all)) return true;
  }
  // Nothing looked at will ever be forgettable, but something unseen may.
  if (*wait == kInfDuration && !looked_at_all) *wait = options_.idle_ttl;
  return false;
}

bool KeyedLimiter::ReserveSlot() {
  std::size_t n = entries_.load(std::memory_order_relaxed);
  do {
    if (n >= max_keys_) return false;
  } while (!entries_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
  return true;
}

std::size_t KeyedLimiter::evict_stale(Clock::time_point now) {
  std::size_t evicted = 0;
  for (int i = 0; i < shard_count_; ++i) {
    const std::size_t n = shards_[i].EvictStale(now, options_.idle_ttl);
    entries_.fetch_sub(n, std::memory_order_relaxed);
    evicted += n;
  }
  return evicted;
}

std::size_t KeyedLimiter::size() const { return entries_.load(std::memory_order_relaxed); }

void KeyedLimiter::CleanupLoop() {
  SetCurrentThreadName("rl-keyed-gc");
  // Capped so that now + interval cannot overflow.
  const auto interval =
      std::min<std::chrono::nanoseconds>(options_.cleanup_interval, std::chrono::hours(24));
  for (;;) {
    {
      MutexLock lock(stop_mu_);
      if (stop_cv_.WaitFor(lock, interval,
                           [this]() RACELAB_REQUIRES(stop_mu_) { return stopping_; })) {
        return;
      }
    }
    const std::size_t evicted = evict_stale(options_.clock.now());
    if (options_.on_cleanup) options_.on_cleanup(evicted);
  }
}

}  // namespace racelab
