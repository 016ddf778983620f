#include "racelab/leak/gtest_listener.h"

#include <string>
#include <vector>

namespace racelab::leak {

void ThreadLeakListener::OnTestStart(const ::testing::TestInfo& /*test*/) {
  before_ = Snapshot::Take();
}

void ThreadLeakListener::OnTestEnd(const ::testing::TestInfo& /*test*/) {
  const std::vector<ThreadRecord> left = FindLeakedThreads(before_, options_);
  if (left.empty()) return;
  std::string message = "leak check: the test left " + std::to_string(left.size()) +
                        (left.size() == 1 ? " thread" : " threads") + " behind:";
  for (const ThreadRecord& t : left) message += "\n  " + t.Describe();
  // Still the current test: GoogleTest records the failure in its result.
  ADD_FAILURE() << message;
}

}  // namespace racelab::leak
