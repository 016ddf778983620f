#include "racelab/http/server.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "racelab/http/client.h"
#include "racelab/http/client_ip.h"
#include "racelab/sync/mutex.h"
#include "test_support.h"

namespace racelab::http {
namespace {

using racelab::testing::kPatience;
using std::chrono::milliseconds;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A plain TCP connection, for sending what no well-behaved client would.
class RawConnection {
 public:
  explicit RawConnection(std::uint16_t port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawConnection() { close(fd_); }

  bool connected() const { return connected_; }
  void Send(const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;  // the server may close early; the reply tells
      off += static_cast<std::size_t>(n);
    }
  }
  // Reads until the server closes the connection or the deadline passes.
  // Returns what was read; closed() says whether the server closed.
  std::string ReadUntilClosed(std::chrono::milliseconds limit = milliseconds(kPatience)) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (true) {
      const auto left =
          std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return out;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return out;
      char buf[4096];
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        return out;
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
  }
  bool closed() const { return closed_; }

 private:
  int fd_;
  bool connected_ = false;
  bool closed_ = false;
};

class ServerTest : public ::testing::Test {
 protected:
  void Start(Router router, ServerOptions options = {}) {
    AddBuiltinRoutes(router);
    server_ = std::make_unique<Server>(std::move(options), std::move(router));
    port_ = server_->Start();
    ASSERT_NE(port_, 0);
  }
  void ExpectServerStillServes() {
    Client client("127.0.0.1", port_);
    ClientResult r = client.Get("/healthz");
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.status, 200);
  }
  static Router HelloRouter() {
    Router router;
    router.Get("/hello",
               [](const Request&, RequestContext&) { return Response::Text(200, "hello\n"); });
    return router;
  }

  std::unique_ptr<Server> server_;
  std::uint16_t port_ = 0;
};

TEST_F(ServerTest, ServesRegisteredRouteOverKeepAlive) {
  Start(HelloRouter());
  Client client("127.0.0.1", port_);
  for (int i = 0; i < 3; ++i) {
    ClientResult r = client.Get("/hello");
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "hello\n");
    EXPECT_TRUE(r.keep_alive);
  }
  EXPECT_EQ(server_->stats().connections, 1u);
}

// A client sends its own X-Forwarded-For; the trusted proxy (127.0.0.1
// here) appends the address it saw as a second line, as HAProxy's
// forwardfor does. Both lines must reach the request, and the key must be
// the address the proxy saw, not the one the client wrote.
TEST_F(ServerTest, SecondForwardedForLineCannotSpoofTheClientKey) {
  const ClientIpResolver clients({.trusted = TrustedProxies::Parse("127.0.0.1").value()});
  Router router;
  router.Get("/whoami", [&](const Request& req, RequestContext&) {
    return Response::Text(200, req.header_list("X-Forwarded-For") + " -> " + clients.Key(req));
  });
  Start(std::move(router));
  RawConnection conn(port_);
  ASSERT_TRUE(conn.connected());
  conn.Send(
      "GET /whoami HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 6.6.6.6\r\n"
      "Connection: close\r\nX-Forwarded-For: 198.51.100.7\r\n\r\n");
  const std::string reply = conn.ReadUntilClosed();
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(reply, ::testing::EndsWith("\r\n\r\n6.6.6.6, 198.51.100.7 -> 198.51.100.7"));
}

