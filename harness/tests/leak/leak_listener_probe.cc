// A GoogleTest program with the thread leak listener and one test that
// leaks a thread on purpose: gtest_listener_test.cc runs it and checks that
// exactly that test fails, naming the thread. Not a test of its own.
#include <gtest/gtest.h>

#include <latch>
#include <thread>

#include "racelab/base/thread_name.h"
#include "racelab/leak/gtest_listener.h"

namespace {

std::latch release_leaked{1};  // opened by main once every test ran
std::thread leaked;
std::latch release_finishing{1};

TEST(LeakProbe, LeavesAThreadBehind) {
  leaked = std::thread([] {
    racelab::SetCurrentThreadName("rl-leaky");
    release_leaked.wait();
  });
}

TEST(LeakProbe, JoinsItsThread) {
  std::thread joined([] { racelab::SetCurrentThreadName("rl-joined"); });
  joined.join();
}

// The thread is told to stop and not joined: it is on its way out when the
// check looks, which waits for it.
TEST(LeakProbe, LetsItsThreadFinishUnjoined) {
  std::thread finishing([] {
    racelab::SetCurrentThreadName("rl-finishing");
    release_finishing.wait();
  });
  release_finishing.count_down();
  finishing.detach();
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  racelab::leak::CheckOptions options;
  options.deadline = std::chrono::milliseconds(500);  // the leak never ends: fail fast
  ::testing::UnitTest::GetInstance()->listeners().Append(
      new racelab::leak::ThreadLeakListener(options));
  const int status = RUN_ALL_TESTS();
  release_leaked.count_down();
  if (leaked.joinable()) leaked.join();
  return status;
}
