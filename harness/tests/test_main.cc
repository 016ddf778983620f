// main() of racelab's own GoogleTest suites: GoogleTest's, plus the thread
// leak listener, so any test that leaves a thread behind fails and names it.
#include <gtest/gtest.h>

#include "racelab/leak/gtest_listener.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::UnitTest::GetInstance()->listeners().Append(new racelab::leak::ThreadLeakListener());
  return RUN_ALL_TESTS();
}
