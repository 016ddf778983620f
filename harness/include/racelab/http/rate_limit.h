// Rate limiting, HTTP's share: tiers of API keys, and the response headers
// of a KeyedLimiter's decision (racelab/sync/keyed_limiter.h does the
// limiting; client_ip.h gives the key of an anonymous client).
//
// A tier (default / free / pro / enterprise) is a rate and a burst. A key's
// tier comes from the resolver, else from the key -> tier map, else is
// kDefault. limits_for() hands that rule to a KeyedLimiter, which calls it
// once per new key, outside its locks:
//
//   racelab::http::RateLimitTiers tiers;
//   tiers.pro_tier = {50, 100};
//   tiers.tiers = {{"key-123", racelab::http::Tier::kPro}};
//   racelab::KeyedLimiterOptions options;
//   options.limits = tiers.default_tier;
//   options.limits_for = tiers.limits_for();
//   racelab::KeyedLimiter limiter(std::move(options));
//   ...
//   racelab::Decision d = limiter.allow(request.header("X-Api-Key"));
//   if (!d.allowed) {
//     Response r = Response::Text(429, "slow down\n");
//     for (Header& h : racelab::http::RateLimitHeaders(d)) r.headers.push_back(h);
//     return r;
//   }
//
// Memory ordering: none; values and pure functions. limits_for() copies the
// tiers, so the function it returns may run on any thread; a resolver must
// be safe to call from any thread itself.
#ifndef RACELAB_HTTP_RATE_LIMIT_H_
#define RACELAB_HTTP_RATE_LIMIT_H_

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "racelab/http/message.h"
#include "racelab/sync/keyed_limiter.h"

namespace racelab::http {

enum class Tier { kDefault, kFree, kPro, kEnterprise };
std::string_view ToString(Tier tier);  // "default", "free", "pro", "enterprise"

struct RateLimitTiers {
  KeyLimits default_tier{10, 20};
  KeyLimits free_tier{1, 5};
  KeyLimits pro_tier{20, 40};
  KeyLimits enterprise_tier{200, 400};
  // key -> tier; wins over `tiers` when set.
  std::function<Tier(std::string_view key)> resolver;
  // key -> tier when there is no resolver; other keys get kDefault.
  std::unordered_map<std::string, Tier> tiers;

  // The tier of `key`, by the rule above.
  Tier TierOf(std::string_view key) const;
  // The limits of `tier`.
  const KeyLimits& LimitsOf(Tier tier) const;
  // LimitsOf(TierOf(key)), for KeyedLimiterOptions::limits_for. Holds a
  // copy of these tiers: later changes to *this do not reach it.
  std::function<KeyLimits(std::string_view key)> limits_for() const;
};

// The response headers for a decision: RateLimit-Limit (events per second;
// left out when infinite), RateLimit-Remaining and, when denied,
// Retry-After in whole seconds (left out when kRetryNever).
std::vector<Header> RateLimitHeaders(const Decision& d);

}  // namespace racelab::http

#endif  // RACELAB_HTTP_RATE_LIMIT_H_
