#include "racelab/http/work_audit.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <thread>
#include <vector>

#include "racelab/base/thread_name.h"

namespace racelab::http {
namespace {

using std::chrono::milliseconds;

struct CancellableRequest {
  std::shared_ptr<RequestCancellation> cancellation = std::make_shared<RequestCancellation>();
  RequestContext context = RequestContext::WithCancellation(1, cancellation);

  std::chrono::steady_clock::time_point CancelledAt() {
    cancellation->Cancel();
    return *context.cancelled_at();
  }
};

const WorkTally* FindWork(const LostWork& all, const std::string& what) {
  auto it = std::find_if(all.work.begin(), all.work.end(),
                         [&](const WorkTally& t) { return t.what == what; });
  return it == all.work.end() ? nullptr : &*it;
}

const JobTally* FindJobs(const LostWork& all, const std::string& what) {
  auto it = std::find_if(all.jobs.begin(), all.jobs.end(),
                         [&](const JobTally& t) { return t.what == what; });
  return it == all.jobs.end() ? nullptr : &*it;
}

TEST(RequestWorkTest, WorkForARequestNotCancelledIsNeverLost) {
  RequestWork work("not-cancelled");
  CancellableRequest request;
  work.Record(request.context);
  work.Record(request.context);
  EXPECT_EQ(work.units(), 2u);
  EXPECT_EQ(work.after_cancel(), 0u);
  EXPECT_EQ(work.lost(), 0u);
}

TEST(RequestWorkTest, WorkFinishingWithinTheGraceIsNotLost) {
  RequestWork work("within-grace", milliseconds(100));
  CancellableRequest request;
  const auto cancelled = request.CancelledAt();
  work.RecordAt(request.context, cancelled + milliseconds(30));
  work.RecordAt(request.context, cancelled + milliseconds(100));
  EXPECT_EQ(work.after_cancel(), 2u);
  EXPECT_EQ(work.lost(), 0u);
  EXPECT_EQ(work.max_after_cancel(), milliseconds(100));
}

TEST(RequestWorkTest, WorkPastTheGraceIsLostAndSaysHowLate) {
  RequestWork work("past-grace", milliseconds(100));
  CancellableRequest request;
  const auto cancelled = request.CancelledAt();
  work.RecordAt(request.context, cancelled + milliseconds(50));
  work.RecordAt(request.context, cancelled + milliseconds(450));
  work.RecordAt(request.context, cancelled + milliseconds(250));
  EXPECT_EQ(work.after_cancel(), 3u);
  EXPECT_EQ(work.lost(), 2u);
  EXPECT_EQ(work.max_after_cancel(), milliseconds(450));
}

TEST(RequestWorkTest, AContextThatCannotSayWhenIsNeverLost) {
  RequestWork work("bare-token");
  std::stop_source source;
  source.request_stop();
  RequestContext context(1, source.get_token());
  ASSERT_TRUE(context.cancelled());
  work.Record(context);
  EXPECT_EQ(work.units(), 1u);
  EXPECT_EQ(work.lost(), 0u);
}

TEST(RequestWorkTest, RecordsFromManyThreadsAllCount) {
  RequestWork work("many-threads", milliseconds(0));
  CancellableRequest request;
  const auto cancelled = request.CancelledAt();
  constexpr int kThreads = 4;
  constexpr int kEach = 1000;
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        SetCurrentThreadName("rl-recorder-" + std::to_string(t));
        for (int i = 1; i <= kEach; ++i) {
          work.RecordAt(request.context, cancelled + milliseconds(i + t));
        }
      });
    }
  }
  EXPECT_EQ(work.units(), kThreads * kEach);
  EXPECT_EQ(work.lost(), kThreads * kEach);
  EXPECT_EQ(work.max_after_cancel(), milliseconds(kEach + kThreads - 1));
}

TEST(JobLedgerTest, JobsAcceptedAndNeverRunAreLost) {
  JobLedger ledger("ledger");
  ledger.Accepted(5);
  ledger.Ran();
  ledger.Ran(2);
  const LostWork all = CollectLostWork();
  const JobTally* tally = FindJobs(all, "ledger");
  ASSERT_NE(tally, nullptr);
  EXPECT_EQ(tally->accepted, 5u);
  EXPECT_EQ(tally->ran, 3u);
  EXPECT_EQ(tally->lost(), 2u);
}

TEST(JobLedgerTest, MoreRunsThanAcceptsIsNoLoss) {
  JobTally tally{"x", 1, 2};  // a job may run before its acceptance is counted
  EXPECT_EQ(tally.lost(), 0u);
}

TEST(CollectLostWorkTest, ListsEveryLiveAuditAndForgetsDestroyedOnes) {
  CancellableRequest request;
  const auto cancelled = request.CancelledAt();
  {
    RequestWork work("collected", milliseconds(100));
    JobLedger jobs("collected-jobs");
    work.RecordAt(request.context, cancelled + milliseconds(1234));
    jobs.Accepted();
    const LostWork all = CollectLostWork();
    const WorkTally* tally = FindWork(all, "collected");
    ASSERT_NE(tally, nullptr);
    EXPECT_EQ(tally->lost, 1u);
    EXPECT_EQ(tally->grace, milliseconds(100));
    EXPECT_EQ(tally->max_after_cancel, milliseconds(1234));
    ASSERT_NE(FindJobs(all, "collected-jobs"), nullptr);
  }
  const LostWork after = CollectLostWork();
  EXPECT_EQ(FindWork(after, "collected"), nullptr);
  EXPECT_EQ(FindJobs(after, "collected-jobs"), nullptr);
}

}  // namespace
}  // namespace racelab::http
