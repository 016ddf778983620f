#include "racelab/leak/thread_leak.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <latch>
#include <optional>
#include <thread>

#include "racelab/base/thread_name.h"
#include "test_support.h"

namespace racelab::leak {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

long CurrentTid() { return static_cast<long>(syscall(SYS_gettid)); }

// A named thread that blocks until released; joined by the destructor.
class ParkedThread {
 public:
  explicit ParkedThread(std::string name) {
    thread_ = std::thread([this, name] {
      SetCurrentThreadName(name);
      tid_ = CurrentTid();
      parked_.count_down();
      release_.wait();
    });
    parked_.wait();
  }
  ~ParkedThread() { Join(); }
  void Release() { release_.count_down(); }
  void Join() {
    if (!thread_.joinable()) return;
    Release();
    thread_.join();
  }
  long tid() const { return tid_; }  // after the constructor: the latch orders it

 private:
  std::latch parked_{1};
  std::latch release_{1};
  long tid_ = 0;
  std::thread thread_;
};

CheckOptions Quick() {
  CheckOptions options;
  options.deadline = milliseconds(200);
  return options;
}

TEST(ThreadLeakTest, ReadsTheCallingThreadsNameAndState) {
  const std::string old_name = CurrentThreadName();
  SetCurrentThreadName("rl-reader");
  const std::optional<ThreadRecord> me = ReadThread(CurrentTid());
  SetCurrentThreadName(old_name);
  ASSERT_TRUE(me.has_value());
  EXPECT_EQ(me->name, "rl-reader");
  EXPECT_EQ(me->state, 'R');  // it is reading its own /proc entry
  EXPECT_GT(me->start_time, 0u);
}

TEST(ThreadLeakTest, ReadsABlockedThreadAsSleepingInTheKernel) {
  ParkedThread parked("rl-parked");
  // Parked means past count_down: on its way into the futex, or in it.
  ASSERT_TRUE(testing::Eventually([&] {
    const std::optional<ThreadRecord> t = ReadThread(parked.tid());
    return t && t->state == 'S' && !t->wchan.empty();
  }));
  const ThreadRecord t = *ReadThread(parked.tid());
  EXPECT_EQ(t.name, "rl-parked");
  EXPECT_THAT(t.Describe(),
              HasSubstr("rl-parked (tid " + std::to_string(t.tid) + ", state S, waiting in "));
}

TEST(ThreadLeakTest, ReadingAThreadThatIsGoneGivesNothing) {
  long tid = 0;
  std::thread([&tid] {
    SetCurrentThreadName("rl-short-lived");
    tid = CurrentTid();
  }).join();
  EXPECT_TRUE(testing::Eventually([&] { return !ReadThread(tid).has_value(); }));
}

TEST(ThreadLeakTest, SnapshotHoldsTheCallingThread) {
  const Snapshot now = Snapshot::Take();
  const std::optional<ThreadRecord> me = ReadThread(CurrentTid());
  ASSERT_TRUE(me.has_value());
  EXPECT_TRUE(now.Contains(*me));
}

TEST(ThreadLeakTest, FindsTheThreadStartedAfterTheSnapshotByName) {
  const Snapshot before = Snapshot::Take();
  ParkedThread leaked("rl-leaked");
  const std::vector<ThreadRecord> found = FindLeakedThreads(before, Quick());
  EXPECT_THAT(found, ElementsAre(Field(&ThreadRecord::name, "rl-leaked")));
  leaked.Join();
  EXPECT_THAT(FindLeakedThreads(before, Quick()), IsEmpty());
}

TEST(ThreadLeakTest, ThreadsAliveBeforeTheSnapshotAreNotLeaks) {
  ParkedThread older("rl-older");
  const Snapshot before = Snapshot::Take();
  EXPECT_THAT(FindLeakedThreads(before, Quick()), IsEmpty());
}

// A thread released but not joined is on its way out: the check waits for
// it to go rather than report it.
TEST(ThreadLeakTest, WaitsForAThreadOnItsWayOut) {
  const Snapshot before = Snapshot::Take();
  auto finishing = std::make_unique<ParkedThread>("rl-finishing");
  {
    CheckOptions patient;
    patient.deadline = milliseconds(testing::kPatience);
    finishing->Release();
    EXPECT_THAT(FindLeakedThreads(before, patient), IsEmpty());
  }
  finishing->Join();
}

TEST(ThreadLeakTest, GivesUpAtTheDeadlineAndReportsWhatIsLeft) {
  const Snapshot before = Snapshot::Take();
  ParkedThread stuck("rl-stuck");
  CheckOptions options;
  options.deadline = milliseconds(50);
  const auto start = std::chrono::steady_clock::now();
  const std::vector<ThreadRecord> found = FindLeakedThreads(before, options);
  EXPECT_LT(std::chrono::steady_clock::now() - start, testing::kPatience);
  EXPECT_THAT(found, ElementsAre(Field(&ThreadRecord::name, "rl-stuck")));
}

TEST(ThreadLeakTest, IgnoresThreadsByExactNameOrPrefix) {
  const Snapshot before = Snapshot::Take();
  ParkedThread timer("rl-ctx-timer");
  ParkedThread worker("grpc-worker-1");
  ParkedThread other("rl-other");
  CheckOptions options = Quick();
  options.ignore = {"rl-ctx-timer", "grpc-*"};
  EXPECT_THAT(FindLeakedThreads(before, options),
              ElementsAre(Field(&ThreadRecord::name, "rl-other")));
}

TEST(ThreadLeakTest, PatternsMatchWholeNamesOrPrefixes) {
  EXPECT_TRUE(MatchesAny("rl-io-0", {"rl-io-*"}));
  EXPECT_TRUE(MatchesAny("rl-io-", {"rl-io-*"}));
  EXPECT_TRUE(MatchesAny("anything", {"*"}));
  EXPECT_TRUE(MatchesAny("rl-main", {"x", "rl-main"}));
  EXPECT_FALSE(MatchesAny("rl-main2", {"rl-main"}));
  EXPECT_FALSE(MatchesAny("rl-io", {"rl-io-*"}));
  EXPECT_FALSE(MatchesAny("rl-io-0", {}));
}

TEST(ThreadLeakTest, AReusedTidIsAnotherThread) {
  ThreadRecord old_one{.tid = 7, .name = "a", .state = 'S', .wchan = "", .start_time = 100};
  ThreadRecord new_one = old_one;
  new_one.start_time = 200;
  EXPECT_TRUE(old_one.SameThread(old_one));
  EXPECT_FALSE(old_one.SameThread(new_one));
}

TEST(ThreadLeakTest, DescribesAThreadWithoutWaitChannel) {
  ThreadRecord t{.tid = 42, .name = "", .state = 'R', .wchan = "", .start_time = 1};
  EXPECT_EQ(t.Describe(), "(unnamed) (tid 42, state R)");
  t.name = "rl-fetch-3";
  t.state = 'S';
  t.wchan = "futex_wait_queue";
  EXPECT_EQ(t.Describe(), "rl-fetch-3 (tid 42, state S, waiting in futex_wait_queue)");
}

}  // namespace
}  // namespace racelab::leak
