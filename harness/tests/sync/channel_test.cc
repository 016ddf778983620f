#include "racelab/sync/channel.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "racelab/base/thread_name.h"
#include "racelab/sync/clock.h"
#include "racelab/sync/context.h"
#include "test_support.h"

namespace racelab {
namespace {

using racelab::testing::AwaitCallbacks;
using racelab::testing::Eventually;
using racelab::testing::kPatience;
using namespace std::chrono_literals;

TEST(ChannelTest, StatusNamesReadWell) {
  EXPECT_EQ(ToString(ChanStatus::kOk), "ok");
  EXPECT_EQ(ToString(ChanStatus::kClosed), "closed");
  EXPECT_EQ(ToString(ChanStatus::kDeadlineExceeded), "deadline exceeded");
}

TEST(ChannelTest, BufferedSendSucceedsUntilFull) {
  Channel<int> ch(2);
  EXPECT_EQ(ch.cap(), 2u);
  EXPECT_EQ(ch.try_send(1), ChanStatus::kOk);
  EXPECT_EQ(ch.send(2), ChanStatus::kOk);
  EXPECT_EQ(ch.len(), 2u);
  EXPECT_EQ(ch.try_send(3), ChanStatus::kFull);
  EXPECT_EQ(ch.len(), 2u);
}

TEST(ChannelTest, ValuesArriveInFifoOrder) {
  Channel<int> ch(8);
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(ch.send(i), ChanStatus::kOk);
    if (i % 3 == 2) {
      for (int j = 0; j < 2; ++j) ASSERT_TRUE(ch.try_recv());
    }
  }
  std::vector<int> got;
  while (auto r = ch.try_recv()) got.push_back(*r.value);
  std::vector<int> want;
  for (int i = 12; i < 20; ++i) want.push_back(i);
  EXPECT_EQ(got, want);
}

TEST(ChannelTest, TryRecvOnEmptyChannelIsEmpty) {
  Channel<int> ch(1);
  RecvResult<int> r = ch.try_recv();
  EXPECT_EQ(r.status, ChanStatus::kEmpty);
  EXPECT_FALSE(r.value.has_value());
  EXPECT_FALSE(r);
}

TEST(ChannelTest, ReceiversDrainQueuedValuesAfterClose) {
  Channel<std::string> ch(3);
  ASSERT_EQ(ch.send("a"), ChanStatus::kOk);
  ASSERT_EQ(ch.send("b"), ChanStatus::kOk);
  EXPECT_EQ(ch.close(), ChanStatus::kOk);
  EXPECT_TRUE(ch.closed());
  EXPECT_EQ(*ch.recv().value, "a");
  EXPECT_EQ(*ch.try_recv().value, "b");
  EXPECT_EQ(ch.recv().status, ChanStatus::kClosed);
  EXPECT_EQ(ch.try_recv().status, ChanStatus::kClosed);
}

TEST(ChannelTest, SendOnClosedChannelReturnsClosedAndKeepsTheValue) {
  Channel<std::unique_ptr<int>> ch(4);
  ch.close();
  auto value = std::make_unique<int>(7);
  EXPECT_EQ(ch.send(std::move(value)), ChanStatus::kClosed);
  ASSERT_NE(value, nullptr);
  EXPECT_EQ(ch.try_send(std::move(value)), ChanStatus::kClosed);
  ASSERT_NE(value, nullptr);
  EXPECT_EQ(*value, 7);
}

TEST(ChannelTest, FullTrySendKeepsTheValue) {
  Channel<std::unique_ptr<int>> ch(1);
  ASSERT_EQ(ch.try_send(std::make_unique<int>(1)), ChanStatus::kOk);
  auto value = std::make_unique<int>(2);
  EXPECT_EQ(ch.try_send(std::move(value)), ChanStatus::kFull);
  ASSERT_NE(value, nullptr);
}

TEST(ChannelTest, CloseTwiceReturnsClosed) {
  Channel<int> ch;
  EXPECT_EQ(ch.close(), ChanStatus::kOk);
  EXPECT_EQ(ch.close(), ChanStatus::kClosed);
}

TEST(ChannelTest, CloseWakesBlockedReceivers) {
  Channel<int> ch;
  std::vector<std::future<ChanStatus>> receivers;
  for (int i = 0; i < 3; ++i) {
    receivers.push_back(std::async(std::launch::async, [&] { return ch.recv().status; }));
  }
  ch.close();
  for (auto& r : receivers) {
    ASSERT_EQ(r.wait_for(kPatience), std::future_status::ready);
    EXPECT_EQ(r.get(), ChanStatus::kClosed);
  }
}

TEST(ChannelTest, CloseReleasesBlockedSendersWithTheirValues) {
  for (std::size_t cap : {0u, 1u}) {
    Channel<std::unique_ptr<int>> ch(cap);
    if (cap == 1) ASSERT_EQ(ch.send(std::make_unique<int>(0)), ChanStatus::kOk);
    std::latch started(1);
    auto sender = std::async(std::launch::async, [&] {
      auto value = std::make_unique<int>(1);
      started.count_down();
      ChanStatus s = ch.send(std::move(value));
      return std::make_pair(s, value != nullptr);
    });
    started.wait();
    ch.close();
    ASSERT_EQ(sender.wait_for(kPatience), std::future_status::ready);
    const auto [status, kept] = sender.get();
    EXPECT_EQ(status, ChanStatus::kClosed) << "cap " << cap;
    EXPECT_TRUE(kept) << "cap " << cap;
    if (cap == 1) EXPECT_EQ(*ch.recv().value.value(), 0);  // drained after close
    EXPECT_EQ(ch.recv().status, ChanStatus::kClosed);
  }
}

TEST(ChannelTest, RendezvousSendReturnsOnlyAfterAReceiverTookTheValue) {
  for (int round = 0; round < 20; ++round) {
    Channel<int> ch(0);
    int written_before_recv = 0;  // plain int: TSan checks the edge
    std::thread receiver([&] {
      SetCurrentThreadName("rl-test-recv");
      written_before_recv = 42;
      EXPECT_EQ(*ch.recv().value, round);
    });
    ASSERT_EQ(ch.send(round), ChanStatus::kOk);
    EXPECT_EQ(written_before_recv, 42);
    receiver.join();
    EXPECT_EQ(ch.len(), 0u);
  }
}

TEST(ChannelTest, RendezvousSendWithoutReceiverGivesUpAtDeadlineKeepingTheValue) {
  Channel<std::unique_ptr<int>> ch(0);
  FakeClock fake;
  auto [ctx, cancel] = WithTimeout(Context::Background(), 20ms, fake.clock());
  auto value = std::make_unique<int>(5);
  auto sender = std::async(std::launch::async, [&, ctx = ctx] {
    SetCurrentThreadName("rl-test-send");
    return ch.send(std::move(value), ctx);
  });
  ASSERT_TRUE(AwaitCallbacks(ctx, 1));  // waiting for a receiver
  fake.advance(20ms);
  ASSERT_EQ(sender.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(sender.get(), ChanStatus::kDeadlineExceeded);
  ASSERT_NE(value, nullptr);
  EXPECT_EQ(*value, 5);
  EXPECT_EQ(ch.try_recv().status, ChanStatus::kEmpty) << "the value was taken back";
}

TEST(ChannelTest, RendezvousTrySendNeedsAWaitingReceiver) {
  Channel<int> ch(0);
  EXPECT_EQ(ch.try_send(1), ChanStatus::kFull);
  auto receiver = std::async(std::launch::async, [&] { return ch.recv(); });
  // Succeeds once the receiver is blocked in recv().
  EXPECT_TRUE(Eventually([&] { return ch.try_send(9) == ChanStatus::kOk; }));
  ASSERT_EQ(receiver.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(*receiver.get().value, 9);
}

TEST(ChannelTest, TryRecvTakesFromABlockedRendezvousSender) {
  Channel<int> ch(0);
  auto sender = std::async(std::launch::async, [&] { return ch.send(3); });
  RecvResult<int> r;
  EXPECT_TRUE(Eventually([&] { return (r = ch.try_recv()).ok(); }));
  EXPECT_EQ(*r.value, 3);
  ASSERT_EQ(sender.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(sender.get(), ChanStatus::kOk);
}

TEST(ChannelTest, RecvGivesUpWhenTheContextIsCanceled) {
  Channel<int> ch(1);
  auto [ctx, cancel] = WithCancel(Context::Background());
  std::latch started(1);
  auto receiver = std::async(std::launch::async, [&, ctx = ctx] {
    started.count_down();
    return ch.recv(ctx).status;
  });
  started.wait();
  cancel();
  ASSERT_EQ(receiver.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(receiver.get(), ChanStatus::kCanceled);
}

TEST(ChannelTest, RecvHonoursTheContextDeadline) {
  Channel<int> ch(1);
  FakeClock fake;
  auto [ctx, cancel] = WithTimeout(Context::Background(), 20ms, fake.clock());
  auto receiver = std::async(std::launch::async, [&, ctx = ctx] {
    SetCurrentThreadName("rl-test-recv");
    return ch.recv(ctx).status;
  });
  ASSERT_TRUE(AwaitCallbacks(ctx, 1));  // waiting for a value
  fake.advance(19ms);
  EXPECT_NE(receiver.wait_for(0s), std::future_status::ready);
  fake.advance(1ms);
  ASSERT_EQ(receiver.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(receiver.get(), ChanStatus::kDeadlineExceeded);
}

TEST(ChannelTest, SendOnFullChannelGivesUpWhenCanceledKeepingTheValue) {
  Channel<std::unique_ptr<int>> ch(1);
  ASSERT_EQ(ch.send(std::make_unique<int>(1)), ChanStatus::kOk);
  auto [ctx, cancel] = WithCancel(Context::Background());
  std::latch started(1);
  auto sender = std::async(std::launch::async, [&, ctx = ctx] {
    auto value = std::make_unique<int>(2);
    started.count_down();
    ChanStatus s = ch.send(std::move(value), ctx);
    return std::make_pair(s, value != nullptr);
  });
  started.wait();
  cancel();
  ASSERT_EQ(sender.wait_for(kPatience), std::future_status::ready);
  const auto [status, kept] = sender.get();
  EXPECT_EQ(status, ChanStatus::kCanceled);
  EXPECT_TRUE(kept);
  EXPECT_EQ(ch.len(), 1u);
}

TEST(ChannelTest, DoneContextGivesUpAtOnceEvenWhenReady) {
  Channel<int> ch(2);
  ASSERT_EQ(ch.send(1), ChanStatus::kOk);
  auto [ctx, cancel] = WithCancel(Context::Background());
  cancel();
  EXPECT_EQ(ch.recv(ctx).status, ChanStatus::kCanceled);
  EXPECT_EQ(ch.send(2, ctx), ChanStatus::kCanceled);
  EXPECT_EQ(ch.len(), 1u);
}

TEST(ChannelTest, ContextWaitSucceedsWhenAValueArrivesInTime) {
  Channel<int> ch(0);
  auto [ctx, cancel] = WithTimeout(Context::Background(), kPatience);
  auto receiver = std::async(std::launch::async, [&, ctx = ctx] { return ch.recv(ctx); });
  ASSERT_EQ(ch.send(11, ctx), ChanStatus::kOk);
  ASSERT_EQ(receiver.wait_for(kPatience), std::future_status::ready);
  RecvResult<int> r = receiver.get();
  EXPECT_EQ(r.status, ChanStatus::kOk);
  EXPECT_EQ(*r.value, 11);
  EXPECT_EQ(ctx.registered_callbacks(), 0u) << "waits unregister their wake-up";
}

TEST(ChannelTest, CopyableValuesCanBeSentByConstReference) {
  Channel<std::string> ch(1);
  const std::string hello = "hello";
  ASSERT_EQ(ch.send(hello), ChanStatus::kOk);
  EXPECT_EQ(ch.try_send(hello), ChanStatus::kFull);
  EXPECT_EQ(*ch.recv().value, "hello");
  EXPECT_EQ(hello, "hello");
}

// Stress: producers and consumers on each kind of channel; every value is
// received exactly once; consumers end on kClosed after the drain.
TEST(ChannelTest, StressManyProducersAndConsumersLoseNothing) {
  constexpr int kProducers = 4;
  constexpr int kConsumers = 4;
  constexpr int kPerProducer = 1000;
  for (std::size_t cap : {0u, 1u, 16u}) {
    Channel<int> ch(cap);
    std::vector<std::atomic<int>> seen(kProducers * kPerProducer);
    std::latch go(kProducers + kConsumers);
    std::vector<std::thread> producers, consumers;
    for (int p = 0; p < kProducers; ++p) {
      producers.emplace_back([&, p] {
        SetCurrentThreadName("rl-test-p" + std::to_string(p));
        go.arrive_and_wait();
        for (int i = 0; i < kPerProducer; ++i) {
          const int v = p * kPerProducer + i;
          if (i % 2 == 0) {
            ASSERT_EQ(ch.send(v), ChanStatus::kOk);
          } else {
            while (ch.try_send(v) == ChanStatus::kFull) std::this_thread::yield();
          }
        }
      });
    }
    for (int c = 0; c < kConsumers; ++c) {
      consumers.emplace_back([&, c] {
        SetCurrentThreadName("rl-test-c" + std::to_string(c));
        go.arrive_and_wait();
        for (;;) {
          RecvResult<int> r = c % 2 == 0 ? ch.recv() : ch.try_recv();
          if (r.status == ChanStatus::kClosed) return;
          if (r.status == ChanStatus::kEmpty) {
            std::this_thread::yield();
            continue;
          }
          ASSERT_TRUE(r.ok());
          seen[*r.value].fetch_add(1);
        }
      });
    }
    for (auto& t : producers) t.join();
    ch.close();
    for (auto& t : consumers) t.join();
    for (std::size_t v = 0; v < seen.size(); ++v) {
      ASSERT_EQ(seen[v].load(), 1) << "value " << v << " cap " << cap;
    }
  }
}

// Stress: senders and receivers whose contexts are canceled mid-flight.
// Every value a send reported kOk was received exactly once; every other
// value stayed with its sender.
TEST(ChannelTest, StressCancelledWaitersNeverLoseOrDuplicateValues) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 400;
  for (std::size_t cap : {0u, 2u}) {
    Channel<int> ch(cap);
    std::vector<std::atomic<int>> sent(kThreads * kPerThread);
    std::vector<std::atomic<int>> received(kThreads * kPerThread);
    std::atomic<int> producers_left{kThreads};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        SetCurrentThreadName("rl-test-s" + std::to_string(t));
        for (int i = 0; i < kPerThread; ++i) {
          auto [ctx, cancel] = WithCancel(Context::Background());
          std::thread canceller;
          if (i % 4 == 0) {
            canceller = std::thread([cancel = cancel] {
              SetCurrentThreadName("rl-test-cancel");
              cancel();
            });
          }
          const int v = t * kPerThread + i;
          if (ch.send(v, ctx) == ChanStatus::kOk) sent[v].fetch_add(1);
          if (canceller.joinable()) canceller.join();
        }
        if (producers_left.fetch_sub(1) == 1) ch.close();
      });
      threads.emplace_back([&, t] {
        SetCurrentThreadName("rl-test-r" + std::to_string(t));
        for (int i = 0;; ++i) {
          auto [ctx, cancel] = WithTimeout(Context::Background(), (i % 5 == 0) ? 0ms : kPatience);
          RecvResult<int> r = ch.recv(ctx);
          if (r.status == ChanStatus::kClosed) return;
          if (r.ok()) received[*r.value].fetch_add(1);
        }
      });
    }
    for (auto& th : threads) th.join();
    int ok = 0;
    for (std::size_t v = 0; v < sent.size(); ++v) {
      ASSERT_EQ(received[v].load(), sent[v].load()) << "value " << v << " cap " << cap;
      ok += sent[v].load();
    }
    EXPECT_GT(ok, 0);
  }
}

}  // namespace
}  // namespace racelab