// The server reuses one Request per connection: nothing of a request may
// reach the next one on the same connection (headers, query, body).
TEST_F(ServerTest, NothingOfOneRequestLeaksIntoTheNextOnAConnection) {
  Router router;
  router.Handle(Method::kPost, "/echo", [](const Request& req, RequestContext&) {
    std::string seen = "query=" + req.query + " body=" + req.body + " headers=";
    for (const Header& h : req.headers) seen += h.name + ":" + h.value + ";";
    return Response::Text(200, seen);
  });
  Start(std::move(router));
  RawConnection conn(port_);
  ASSERT_TRUE(conn.connected());
  conn.Send(
      "POST /echo?a=1 HTTP/1.1\r\nHost: x\r\nX-One: 1\r\nX-Two: 2\r\nContent-Length: 5\r\n\r\n"
      "hello"
      "POST /echo HTTP/1.1\r\nHost: y\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  const std::string reply = conn.ReadUntilClosed();
  EXPECT_THAT(reply, HasSubstr("query=a=1 body=hello headers=Host:x;X-One:1;X-Two:2;"
                               "Content-Length:5;"));
  EXPECT_THAT(
      reply, ::testing::EndsWith("query= body= headers=Host:y;Content-Length:0;Connection:close;"));
}

// Pipelining: requests sent back to back in one write are answered in
// order, each in full, on the one connection.
TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Router router;
  router.Get("/n", [](const Request& req, RequestContext&) {
    return Response::Text(200, "n=" + std::string(req.query_param("i")) + "\n");
  });
  Start(std::move(router));
  RawConnection conn(port_);
  ASSERT_TRUE(conn.connected());
  std::string batch;
  for (int i = 0; i < 20; ++i)
    batch += "GET /n?i=" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  batch += "GET /n?i=last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  conn.Send(batch);
  const std::string reply = conn.ReadUntilClosed();
  std::size_t at = 0;
  for (int i = 0; i < 20; ++i) {
    const std::string body = "\r\n\r\nn=" + std::to_string(i) + "\n";
    at = reply.find(body, at);
    ASSERT_NE(at, std::string::npos) << "answer " << i << " missing or out of order";
  }
  EXPECT_THAT(reply, ::testing::EndsWith("\r\n\r\nn=last\n"));
  EXPECT_EQ(server_->stats().requests, 21u);
}

// A handler cannot split the response: a CR or LF in a header it returns, a
// field name that is not a token, or a status that is not three digits
// turns the answer into a 500, and the connection and server live on.
TEST_F(ServerTest, InvalidResponseFromAHandlerBecomes500) {
  Router router;
  router.Get("/split", [](const Request&, RequestContext&) {
    Response r = Response::Text(200, "x");
    r.headers.push_back({"X-Note", "a\r\nSet-Cookie: stolen=1"});
    return r;
  });
  router.Get("/name", [](const Request&, RequestContext&) {
    Response r = Response::Text(200, "x");
    r.headers.push_back({"Bad Name", "v"});
    return r;
  });
  router.Get("/status", [](const Request& req, RequestContext&) {
    return Response::Text(std::stoi(std::string(req.query_param("s"))), "x");
  });
  Start(std::move(router));
  Client client("127.0.0.1", port_);
  ClientResult split = client.Get("/split");
  EXPECT_EQ(split.status, 500);
  EXPECT_EQ(split.header("set-cookie"), "");
  EXPECT_THAT(split.body, HasSubstr("CR, LF or NUL in header 'X-Note'"));
  EXPECT_EQ(client.Get("/name").status, 500);
  EXPECT_EQ(client.Get("/status?s=42").status, 500);
  EXPECT_EQ(client.Get("/status?s=1000").status, 500);
  EXPECT_EQ(client.Get("/status?s=418").status, 418);
  ExpectServerStillServes();
}

TEST_F(ServerTest, Http10KeepAliveIsHonouredAndSaidSo) {
  Start(HelloRouter());
  RawConnection conn(port_);
  ASSERT_TRUE(conn.connected());
  conn.Send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /hello HTTP/1.0\r\n\r\n");
  const std::string reply = conn.ReadUntilClosed();
  EXPECT_THAT(reply, StartsWith("HTTP/1.0 200 OK\r\n"));
  EXPECT_THAT(reply, HasSubstr("Connection: keep-alive\r\n"));
  EXPECT_EQ(server_->stats().requests, 2u) << reply;
  EXPECT_TRUE(conn.closed()) << "a plain HTTP/1.0 request closes after its answer";
}

// Connections are spread over the io threads, and a handler that blocks
// its io thread holds up neither the accepting of new connections nor the
// connections of the other io thread.
TEST_F(ServerTest, BlockedHandlerStopsNeitherAcceptNorTheOtherIoThread) {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  Router router;
  router.Get("/block", [&](const Request&, RequestContext&) {
    entered.set_value();
    released.wait_for(kPatience);
    return Response::Text(200, "done\n");
  });
  ServerOptions options;
  options.io_threads = 2;
  Start(std::move(router), options);
  auto blocked =
      std::async(std::launch::async, [this] { return Client("127.0.0.1", port_).Get("/block"); });
  ASSERT_EQ(entered.get_future().wait_for(kPatience), std::future_status::ready);
  // The next connection goes to the other io thread: answered while the
  // first thread is still blocked.
  ExpectServerStillServes();
  release.set_value();
  EXPECT_EQ(blocked.get().status, 200);
}

