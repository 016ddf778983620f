// rate_limit: tiers of API keys resolved into a KeyedLimiter's limits, and
// the RateLimit-* / Retry-After headers of its decisions, on a FakeClock.
#include "racelab/http/rate_limit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string_view>

#include "racelab/sync/clock.h"
#include "racelab/sync/keyed_limiter.h"
#include "racelab/sync/token_bucket.h"

namespace racelab::http {
namespace {

constexpr Clock::time_point kT0 = FakeClock::kDefaultStart;

// A one-shard limiter without a cleanup thread, with the tiers' limits.
KeyedLimiterOptions Options(const RateLimitTiers& tiers) {
  KeyedLimiterOptions o;
  o.limits = tiers.default_tier;
  o.limits_for = tiers.limits_for();
  o.shards = 1;
  o.cleanup_interval = std::chrono::nanoseconds::zero();
  return o;
}

TEST(RateLimitTiersTest, TierComesFromTheMapElseDefault) {
  RateLimitTiers tiers;
  tiers.pro_tier = {50, 7};
  tiers.tiers = {{"key-pro", Tier::kPro}};
  EXPECT_EQ(tiers.TierOf("key-pro"), Tier::kPro);
  EXPECT_EQ(tiers.TierOf("key-other"), Tier::kDefault);
  KeyedLimiter limiter(Options(tiers));
  const Decision pro = limiter.allow_at("key-pro", kT0);
  EXPECT_EQ(pro.limit, 50);
  EXPECT_EQ(pro.remaining, 6);
  EXPECT_EQ(limiter.allow_at("key-other", kT0).limit, tiers.default_tier.limit);
}

TEST(RateLimitTiersTest, ResolverWinsOverTheMap) {
  std::atomic<int> calls{0};
  RateLimitTiers tiers;
  tiers.enterprise_tier = {100, 200};
  tiers.tiers = {{"key-e", Tier::kFree}};
  tiers.resolver = [&](std::string_view key) {
    calls.fetch_add(1);
    return key.starts_with("key-e") ? Tier::kEnterprise : Tier::kFree;
  };
  KeyedLimiter limiter(Options(tiers));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(limiter.allow_at("key-e", kT0).limit, 100);
  EXPECT_EQ(limiter.allow_at("anon", kT0).limit, tiers.free_tier.limit);
  EXPECT_EQ(calls.load(), 2) << "resolved once per new key";
}

TEST(RateLimitTiersTest, LimitsForKeepsTheTiersItWasMadeFrom) {
  RateLimitTiers tiers;
  tiers.tiers = {{"k", Tier::kPro}};
  const auto limits_for = tiers.limits_for();
  tiers.pro_tier = {1, 1};
  EXPECT_EQ(limits_for("k").limit, RateLimitTiers().pro_tier.limit);
}

TEST(RateLimitTiersTest, TierNames) {
  EXPECT_EQ(ToString(Tier::kDefault), "default");
  EXPECT_EQ(ToString(Tier::kFree), "free");
  EXPECT_EQ(ToString(Tier::kPro), "pro");
  EXPECT_EQ(ToString(Tier::kEnterprise), "enterprise");
}

TEST(RateLimitHeadersTest, AllowedRequestHasNoRetryAfter) {
  Decision d;
  d.allowed = true;
  d.limit = 10;
  d.remaining = 2;
  const std::vector<Header> headers = RateLimitHeaders(d);
  EXPECT_EQ(FindHeader(headers, "RateLimit-Limit"), "10");
  EXPECT_EQ(FindHeader(headers, "RateLimit-Remaining"), "2");
  EXPECT_EQ(headers.size(), 2u);
}

TEST(RateLimitHeadersTest, DeniedRequestCarriesRetryAfterInWholeSeconds) {
  RateLimitTiers tiers;
  tiers.default_tier = {0.5, 1};
  KeyedLimiter limiter(Options(tiers));
  ASSERT_TRUE(limiter.allow_at("k", kT0).allowed);
  const std::vector<Header> headers = RateLimitHeaders(limiter.allow_at("k", kT0));
  EXPECT_EQ(FindHeader(headers, "RateLimit-Limit"), "0.5");
  EXPECT_EQ(FindHeader(headers, "RateLimit-Remaining"), "0");
  EXPECT_EQ(FindHeader(headers, "Retry-After"), "2");
}

TEST(RateLimitHeadersTest, InfiniteValuesAreLeftOut) {
  Decision d;
  d.allowed = false;
  d.limit = TokenBucket::kInf;
  d.retry_after = kRetryNever;
  const std::vector<Header> headers = RateLimitHeaders(d);
  EXPECT_EQ(FindHeader(headers, "RateLimit-Limit"), "");
  EXPECT_EQ(FindHeader(headers, "Retry-After"), "");
  EXPECT_EQ(FindHeader(headers, "RateLimit-Remaining"), "0");
  EXPECT_EQ(headers.size(), 1u);
}

}  // namespace
}  // namespace racelab::http
