#include "racelab/http/internal/hangup_watcher.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <memory>

#include "test_support.h"

namespace racelab::http {
namespace {

using racelab::testing::kPatience;

// Two connected stream sockets: the server's end and the client's.
class SocketPair {
 public:
  SocketPair() {
    int fds[2];
    ok_ = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0;
    server_ = fds[0];
    client_ = fds[1];
  }
  ~SocketPair() {
    CloseClient();
    close(server_);
  }
  bool ok() const { return ok_; }
  int server() const { return server_; }
  int client() const { return client_; }
  void CloseClient() {
    if (client_ >= 0) close(client_);
    client_ = -1;
  }

 private:
  bool ok_ = false;
  int server_ = -1;
  int client_ = -1;
};

// A callback that says it ran, once.
struct Called {
  std::shared_ptr<std::promise<void>> promise = std::make_shared<std::promise<void>>();
  std::shared_future<void> ran = promise->get_future().share();
  std::shared_ptr<std::atomic<int>> count = std::make_shared<std::atomic<int>>(0);

  std::function<void()> Callback() const {
    return [promise = promise, count = count] {
      if (count->fetch_add(1) == 0) promise->set_value();
    };
  }
  bool Ran() const { return ran.wait_for(kPatience) == std::future_status::ready; }
};

// After `sentinel`'s hang-up was delivered, the watcher has already looked
// at every socket that was ready before it: so what did not run by then
// was never due.
void HangUpSentinel(HangupWatcher& watcher) {
  SocketPair sentinel;
  ASSERT_TRUE(sentinel.ok());
  Called called;
  HangupWatcher::Watch watch = watcher.Add(sentinel.server(), called.Callback());
  sentinel.CloseClient();
  ASSERT_TRUE(called.Ran());
}

TEST(HangupWatcherTest, CallsBackWhenThePeerCloses) {
  HangupWatcher watcher;
  SocketPair pair;
  ASSERT_TRUE(pair.ok());
  Called called;
  HangupWatcher::Watch watch = watcher.Add(pair.server(), called.Callback());
  pair.CloseClient();
  EXPECT_TRUE(called.Ran());
  EXPECT_FALSE(watch.Stop()) << "the hang-up was seen, so Stop() prevented nothing";
}

TEST(HangupWatcherTest, APeerThatStopsSendingCounts) {
  HangupWatcher watcher;
  SocketPair pair;
  Called called;
  HangupWatcher::Watch watch = watcher.Add(pair.server(), called.Callback());
  shutdown(pair.client(), SHUT_WR);
  EXPECT_TRUE(called.Ran());
}

TEST(HangupWatcherTest, APeerGoneBeforeTheWatchIsSeenAtOnce) {
  HangupWatcher watcher;
  SocketPair pair;
  pair.CloseClient();
  Called called;
  HangupWatcher::Watch watch = watcher.Add(pair.server(), called.Callback());
  EXPECT_TRUE(called.Ran());
}

TEST(HangupWatcherTest, DataFromThePeerIsNotAHangup) {
  HangupWatcher watcher;
  SocketPair pair;
  Called called;
  HangupWatcher::Watch watch = watcher.Add(pair.server(), called.Callback());
  ASSERT_EQ(write(pair.client(), "GET / HTTP/1.1\r\n\r\n", 18), 18);
  HangUpSentinel(watcher);
  EXPECT_EQ(called.count->load(), 0);
  EXPECT_TRUE(watch.Stop()) << "still watched: the callback can no longer run";
}

TEST(HangupWatcherTest, AStoppedWatchIsNeverCalled) {
  HangupWatcher watcher;
  SocketPair pair;
  Called called;
  HangupWatcher::Watch watch = watcher.Add(pair.server(), called.Callback());
  EXPECT_TRUE(watch.Stop());
  EXPECT_FALSE(watch.Stop()) << "idempotent";
  pair.CloseClient();
  HangUpSentinel(watcher);
  EXPECT_EQ(called.count->load(), 0);
}

TEST(HangupWatcherTest, EachHangupIsDeliveredOnce) {
  HangupWatcher watcher;
  SocketPair pair;
  Called called;
  HangupWatcher::Watch watch = watcher.Add(pair.server(), called.Callback());
  pair.CloseClient();
  ASSERT_TRUE(called.Ran());
  HangUpSentinel(watcher);
  EXPECT_EQ(called.count->load(), 1);
}

TEST(HangupWatcherTest, WatchesManySocketsIndependently) {
  HangupWatcher watcher;
  SocketPair gone;
  SocketPair staying;
  Called gone_called;
  Called staying_called;
  HangupWatcher::Watch a = watcher.Add(gone.server(), gone_called.Callback());
  HangupWatcher::Watch b = watcher.Add(staying.server(), staying_called.Callback());
  gone.CloseClient();
  EXPECT_TRUE(gone_called.Ran());
  HangUpSentinel(watcher);
  EXPECT_EQ(staying_called.count->load(), 0);
}

TEST(HangupWatcherTest, AnFdThatCannotBeWatchedGivesAnEmptyWatch) {
  HangupWatcher watcher;
  Called called;
  HangupWatcher::Watch watch = watcher.Add(-1, called.Callback());
  EXPECT_FALSE(watch.Stop());
  HangUpSentinel(watcher);
  EXPECT_EQ(called.count->load(), 0);
}

TEST(HangupWatcherTest, AMovedWatchKeepsWatching) {
  HangupWatcher watcher;
  SocketPair pair;
  Called called;
  HangupWatcher::Watch moved;
  {
    HangupWatcher::Watch first = watcher.Add(pair.server(), called.Callback());
    moved = std::move(first);
  }  // the moved-from Watch stops nothing
  pair.CloseClient();
  EXPECT_TRUE(called.Ran());
}

}  // namespace
}  // namespace racelab::http