TEST_F(ServerTest, UnknownPathAnswers404) {
  Start(HelloRouter());
  Client client("127.0.0.1", port_);
  EXPECT_EQ(client.Get("/missing").status, 404);
}

TEST_F(ServerTest, WrongMethodAnswers405WithAllow) {
  Start(HelloRouter());
  Client client("127.0.0.1", port_);
  ClientResult r = client.Send(Method::kPost, "/hello", "x");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "GET, HEAD");
}

TEST_F(ServerTest, HeadAnswersHeadersWithoutBody) {
  Start(HelloRouter());
  Client client("127.0.0.1", port_);
  ClientResult r = client.Send(Method::kHead, "/hello");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.header("content-length"), "6");
}

TEST_F(ServerTest, HeaderBlockOver8KiBAnswers431AndServerLivesOn) {
  Start(HelloRouter());
  RawConnection raw(port_);
  ASSERT_TRUE(raw.connected());
  raw.Send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n");
  const std::string reply = raw.ReadUntilClosed();
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 431"));
  EXPECT_TRUE(raw.closed());
  ExpectServerStillServes();
}

TEST_F(ServerTest, BodyOverLimitAnswers413) {
  ServerOptions options;
  options.body_limit = 1024;
  Start(HelloRouter(), options);
  RawConnection raw(port_);
  raw.Send("POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n" +
           std::string(4096, 'b'));
  const std::string reply = raw.ReadUntilClosed();
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 413"));
  EXPECT_TRUE(raw.closed());
  ExpectServerStillServes();
}

TEST_F(ServerTest, MalformedRequestAnswers400AndClosesConnection) {
  Start(HelloRouter());
  const std::vector<std::string> garbage_inputs = {
      "THIS IS NOT HTTP\r\n\r\n", "GET /hello HTTP/9.9\r\n\r\n",
      "GET /hello HTTP/1.1\r\nBad Header Line\r\n\r\n",
      "POST /hello HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
      std::string("GET /\0 HTTP/1.1\r\n\r\n", 20)};
  for (const std::string& garbage : garbage_inputs) {
    RawConnection raw(port_);
    raw.Send(garbage);
    const std::string reply = raw.ReadUntilClosed();
    EXPECT_THAT(reply, StartsWith("HTTP/1.1 400")) << "for input: " << garbage;
    EXPECT_TRUE(raw.closed());
  }
  EXPECT_EQ(server_->stats().rejected, 5u);
  ExpectServerStillServes();
}

TEST_F(ServerTest, IdleClientIsDisconnectedAfterReadTimeout) {
  ServerOptions options;
  options.read_timeout = milliseconds(100);
  Start(HelloRouter(), options);
  RawConnection idle(port_);
  ASSERT_TRUE(idle.connected());
  EXPECT_EQ(idle.ReadUntilClosed(), "");
  EXPECT_TRUE(idle.closed()) << "server kept an idle connection open";
}

TEST_F(ServerTest, SlowClientIsDisconnectedAfterReadTimeout) {
  ServerOptions options;
  options.read_timeout = milliseconds(100);
  Start(HelloRouter(), options);
  RawConnection slow(port_);
  slow.Send("GET /hello HTTP/1.1\r\nHost: x\r\n");  // never finishes the header block
  slow.ReadUntilClosed();
  EXPECT_TRUE(slow.closed()) << "server waited forever for a slow client";
  ExpectServerStillServes();
}

TEST_F(ServerTest, ThrowingHandlerAnswers500AndServerLivesOn) {
  Router router;
  router.Get("/boom",
             [](const Request&, RequestContext&) -> Response { throw std::runtime_error("boom"); });
  Start(std::move(router));
  Client client("127.0.0.1", port_);
  EXPECT_EQ(client.Get("/boom").status, 500);
  ExpectServerStillServes();
}

