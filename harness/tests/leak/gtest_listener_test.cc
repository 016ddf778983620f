#include "racelab/leak/gtest_listener.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace racelab::leak {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct ProbeRun {
  int exit_status = -1;
  std::string output;
};

// Runs leak_listener_probe.cc's program and reads what it printed.
ProbeRun RunProbe() {
  ProbeRun run;
  const std::string command = std::string(RACELAB_LEAK_PROBE) + " --gtest_color=no 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) run.output.append(buf, n);
  const int status = pclose(pipe);
  if (WIFEXITED(status)) run.exit_status = WEXITSTATUS(status);
  return run;
}

// The proof that the listener gates: a test that leaks a thread fails, with
// the thread's name in its failure; the tests that join their thread, or
// let it finish, pass; and the program's exit status says it failed.
TEST(ThreadLeakListenerTest, FailsTheTestThatLeaksAThreadAndNamesIt) {
  const ProbeRun run = RunProbe();
  EXPECT_EQ(run.exit_status, 1) << run.output;
  EXPECT_THAT(run.output, HasSubstr("[  FAILED  ] LeakProbe.LeavesAThreadBehind"));
  EXPECT_THAT(run.output, HasSubstr("leak check: the test left 1 thread behind:"));
  EXPECT_THAT(run.output, HasSubstr("  rl-leaky (tid "));
  EXPECT_THAT(run.output, HasSubstr("[       OK ] LeakProbe.JoinsItsThread"));
  EXPECT_THAT(run.output, HasSubstr("[       OK ] LeakProbe.LetsItsThreadFinishUnjoined"));
  EXPECT_THAT(run.output, HasSubstr("1 FAILED TEST"));
  EXPECT_THAT(run.output, Not(HasSubstr("rl-joined (tid")));
  EXPECT_THAT(run.output, Not(HasSubstr("rl-finishing (tid")));
}

}  // namespace
}  // namespace racelab::leak
