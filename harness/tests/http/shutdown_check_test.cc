#include "racelab/http/shutdown_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <latch>
#include <memory>
#include <string>
#include <thread>

#include "racelab/base/thread_name.h"

namespace racelab::http {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// What Report wrote, on `out` and on `log`.
struct Printed {
  int findings = 0;
  std::string out;
  std::string log;
};

Printed RunReport(const ShutdownCheck& check) {
  char* out_buf = nullptr;
  char* log_buf = nullptr;
  std::size_t out_len = 0;
  std::size_t log_len = 0;
  std::FILE* out = open_memstream(&out_buf, &out_len);
  std::FILE* log = open_memstream(&log_buf, &log_len);
  Printed printed;
  printed.findings = check.Report(out, log);
  std::fclose(out);
  std::fclose(log);
  printed.out.assign(out_buf, out_len);
  printed.log.assign(log_buf, log_len);
  std::free(out_buf);
  std::free(log_buf);
  return printed;
}

leak::CheckOptions Quick() {
  leak::CheckOptions options;
  options.deadline = milliseconds(200);
  return options;
}

TEST(ShutdownCheckTest, FindingsJsonIsTheProtocolsShape) {
  leak::ThreadRecord thread{.tid = 1234,
                            .name = "rl-fetch-3",
                            .state = 'S',
                            .wchan = "futex_wait_queue",
                            .start_time = 99};
  LostWork work;
  work.work.push_back({"report", 40, 31, 30, milliseconds(100), milliseconds(412)});
  work.work.push_back({"clean", 40, 1, 0, milliseconds(100), milliseconds(3)});
  work.jobs.push_back({"webhook", 10, 8});
  work.jobs.push_back({"all-run", 10, 10});
  EXPECT_THAT(
      FindingsJson({thread}, work),
      ElementsAre(
          R"({"kind":"leaked-thread","tid":1234,"name":"rl-fetch-3","state":"S","wchan":"futex_wait_queue"})",
          R"({"kind":"lost-cancellation","what":"report","count":30,"max_after_cancel_ms":412})",
          R"({"kind":"lost-job","what":"webhook","count":2})"));
}

TEST(ShutdownCheckTest, ReportsAThreadLeftBehindAndTheLostWork) {
  const ShutdownCheck check(Quick());
  std::latch release(1);
  std::thread left([&release] {
    SetCurrentThreadName("rl-left");
    release.wait();
  });
  RequestWork work("test-report");
  JobLedger jobs("test-jobs");
  auto cancellation = std::make_shared<RequestCancellation>();
  const RequestContext context = RequestContext::WithCancellation(1, cancellation);
  cancellation->Cancel();
  work.RecordAt(context, *context.cancelled_at() + milliseconds(250));
  jobs.Accepted(3);
  jobs.Ran(1);

  const Printed printed = RunReport(check);
  release.count_down();
  left.join();
  EXPECT_EQ(printed.findings, 3);
  EXPECT_THAT(printed.out,
              MatchesRegex("racelab: finding \\{\"kind\":\"leaked-thread\",\"tid\":[0-9]+,"
                           "\"name\":\"rl-left\",\"state\":\"S\",\"wchan\":\"[a-z_]+\"\\}\n"
                           "racelab: finding \\{\"kind\":\"lost-cancellation\","
                           "\"what\":\"test-report\",\"count\":1,\"max_after_cancel_ms\":250\\}\n"
                           "racelab: finding \\{\"kind\":\"lost-job\",\"what\":\"test-jobs\","
                           "\"count\":2\\}\n"));
  EXPECT_THAT(printed.log, HasSubstr("racelab: leak check: 1 thread(s) left behind\n"));
  EXPECT_THAT(printed.log, HasSubstr("racelab:   rl-left (tid "));
  EXPECT_THAT(printed.log, HasSubstr("racelab: jobs 'test-jobs': 3 accepted, 1 run, 2 lost\n"));
}

TEST(ShutdownCheckTest, ACleanServerPrintsNoFinding) {
  const ShutdownCheck check(Quick());
  std::thread([] { SetCurrentThreadName("rl-joined"); }).join();
  RequestWork work("clean-report");
  JobLedger jobs("clean-jobs");
  jobs.Accepted(2);
  jobs.Ran(2);
  const Printed printed = RunReport(check);
  EXPECT_EQ(printed.findings, 0);
  EXPECT_EQ(printed.out, "");
  EXPECT_THAT(printed.log, HasSubstr("racelab: leak check: 0 thread(s) left behind\n"));
  EXPECT_THAT(printed.log, HasSubstr("racelab: jobs 'clean-jobs': 2 accepted, 2 run, 0 lost\n"));
}

TEST(ShutdownCheckTest, NothingIsCheckedAfterAFailedRun) {
  const ShutdownCheck check(Quick());
  EXPECT_EQ(check.Finish(2), 2);
}

}  // namespace
}  // namespace racelab::http