// Two handlers meet inside the server: each waits until the other has
// arrived. Only handlers that really run at once can both succeed.
TEST_F(ServerTest, HandlersOnDifferentConnectionsRunConcurrently) {
  Mutex mu;
  CondVar cv;
  int arrived = 0;
  Router router;
  router.Get("/meet", [&](const Request&, RequestContext&) {
    MutexLock lock(mu);
    ++arrived;
    cv.NotifyAll();
    const bool met = cv.WaitFor(lock, kPatience, [&] { return arrived >= 2; });
    return Response::Text(met ? 200 : 503, "");
  });
  Start(std::move(router));
  auto meet = [this] { return Client("127.0.0.1", port_).Get("/meet").status; };
  auto a = std::async(std::launch::async, meet);
  auto b = std::async(std::launch::async, meet);
  EXPECT_EQ(a.get(), 200);
  EXPECT_EQ(b.get(), 200);
}

TEST_F(ServerTest, GracefulShutdownAnswersTheRequestInFlight) {
  std::promise<void> entered;
  std::promise<void> draining;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  Router router;
  router.Get("/slow", [&](const Request&, RequestContext&) {
    entered.set_value();
    released.wait_for(kPatience);
    return Response::Text(200, "finished\n");
  });
  ServerOptions options;
  options.drain_timeout = kPatience;
  AddBuiltinRoutes(router);
  server_ = std::make_unique<Server>(options, std::move(router));
  server_->OnShutdown([&] { draining.set_value(); });
  port_ = server_->Start();

  auto in_flight =
      std::async(std::launch::async, [this] { return Client("127.0.0.1", port_).Get("/slow"); });
  ASSERT_EQ(entered.get_future().wait_for(kPatience), std::future_status::ready);
  auto shutdown = std::async(std::launch::async, [this] { return server_->Shutdown(); });
  ASSERT_EQ(draining.get_future().wait_for(kPatience), std::future_status::ready);
  // Draining has begun and the handler is still blocked: Shutdown waits.
  EXPECT_EQ(shutdown.wait_for(milliseconds(0)), std::future_status::timeout);
  release.set_value();

  ClientResult r = in_flight.get();
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "finished\n");
  EXPECT_FALSE(r.keep_alive) << "the last response of a draining server closes";
  ASSERT_EQ(shutdown.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(shutdown.get(), ServerShutdown::kDrained);
  RawConnection after(port_);
  EXPECT_FALSE(after.connected()) << "still accepting after shutdown";
}

TEST_F(ServerTest, OnShutdownAfterStartIsRejected) {
  Start(HelloRouter());
  EXPECT_THROW(server_->OnShutdown([] {}), std::logic_error);
}

TEST_F(ServerTest, ShutdownClosesIdleKeepAliveConnections) {
  Start(HelloRouter());
  Client client("127.0.0.1", port_);
  ASSERT_EQ(client.Get("/hello").status, 200);  // leaves the connection open
  EXPECT_EQ(server_->Shutdown(), ServerShutdown::kDrained);
  EXPECT_EQ(server_->stats().open_connections, 0u);
}

TEST_F(ServerTest, DrainDeadlineCancelsTheRequestContext) {
  std::promise<void> entered;
  std::promise<bool> saw_cancel;
  Router router;
  router.Get("/stubborn", [&](const Request&, RequestContext& ctx) {
    std::promise<void> cancelled;
    std::stop_callback on_cancel(ctx.stop_token(), [&] { cancelled.set_value(); });
    entered.set_value();
    const bool got = cancelled.get_future().wait_for(kPatience) == std::future_status::ready;
    saw_cancel.set_value(got && ctx.cancelled());
    return Response::Text(503, "cancelled\n");
  });
  ServerOptions options;
  options.drain_timeout = milliseconds(50);
  options.cancel_grace = kPatience;
  Start(std::move(router), options);

  auto in_flight = std::async(std::launch::async,
                              [this] { return Client("127.0.0.1", port_).Get("/stubborn"); });
  ASSERT_EQ(entered.get_future().wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(server_->Shutdown(), ServerShutdown::kCancelled);
  EXPECT_TRUE(saw_cancel.get_future().get());
  in_flight.get();  // answered or cut; either way it returned
}

// A client that gives up mid-request cancels the request's context at once
// (the hang-up watcher), saying when; a client that waits is never
// cancelled, even on a kept-alive connection.
TEST_F(ServerTest, ClientHangingUpCancelsTheRequestContext) {
  std::promise<void> entered;
  std::promise<bool> saw_cancel;
  Router router;
  router.Get("/patient", [](const Request&, RequestContext& ctx) {
    return Response::Text(200, ctx.cancelled() || ctx.cancelled_at() ? "cancelled\n" : "fine\n");
  });
  router.Get("/abandoned", [&](const Request&, RequestContext& ctx) {
    std::promise<void> cancelled;
    std::stop_callback on_cancel(ctx.stop_token(), [&] { cancelled.set_value(); });
    entered.set_value();
    const bool got = cancelled.get_future().wait_for(kPatience) == std::future_status::ready;
    saw_cancel.set_value(got && ctx.cancelled_at().has_value());
    return Response::Text(503, "cancelled\n");
  });
  Start(std::move(router));

  Client patient("127.0.0.1", port_);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(patient.Get("/patient").body, "fine\n");
  Client quitter("127.0.0.1", port_);
  ASSERT_EQ(quitter.SendAndHangUp("/abandoned"), "");
  ASSERT_EQ(entered.get_future().wait_for(kPatience), std::future_status::ready);
  auto cancelled = saw_cancel.get_future();
  ASSERT_EQ(cancelled.wait_for(kPatience), std::future_status::ready)
      << "the handler was never told its client left";
  EXPECT_TRUE(cancelled.get());
  EXPECT_EQ(patient.Get("/patient").body, "fine\n");
}

TEST_F(ServerTest, DebugThreadsListsTheNamedIoThreads) {
  ServerOptions options;
  options.io_threads = 3;
  Start(HelloRouter(), options);
  Client client("127.0.0.1", port_);
  ClientResult r = client.Get("/debug/threads");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_THAT(r.body, HasSubstr("\"name\":\"rl-io-0\""));
  EXPECT_THAT(r.body, HasSubstr("\"name\":\"rl-io-2\""));
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("rl-io-3")));
}

