#include "racelab/http/request_context.h"

#include <gtest/gtest.h>

#include <memory>
#include <stop_token>
#include <thread>

#include "racelab/base/thread_name.h"

namespace racelab::http {
namespace {

TEST(RequestContextTest, CancelRecordsWhenOnceAndStops) {
  auto cancellation = std::make_shared<RequestCancellation>();
  RequestContext context = RequestContext::WithCancellation(7, cancellation);
  EXPECT_EQ(context.request_id(), 7u);
  EXPECT_FALSE(context.cancelled());
  EXPECT_FALSE(context.cancelled_at().has_value());
  cancellation->Cancel();
  ASSERT_TRUE(context.cancelled());
  ASSERT_TRUE(context.cancelled_at().has_value());
  const auto first = *context.cancelled_at();
  cancellation->Cancel();
  EXPECT_EQ(*context.cancelled_at(), first) << "the first cancel is the one that counts";
}

TEST(RequestContextTest, CancelRunsStopCallbacks) {
  auto cancellation = std::make_shared<RequestCancellation>();
  RequestContext context = RequestContext::WithCancellation(1, cancellation);
  bool called = false;
  std::stop_callback on_cancel(context.stop_token(), [&] { called = true; });
  cancellation->Cancel();
  EXPECT_TRUE(called);
}

// Whoever sees the request cancelled sees when it was.
TEST(RequestContextTest, ACancelSeenOnAnotherThreadCarriesItsTime) {
  auto cancellation = std::make_shared<RequestCancellation>();
  RequestContext context = RequestContext::WithCancellation(1, cancellation);
  bool had_time = false;
  std::jthread watcher([&] {
    SetCurrentThreadName("rl-watcher");
    while (!context.cancelled()) std::this_thread::yield();
    had_time = context.cancelled_at().has_value();
  });
  cancellation->Cancel();
  watcher.join();
  EXPECT_TRUE(had_time);
}

TEST(RequestContextTest, ABareTokenCannotSayWhen) {
  std::stop_source source;
  RequestContext context(1, source.get_token());
  source.request_stop();
  EXPECT_TRUE(context.cancelled());
  EXPECT_FALSE(context.cancelled_at().has_value());
}

}  // namespace
}  // namespace racelab::http
