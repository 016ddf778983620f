#include "racelab/http/load_engine.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "racelab/base/thread_name.h"
#include "racelab/sync/mutex.h"
#include "test_support.h"

namespace racelab::http {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A request as the scripted server read it.
struct SeenRequest {
  std::string path;
  long long number = -1;  // its X-N header: the engine's request number
  int connection = 0;     // which accepted connection it came on, from 0
};

// What the scripted server does with one request.
struct Reply {
  enum class After { kKeepOpen, kClose, kReset };
  std::string bytes;          // "" with kReset: reset without a word
  bool byte_by_byte = false;  // one send() per byte, each its own segment
  After after = After::kKeepOpen;
  bool silent = false;  // never answer (the connection stays open)
};

std::string Ok(std::string_view extra_headers = "") {
  return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + std::string(extra_headers) + "\r\nok";
}

// Names of this process's threads that are load drivers.
std::vector<std::string> DriverThreadNames() {
  std::vector<std::string> names;
  for (const ThreadInfo& t : ListThreads()) {
    if (t.name.rfind("rl-load-", 0) == 0) names.push_back(t.name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// A TCP server on one thread, "rl-test-server", that answers each request
// head as a script says: what no real server would do, on purpose. With
// hold_until = N it holds every answer until N requests wait at once, notes
// the names of this process's load drivers at that moment
// (drivers_while_all_held()), then answers them all and the rest as they
// come.
class ScriptedServer {
 public:
  struct Options {
    std::function<Reply(const SeenRequest&)> script;
    int hold_until = 0;
  };

  explicit ScriptedServer(Options options) : options_(std::move(options)) {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof addr;
    if (bind(listener_, reinterpret_cast<sockaddr*>(&addr), size) != 0 ||
        listen(listener_, 1024) != 0 ||
        getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &size) != 0 ||
        pipe(stop_pipe_) != 0) {
      ADD_FAILURE() << "scripted server cannot listen";
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }

  ~ScriptedServer() {
    if (thread_.joinable()) {
      [[maybe_unused]] const ssize_t n = write(stop_pipe_[1], "x", 1);
      thread_.join();
    }
    for (const Client& c : clients_) close(c.fd);
    close(listener_);
    close(stop_pipe_[0]);
    close(stop_pipe_[1]);
  }

  std::uint16_t port() const { return port_; }
  int accepted() const { return accepted_.load(); }
  std::vector<SeenRequest> seen() RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return seen_;
  }
  std::vector<std::string> drivers_while_all_held() RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return drivers_while_all_held_;
  }

 private:
  struct Client {
    int fd;
    int index;
    std::string in;
  };
  struct Held {
    int fd;
    Reply reply;
  };

  void Loop() {
    SetCurrentThreadName("rl-test-server");
    while (true) {
      std::vector<pollfd> fds{{stop_pipe_[0], POLLIN, 0}, {listener_, POLLIN, 0}};
      for (const Client& c : clients_) fds.push_back({c.fd, POLLIN, 0});
      if (poll(fds.data(), fds.size(), -1) < 0) continue;
      if (fds[0].revents != 0) return;
      if (fds[1].revents & POLLIN) {
        const int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) {
          const int one = 1;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          clients_.push_back({fd, accepted_.fetch_add(1), {}});
        }
      }
      std::vector<int> gone;
      for (std::size_t k = 2; k < fds.size(); ++k) {
        if (fds[k].revents != 0 && !Serve(clients_[k - 2])) gone.push_back(fds[k].fd);
      }
      for (int fd : gone) Drop(fd);
    }
  }

  // Reads what `c` sent and answers every whole request head in it; false
  // when the connection is over.
  bool Serve(Client& c) {
    char buf[4096];
    const ssize_t n = recv(c.fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    c.in.append(buf, static_cast<std::size_t>(n));
    for (auto end = c.in.find("\r\n\r\n"); end != std::string::npos; end = c.in.find("\r\n\r\n")) {
      SeenRequest request = Parse(c.in.substr(0, end + 2), c.index);
      c.in.erase(0, end + 4);
      Reply reply = options_.script(request);
      {
        MutexLock lock(mu_);
        seen_.push_back(std::move(request));
      }
      if (reply.silent) continue;
      if (held_.size() < static_cast<std::size_t>(options_.hold_until) && !released_) {
        held_.push_back({c.fd, std::move(reply)});
        if (held_.size() == static_cast<std::size_t>(options_.hold_until)) Release();
        continue;
      }
      if (!Answer(c.fd, reply)) return false;
    }
    return true;
  }

  void Release() RACELAB_EXCLUDES(mu_) {
    released_ = true;
    std::vector<std::string> drivers = DriverThreadNames();
    {
      MutexLock lock(mu_);
      drivers_while_all_held_ = std::move(drivers);
    }
    std::vector<int> gone;
    for (Held& h : held_) {
      if (!Answer(h.fd, h.reply)) gone.push_back(h.fd);
    }
    for (int fd : gone) Drop(fd);
  }

  // Sends `reply` on fd; false when fd is then closed.
  static bool Answer(int fd, const Reply& reply) {
    const std::size_t step = reply.byte_by_byte ? 1 : reply.bytes.size();
    for (std::size_t at = 0; at < reply.bytes.size(); at += step) {
      if (send(fd, reply.bytes.data() + at, std::min(step, reply.bytes.size() - at),
               MSG_NOSIGNAL) <= 0) {
        break;  // the client hung up
      }
    }
    if (reply.after == Reply::After::kReset) {
      const linger reset{1, 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    }
    if (reply.after == Reply::After::kClose) shutdown(fd, SHUT_WR);
    return reply.after == Reply::After::kKeepOpen;
  }

  void Drop(int fd) {
    for (auto it = clients_.begin(); it != clients_.end(); ++it) {
      if (it->fd == fd) {
        close(fd);
        clients_.erase(it);
        return;
      }
    }
  }

  static SeenRequest Parse(std::string_view head, int connection) {
    SeenRequest r;
    r.connection = connection;
    const auto first_space = head.find(' ');
    r.path = std::string(
        head.substr(first_space + 1, head.find(' ', first_space + 1) - first_space - 1));
    const auto n = head.find("\r\nX-N: ");
    if (n != std::string_view::npos) r.number = std::stoll(std::string(head.substr(n + 7)));
    return r;
  }

  const Options options_;
  int listener_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  // Only the server's thread touches these.
  std::vector<Client> clients_;
  std::vector<Held> held_;
  bool released_ = false;
  Mutex mu_;
  std::vector<SeenRequest> seen_ RACELAB_GUARDED_BY(mu_);
  std::vector<std::string> drivers_while_all_held_ RACELAB_GUARDED_BY(mu_);
  std::thread thread_;
};

LoadPlan PlanFor(const ScriptedServer& server, int connections, long long requests) {
  LoadPlan plan;
  plan.port = server.port();
  plan.connections = connections;
  plan.threads = 2;
  plan.requests = requests;
  plan.paths = {"/a"};
  plan.headers = {{"X-N", "{n}"}};
  plan.timeout = std::chrono::milliseconds(racelab::testing::kPatience);
  return plan;
}

// Every request is counted once: answered, failed or hung up; per path too.
void ExpectEveryRequestCountedOnce(const LoadReport& report, const LoadPlan& plan) {
  const LoadCounts& t = report.total;
  EXPECT_EQ(t.completed + t.transport_errors + t.disconnects, plan.requests);
  LoadCounts summed;
  for (const auto& [path, counts] : report.by_path) {
    long long by_status = 0;
    for (const auto& [status, n] : counts.by_status) by_status += n;
    EXPECT_EQ(by_status, counts.completed) << path;
    summed.Add(counts);
  }
  EXPECT_EQ(summed.completed, t.completed);
  EXPECT_EQ(summed.transport_errors, t.transport_errors);
  EXPECT_EQ(summed.disconnects, t.disconnects);
  EXPECT_EQ(summed.by_status, t.by_status);
  EXPECT_EQ(static_cast<long long>(report.latency_ms.size()), t.completed);
}

TEST(LoadEngineTest, KeepAliveConnectionsCarryEveryRequest) {
  ScriptedServer server({.script = [](const SeenRequest&) { return Reply{Ok()}; }});
  const LoadPlan plan = PlanFor(server, 4, 200);
  const LoadReport report = RunLoad(plan);
  EXPECT_EQ(report.total.completed, 200);
  EXPECT_EQ((std::map<int, long long>{{200, 200}}), report.total.by_status);
  EXPECT_EQ(report.first_error, "");
  EXPECT_LE(server.accepted(), 4) << "a new connection per request: keep-alive is not used";
  ExpectEveryRequestCountedOnce(report, plan);
}

TEST(LoadEngineTest, ChunkedAnswersKeepTheConnection) {
  ScriptedServer server({.script = [](const SeenRequest&) {
    return Reply{
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: t\r\n\r\n"};
  }});
  const LoadPlan plan = PlanFor(server, 3, 120);
  const LoadReport report = RunLoad(plan);
  EXPECT_EQ(report.total.completed, 120) << report.first_error;
  EXPECT_EQ(report.total.transport_errors, 0);
  EXPECT_LE(server.accepted(), 3);
  ExpectEveryRequestCountedOnce(report, plan);
}

TEST(LoadEngineTest, ConnectionCloseAfterEachAnswerReconnectsWithoutAnError) {
  ScriptedServer server({.script = [](const SeenRequest& r) {
    // Both ways a server says it: the header, or a body that runs to the close.
    return r.number % 2 == 0
               ? Reply{Ok("Connection: close\r\n"), false, Reply::After::kClose}
               : Reply{"HTTP/1.1 200 OK\r\n\r\nuntil the close", false, Reply::After::kClose};
  }});
  const LoadPlan plan = PlanFor(server, 4, 60);
  const LoadReport report = RunLoad(plan);
  EXPECT_EQ(report.total.completed, 60) << report.first_error;
  EXPECT_EQ(report.total.transport_errors, 0);
  EXPECT_EQ(server.accepted(), 60) << "one connection per answer";
  ExpectEveryRequestCountedOnce(report, plan);
}

TEST(LoadEngineTest, AnswersSentOneByteAtATimeAreParsedWhole) {
  ScriptedServer server({.script = [](const SeenRequest& r) {
    if (r.number % 2 == 0) return Reply{Ok("X-Padding: 0123456789\r\n"), true};
    return Reply{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n",
                 true};
  }});
  const LoadPlan plan = PlanFor(server, 2, 40);
  const LoadReport report = RunLoad(plan);
  EXPECT_EQ(report.total.completed, 40) << report.first_error;
  EXPECT_LE(server.accepted(), 2);
  ExpectEveryRequestCountedOnce(report, plan);
}

TEST(LoadEngineTest, GarbageAnswersAreTransportErrorsAndTheConnectionIsReopened) {
  ScriptedServer server({.script = [](const SeenRequest& r) {
    return r.number % 3 == 0 ? Reply{"\x16\x03\x01 not http at all\r\n\r\n"} : Reply{Ok()};
  }});
  const LoadPlan plan = PlanFor(server, 2, 30);
  const LoadReport report = RunLoad(plan);
  EXPECT_EQ(report.total.transport_errors, 10);
  EXPECT_EQ(report.total.completed, 20);
  EXPECT_THAT(report.first_error, StartsWith("read: bad status line"));
  EXPECT_GE(server.accepted(), 10) << "each garbage answer costs its connection";
  ExpectEveryRequestCountedOnce(report, plan);
}

TEST(LoadEngineTest, ResetConnectionsAreTransportErrorsAndTheConnectionIsReopened) {
  ScriptedServer server({.script = [](const SeenRequest& r) {
    return r.number % 4 == 0 ? Reply{"", false, Reply::After::kReset} : Reply{Ok()};
  }});
  const LoadPlan plan = PlanFor(server, 2, 40);
  const LoadReport report = RunLoad(plan);
  EXPECT_EQ(report.total.transport_errors, 10);
  EXPECT_EQ(report.total.completed, 30);
  EXPECT_THAT(report.first_error, StartsWith("read: "));
  ExpectEveryRequestCountedOnce(report, plan);
}

TEST(LoadEngineTest, ServerThatNeverAnswersCostsEachRequestItsDeadline) {
  ScriptedServer server({.script = [](const SeenRequest&) { return Reply{.silent = true}; }});
  LoadPlan plan = PlanFor(server, 3, 6);
  plan.timeout = std::chrono::milliseconds(100);
  const auto start = std::chrono::steady_clock::now();
  const LoadReport report = RunLoad(plan);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(report.total.transport_errors, 6);
  EXPECT_EQ(report.first_error, "read: timed out after 100 ms");
  EXPECT_GE(took, std::chrono::milliseconds(200)) << "two requests in turn per connection";
  EXPECT_LT(took, racelab::testing::kPatience);
  ExpectEveryRequestCountedOnce(report, plan);
}

TEST(LoadEngineTest, RefusedConnectionsAreTransportErrorsNamingTheTarget) {
  std::uint16_t closed_port = 0;
  {
    ScriptedServer gone({.script = [](const SeenRequest&) { return Reply{Ok()}; }});
    closed_port = gone.port();
  }
  LoadPlan plan;
  plan.port = closed_port;
  plan.connections = 2;
  plan.requests = 5;
  const LoadReport report = RunLoad(plan);
  EXPECT_EQ(report.total.transport_errors, 5);
  EXPECT_EQ(report.first_error,
            "connect 127.0.0.1:" + std::to_string(closed_port) + ": Connection refused");
}

TEST(LoadEngineTest, HangUpsAreSentWholeAndCountedAsDisconnects) {
  ScriptedServer server({.script = [](const SeenRequest&) { return Reply{Ok()}; }});
  LoadPlan plan = PlanFor(server, 3, 50);
  plan.disconnects = 5;
  const LoadReport report = RunLoad(plan);
  EXPECT_EQ(report.total.disconnects, 5);
  EXPECT_EQ(report.total.completed, 45) << report.first_error;
  EXPECT_EQ(report.total.transport_errors, 0);
  for (long long i = 0; i < plan.requests; ++i) {
    EXPECT_EQ(IsHangUp(i, plan), (i + 1) % 10 == 0) << i;
  }
  ExpectEveryRequestCountedOnce(report, plan);
}

TEST(LoadEngineTest, RequestIGoesToPathIModuloPathsAndPerPathCountsAddUp) {
  ScriptedServer server({.script = [](const SeenRequest& r) {
    if (r.path == "/b") return Reply{"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"};
    if (r.path == "/c" && r.number % 5 == 2) return Reply{"HTTP/1.1 oops\r\n\r\n"};
    return Reply{Ok()};
  }});
  LoadPlan plan = PlanFor(server, 4, 90);
  plan.paths = {"/a", "/b", "/c"};
  plan.disconnects = 9;
  const LoadReport report = RunLoad(plan);
  ExpectEveryRequestCountedOnce(report, plan);
  ASSERT_EQ(report.by_path.size(), 3u);
  for (const auto& [path, counts] : report.by_path) {
    EXPECT_EQ(counts.completed + counts.transport_errors + counts.disconnects, 30) << path;
  }
  EXPECT_EQ((std::map<int, long long>{{404, report.by_path.at("/b").completed}}),
            report.by_path.at("/b").by_status);
  EXPECT_GT(report.by_path.at("/c").transport_errors, 0);
  for (const SeenRequest& r : server.seen()) {
    ASSERT_GE(r.number, 0);
    EXPECT_EQ(r.path, plan.paths[static_cast<std::size_t>(r.number % 3)]) << r.number;
  }
}

TEST(LoadEngineTest, OneThreadDrivesSixtyFourConnectionsAtOnce) {
  ScriptedServer server(
      {.script = [](const SeenRequest&) { return Reply{Ok()}; }, .hold_until = 64});
  LoadPlan plan = PlanFor(server, 64, 640);
  plan.threads = 1;
  const LoadReport report = RunLoad(plan);
  EXPECT_EQ(report.total.completed, 640) << report.first_error;
  EXPECT_EQ(report.threads, 1);
  EXPECT_EQ(server.accepted(), 64);
  // 64 requests were in flight together, on 64 connections, with one driver.
  EXPECT_EQ(server.drivers_while_all_held(), std::vector<std::string>{"rl-load-0"});
  ExpectEveryRequestCountedOnce(report, plan);
}

TEST(LoadEngineTest, DriversAreNamedAndNeverMoreThanTheConnections) {
  ScriptedServer server(
      {.script = [](const SeenRequest&) { return Reply{Ok()}; }, .hold_until = 3});
  LoadPlan plan = PlanFor(server, 3, 30);
  plan.threads = 8;
  const LoadReport report = RunLoad(plan);
  EXPECT_EQ(report.threads, 3);
  EXPECT_EQ(server.drivers_while_all_held(),
            (std::vector<std::string>{"rl-load-0", "rl-load-1", "rl-load-2"}));
  EXPECT_EQ(report.total.completed, 30) << report.first_error;
  EXPECT_EQ(DefaultDriverThreads(1), 1);
  EXPECT_GE(DefaultDriverThreads(1024), 1);
}

TEST(LoadEngineTest, NoRequestsMeansNoConnection) {
  ScriptedServer server({.script = [](const SeenRequest&) { return Reply{Ok()}; }});
  const LoadReport report = RunLoad(PlanFor(server, 4, 0));
  EXPECT_EQ(report.total.completed + report.total.transport_errors, 0);
  EXPECT_EQ(server.accepted(), 0);
  EXPECT_EQ(report.by_path.count("/a"), 1u) << "every path is reported, even unsent";
}

}  // namespace
}  // namespace racelab::http
