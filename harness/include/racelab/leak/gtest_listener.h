// ThreadLeakListener: a GoogleTest event listener that fails every test
// which leaves a thread behind, and names the thread.
//
// Before each test it takes a Snapshot (thread_leak.h); after the test's
// fixture is destroyed it runs FindLeakedThreads against it, and for each
// thread still alive adds a failure to that test:
//
//   leak check: the test left 1 thread behind:
//     rl-leaky (tid 4242, state S, waiting in futex_wait_queue)
//
// So a thread the test started must be stopped and joined by the end of the
// test (its fixture's destructor at the latest). A thread on its way out is
// waited for (CheckOptions::deadline); threads named by
// CheckOptions::ignore never fail a test.
//
// Install it in main, after InitGoogleTest (racelab's own test suites do, in
// harness/tests/test_main.cc):
//
//   ::testing::InitGoogleTest(&argc, argv);
//   ::testing::UnitTest::GetInstance()->listeners().Append(
//       new racelab::leak::ThreadLeakListener());  // GoogleTest owns it
//   return RUN_ALL_TESTS();
//
// Appended after the default printer, it runs before the printer at the end
// of a test (GoogleTest calls OnTestEnd in reverse order), so the failure is
// part of the test's result: "[  FAILED  ]", the summary and the exit status
// all count it.
//
// Thread-safety: GoogleTest calls listeners on the main thread, one test at
// a time; nothing else may call them.
//
// Memory ordering: none of its own (see thread_leak.h: seeing a thread gone
// orders nothing).
#ifndef RACELAB_LEAK_GTEST_LISTENER_H_
#define RACELAB_LEAK_GTEST_LISTENER_H_

#include <gtest/gtest.h>

#include "racelab/leak/thread_leak.h"

namespace racelab::leak {

class ThreadLeakListener : public ::testing::EmptyTestEventListener {
 public:
  explicit ThreadLeakListener(CheckOptions options = {}) : options_(std::move(options)) {}

  // Snapshots the live threads.
  void OnTestStart(const ::testing::TestInfo& test) override;
  // Fails `test` for each thread it left behind (a non-fatal failure).
  void OnTestEnd(const ::testing::TestInfo& test) override;

 private:
  CheckOptions options_;
  Snapshot before_;
};

}  // namespace racelab::leak

#endif  // RACELAB_LEAK_GTEST_LISTENER_H_
