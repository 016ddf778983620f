#include "racelab/base/thread_name.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <thread>

namespace racelab {
namespace {

TEST(ThreadNameTest, NamesTheCallingThread) {
  std::thread t([] {
    SetCurrentThreadName("rl-test-a");
    EXPECT_EQ(CurrentThreadName(), "rl-test-a");
  });
  t.join();
}

TEST(ThreadNameTest, CutsNamesToFifteenBytes) {
  std::thread t([] {
    SetCurrentThreadName("a-very-long-thread-name");
    EXPECT_EQ(CurrentThreadName(), "a-very-long-thr");
  });
  t.join();
}

TEST(ThreadNameTest, ListThreadsSeesALiveNamedThread) {
  std::promise<void> named;
  std::promise<void> release;
  std::thread t([&] {
    SetCurrentThreadName("rl-test-list");
    named.set_value();
    release.get_future().wait();
  });
  named.get_future().wait();
  const auto threads = ListThreads();
  release.set_value();
  t.join();
  EXPECT_TRUE(std::any_of(threads.begin(), threads.end(),
                          [](const ThreadInfo& i) { return i.name == "rl-test-list"; }));
  EXPECT_TRUE(
      std::is_sorted(threads.begin(), threads.end(),
                     [](const ThreadInfo& a, const ThreadInfo& b) { return a.tid < b.tid; }));
}

TEST(ThreadNameTest, CountThreadsReadsProcAndSaysMinusOneForNoProcess) {
  EXPECT_GE(CountThreads(getpid()), 1);
  EXPECT_EQ(CountThreads(-5), -1);
}

}  // namespace
}  // namespace racelab
