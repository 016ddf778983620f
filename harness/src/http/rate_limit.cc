#include "racelab/http/rate_limit.h"

#include <cmath>
#include <cstdio>
#include <utility>

namespace racelab::http {

namespace {

// 10 -> "10", 0.5 -> "0.5", 2.25 -> "2.25": no exponent, trailing zeros cut.
std::string FormatNumber(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", x);
  std::string s(buf);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

std::string_view ToString(Tier tier) {
  switch (tier) {
    case Tier::kDefault: return "default";
    case Tier::kFree: return "free";
    case Tier::kPro: return "pro";
    case Tier::kEnterprise: return "enterprise";
  }
  return "unknown";
}

Tier RateLimitTiers::TierOf(std::string_view key) const {
  if (resolver) return resolver(key);
  const auto it = tiers.find(std::string(key));
  return it == tiers.end() ? Tier::kDefault : it->second;
}

const KeyLimits& RateLimitTiers::LimitsOf(Tier tier) const {
  switch (tier) {
    case Tier::kFree: return free_tier;
    case Tier::kPro: return pro_tier;
    case Tier::kEnterprise: return enterprise_tier;
    case Tier::kDefault: break;
  }
  return default_tier;
}

std::function<KeyLimits(std::string_view key)> RateLimitTiers::limits_for() const {
  return [tiers = *this](std::string_view key) { return tiers.LimitsOf(tiers.TierOf(key)); };
}

std::vector<Header> RateLimitHeaders(const Decision& d) {
  std::vector<Header> headers;
  if (std::isfinite(d.limit)) headers.push_back({"RateLimit-Limit", FormatNumber(d.limit)});
  headers.push_back({"RateLimit-Remaining", std::to_string(d.remaining)});
  if (!d.allowed && d.retry_after != kRetryNever) {
    headers.push_back({"Retry-After", std::to_string(d.retry_after.count())});
  }
  return headers;
}

}  // namespace racelab::http