TEST_F(ServerTest, StartThrowsWhenThePortIsTaken) {
  Start(HelloRouter());
  ServerOptions options;
  options.port = port_;
  Server second(options, HelloRouter());
  EXPECT_THROW(second.Start(), std::runtime_error);
}

TEST_F(ServerTest, StartRejectsBadOptions) {
  ServerOptions options;
  options.io_threads = 0;
  Server server(options, HelloRouter());
  EXPECT_THROW(server.Start(), std::invalid_argument);
}

// RunServerMain runs on the test's own thread, as main() would call it.
// SIGTERM is raised before it starts and stays pending, blocked, until its
// sigwait takes it: no second thread and no timing.
class RunServerMainTest : public ::testing::Test {
 protected:
  void SetUp() override { pthread_sigmask(SIG_SETMASK, nullptr, &saved_mask_); }
  void TearDown() override { pthread_sigmask(SIG_SETMASK, &saved_mask_, nullptr); }

  static int Run(std::vector<std::string> args, Router router) {
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    return RunServerMain(static_cast<int>(argv.size()), argv.data(), std::move(router));
  }

  sigset_t saved_mask_;
};

TEST_F(RunServerMainTest, RunsAfterShutdownHooksOnceTheServerStopped) {
  std::vector<std::string> ran;
  Router router;
  router.AfterShutdown([&] { ran.push_back("stop worker"); });
  router.AfterShutdown([&] { ran.push_back("stop checker"); });
  BlockStopSignals();
  ASSERT_EQ(pthread_kill(pthread_self(), SIGTERM), 0);
  EXPECT_EQ(Run({"server", "--port", "0"}, std::move(router)), 0);
  EXPECT_THAT(ran, ::testing::ElementsAre("stop checker", "stop worker"));
}

TEST_F(RunServerMainTest, RunsAfterShutdownHooksAfterAUsageError) {
  int ran = 0;
  Router router;
  router.AfterShutdown([&] { ++ran; });
  EXPECT_EQ(Run({"server", "--threads", "0"}, std::move(router)), 2);
  EXPECT_EQ(ran, 1) << "a thread the scenario started must be stopped on every way out";
}

TEST_F(RunServerMainTest, BlockStopSignalsIsInheritedByLaterThreads) {
  BlockStopSignals();
  std::promise<bool> blocked;
  std::thread later([&] {
    sigset_t mask;
    pthread_sigmask(SIG_SETMASK, nullptr, &mask);
    blocked.set_value(sigismember(&mask, SIGTERM) == 1 && sigismember(&mask, SIGINT) == 1);
  });
  later.join();
  EXPECT_TRUE(blocked.get_future().get());
}

}  // namespace
}  // namespace racelab::http
