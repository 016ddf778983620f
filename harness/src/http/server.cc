// The Beast HTTP/1.1 server behind racelab::http::Server.
//
// Reads top to bottom as Beast's async server example does: aliases, helpers,
// the request parser, the session (one per connection, do_x/on_x pairs), the
// listener, then Server::Impl, which owns the io threads and shutdown.
//
// The hot path is the request, so it does only HTTP work:
// - One io_context per io thread, each run by that thread alone: a
//   connection lives on one thread from accept to close, needs no strand and
//   never hops threads; connections are dealt to the threads round-robin by
//   an accepting thread of their own ("rl-accept"), so that a handler that
//   blocks its io thread never stops the server from taking connections.
// - The parser writes straight into the session's Request, reused from one
//   request to the next, and the response head is written into a reused
//   string: no header container, no copy of the body, no allocation once a
//   connection has served its first request.
// - Timeouts are a deadline per connection, read by one timer that wakes only
//   when a deadline may have passed, not a timer armed and cancelled per read
//   and per write.
// - The hang-up watch is taken once per connection, not per request.
// What is left per request: one clock read per read and per write, the
// request id, the cancellation the handler's context carries, and the
// handler.
#include "racelab/http/server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <charconv>
#include <cstdio>
#include <latch>
#include <memory>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "racelab/base/thread_name.h"
#include "racelab/http/internal/hangup_watcher.h"
#include "racelab/sync/mutex.h"

namespace racelab::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;
using beast::error_code;
using Clock = std::chrono::steady_clock;
// A connection's socket and timer name their io_context's executor type
// rather than the type-erased any_io_executor: each async step then calls
// its executor directly.
using IoExecutor = net::io_context::executor_type;
using Socket = net::basic_stream_socket<tcp, IoExecutor>;
using DeadlineTimer = net::basic_waitable_timer<Clock, net::wait_traits<Clock>, IoExecutor>;

int DefaultIoThreads() {
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : static_cast<int>(std::min(cores, 256U));
}

namespace {

Method ToMethod(bhttp::verb verb) {
  switch (verb) {
    case bhttp::verb::get: return Method::kGet;
    case bhttp::verb::head: return Method::kHead;
    case bhttp::verb::post: return Method::kPost;
    case bhttp::verb::put: return Method::kPut;
    case bhttp::verb::delete_: return Method::kDelete;
    case bhttp::verb::patch: return Method::kPatch;
    case bhttp::verb::options: return Method::kOptions;
    default: return Method::kOther;
  }
}

// A parse error of the request itself (as opposed to a transport error):
// the client sent something that is not HTTP/1.1.
bool IsMalformedRequest(const error_code& ec) {
  static const auto& http_category = bhttp::make_error_code(bhttp::error::bad_method).category();
  return ec.category() == http_category && ec != bhttp::error::end_of_stream &&
         ec != bhttp::error::partial_message && ec != bhttp::error::need_more;
}

// Why a handler's response cannot be sent as it is, or "" when it can: a
// status that is not three digits, or a header line that would end early
// (a CR, LF or NUL in it: response splitting) or has no proper name.
std::string InvalidResponse(const Response& response) {
  if (response.status < 100 || response.status > 999) {
    return "status " + std::to_string(response.status) + " is not three digits";
  }
  if (!IsFieldValue(response.content_type)) return "a CR, LF or NUL in the content type";
  for (const Header& h : response.headers) {
    if (!IsFieldName(h.name)) return "header name '" + h.name + "' is not a token";
    if (!IsFieldValue(h.value)) return "a CR, LF or NUL in header '" + h.name + "'";
  }
  return "";
}

// Appends the decimal digits of `n`.
void AppendNumber(std::string& out, std::uint64_t n) {
  char digits[20];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, end);
}

// Parses one request into a Request the session owns and reuses: field
// lines, target and body go straight into its strings, which keep their
// capacity from request to request. Beast's parsers are single-use, this
// one included; it holds no heap memory of its own, so making one per
// request is free.
class RequestParser final : public bhttp::basic_parser<true> {
 public:
  explicit RequestParser(Request& into) : request_(into) {}

  unsigned version() const { return version_; }

 private:
  void on_request_impl(bhttp::verb method, beast::string_view /*method_str*/,
                       beast::string_view target, int version, error_code& /*ec*/) override {
    version_ = static_cast<unsigned>(version);
    request_.method = ToMethod(method);
    request_.target.assign(target.data(), target.size());
    const std::size_t q = target.find('?');
    const beast::string_view path = target.substr(0, q);
    request_.path.assign(path.data(), path.size());
    if (q == beast::string_view::npos) {
      request_.query.clear();
    } else {
      request_.query.assign(target.data() + q + 1, target.size() - q - 1);
    }
    request_.body.clear();
    fields_ = 0;
  }

  void on_response_impl(int, beast::string_view, int, error_code& ec) override {
    ec = bhttp::error::bad_method;  // a request parser: never called
  }

  void on_field_impl(bhttp::field /*name*/, beast::string_view name, beast::string_view value,
                     error_code& /*ec*/) override {
    std::vector<Header>& headers = request_.headers;
    if (fields_ == headers.size()) headers.emplace_back();
    headers[fields_].name.assign(name.data(), name.size());
    headers[fields_].value.assign(value.data(), value.size());
    ++fields_;
  }

  void on_header_impl(error_code& /*ec*/) override { request_.headers.resize(fields_); }

  void on_body_init_impl(const boost::optional<std::uint64_t>& length,
                         error_code& /*ec*/) override {
    // The parser has checked `length` against the body limit already.
    if (length) request_.body.reserve(static_cast<std::size_t>(*length));
  }

  std::size_t on_body_impl(beast::string_view body, error_code& /*ec*/) override {
    request_.body.append(body.data(), body.size());
    return body.size();
  }

  void on_chunk_header_impl(std::uint64_t, beast::string_view, error_code&) override {}

  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body,
                                 error_code& /*ec*/) override {
    request_.body.append(body.data(), body.size());
    return body.size();
  }

  void on_finish_impl(error_code& /*ec*/) override {}

  Request& request_;
  std::size_t fields_ = 0;
  unsigned version_ = 11;
};

// The request a connection is handling, as the threads that may cancel it
// see it: the hang-up watcher (the client went away) and Shutdown (the drain
// deadline passed). The session and the hang-up callback share it, so the
// callback never touches a session that is gone.
class InFlight {
 public:
  // The session's thread, when a handler is about to run.
  void Begin(std::shared_ptr<RequestCancellation> cancellation) RACELAB_EXCLUDES(mu_) {
    bool cancel_now = false;
    {
      MutexLock lock(mu_);
      current_ = cancellation;
      cancel_now = gone_;
    }
    if (cancel_now) cancellation->Cancel();  // hung up before the handler began
  }
  // The session's thread, when the handler has returned.
  void End() RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    current_.reset();
  }
  // Any thread: cancels the request in flight, and every later one on this
  // connection (the client is gone, or the server gave up waiting).
  void CancelForGood() RACELAB_EXCLUDES(mu_) {
    std::shared_ptr<RequestCancellation> current;
    {
      MutexLock lock(mu_);
      gone_ = true;
      current = current_;
    }
    if (current) current->Cancel();  // outside mu_: stop callbacks run here
  }

 private:
  Mutex mu_;
  std::shared_ptr<RequestCancellation> current_ RACELAB_GUARDED_BY(mu_);
  bool gone_ RACELAB_GUARDED_BY(mu_) = false;
};

// What one io thread owns: its io_context (run by it alone) and what it
// counts. Counters have one writer, the thread; stats() reads them.
struct IoThread {
  net::io_context ioc{1};
  net::executor_work_guard<net::io_context::executor_type> work{ioc.get_executor()};
  alignas(64) std::atomic<std::uint64_t> requests{0};
};

}  // namespace

class Session;

// State that sessions share with the server: router, options, registry of
// live sessions, counters. Outlives every session (Shutdown waits for them).
class ServerCore {
 public:
  ServerCore(ServerOptions options, Router router)
      : options_(std::move(options)), router_(std::move(router)) {}

  const ServerOptions& options() const { return options_; }
  const Router& router() const { return router_; }
  bool draining() const { return draining_.load(std::memory_order_acquire); }
  std::uint64_t NextRequestId() {
    return next_request_id_.fetch_add(1, std::memory_order_relaxed) + 1;
  }

  void Register(std::uint64_t id, std::weak_ptr<Session> session) RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    sessions_.emplace(id, std::move(session));
  }
  void Unregister(std::uint64_t id) RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    sessions_.erase(id);
    if (sessions_.empty()) sessions_gone_.NotifyAll();
  }
  std::vector<std::shared_ptr<Session>> LiveSessions() RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    std::vector<std::shared_ptr<Session>> live;
    for (auto& [id, weak] : sessions_) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
    return live;
  }
  // Waits until no session is left or `timeout` passes; true if none is left.
  bool WaitForNoSessions(std::chrono::milliseconds timeout) RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return sessions_gone_.WaitFor(lock, timeout,
                                  [this]() RACELAB_REQUIRES(mu_) { return sessions_.empty(); });
  }
  std::size_t SessionCount() RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return sessions_.size();
  }

  void BeginDrain() { draining_.store(true, std::memory_order_release); }

  // The watcher of clients that hang up mid-request: started by Start before
  // the io threads, stopped once they are joined.
  void StartWatchingHangups() { hangups_.emplace(); }
  void StopWatchingHangups() { hangups_.reset(); }
  HangupWatcher& hangups() { return *hangups_; }

  std::atomic<std::uint64_t> rejected{0};
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> next_session_id{0};

 private:
  const ServerOptions options_;
  const Router router_;
  std::atomic<bool> draining_{false};
  std::atomic<std::uint64_t> next_request_id_{0};

  std::optional<HangupWatcher> hangups_;

  Mutex mu_;
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>> sessions_ RACELAB_GUARDED_BY(mu_);
  CondVar sessions_gone_;
};

// One connection, served start to end by the one io thread that owns its
// socket; other threads reach it only by posting to that thread.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Socket&& socket, ServerCore& core, IoThread& thread)
      : socket_(std::move(socket)),
        deadline_timer_(socket_.get_executor()),
        core_(core),
        thread_(thread),
        id_(core.next_session_id.fetch_add(1, std::memory_order_relaxed)) {
    error_code ec;
    const auto peer = socket_.remote_endpoint(ec);
    if (!ec) request_.peer_address = peer.address().to_string();
  }
  ~Session() { core_.Unregister(id_); }

  // Any thread: registers the session and starts it on its own thread.
  void Run() {
    core_.Register(id_, weak_from_this());
    net::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->Start(); });
  }

  // Shutdown: close now if no request is being handled; otherwise the
  // response in flight is the last one (OnWrite closes after it).
  void StopIfIdle() {
    net::post(socket_.get_executor(), [self = shared_from_this()] {
      if (!self->handling_) self->CloseSocket();
    });
  }

  // Drain deadline passed: cancel the request in flight and any that starts
  // later on this connection (from the calling thread, now: the session's
  // own thread may be the one stuck in a handler), then close whatever the
  // state.
  void ForceClose() {
    in_flight_->CancelForGood();
    net::post(socket_.get_executor(), [self = shared_from_this()] { self->CloseSocket(); });
  }

 private:
  void Start() {
    // One watch for the connection's life: a client that hangs up while a
    // handler runs cancels that request's context at once.
    hangup_watch_ = core_.hangups().Add(socket_.native_handle(),
                                        [in_flight = in_flight_] { in_flight->CancelForGood(); });
    DoRead();
    WaitForDeadline();
  }

  void DoRead() {
    if (core_.draining()) return DoClose();
    parser_.emplace(request_);
    parser_->header_limit(static_cast<std::uint32_t>(core_.options().header_limit));
    parser_->body_limit(core_.options().body_limit);
    deadline_ = Clock::now() + core_.options().read_timeout;
    bhttp::async_read(
        socket_, buffer_, *parser_,
        [self = shared_from_this()](error_code ec, std::size_t) { self->OnRead(ec); });
  }

  void OnRead(error_code ec) {
    deadline_ = Clock::time_point::max();
    if (ec == bhttp::error::end_of_stream) return DoClose();  // a normal close
    if (ec == bhttp::error::header_limit) return Reject(431, "request header block too large\n");
    if (ec == bhttp::error::body_limit) return Reject(413, "request body too large\n");
    if (ec && IsMalformedRequest(ec))
      return Reject(400, "malformed request: " + ec.message() + "\n");
    if (ec) return CloseSocket();  // timeout, reset, aborted by shutdown: the stream is done

    handling_ = true;
    Response response = Handle();
    // Read after the handler: a server that began draining meanwhile closes
    // the connection with this answer.
    const bool keep_alive = parser_->keep_alive() && !core_.draining();
    DoWrite(std::move(response), keep_alive, parser_->version(), request_.method == Method::kHead);
  }

  // Runs the handler. Its context is cancelled when the client hangs up
  // while it runs, or when the drain deadline passes.
  Response Handle() {
    auto cancellation = std::make_shared<RequestCancellation>();
    in_flight_->Begin(cancellation);
    RequestContext context =
        RequestContext::WithCancellation(core_.NextRequestId(), std::move(cancellation));
    Response response = core_.router().Dispatch(request_, context);
    in_flight_->End();
    return response;
  }

  void Reject(int status, std::string why) {
    core_.rejected.fetch_add(1, std::memory_order_relaxed);
    handling_ = true;
    DoWrite(Response::Text(status, std::move(why)), /*keep_alive=*/false, 11, false);
  }

  // Writes the head into head_ and sends it with the body, which response_
  // keeps alive until the write is done.
  void DoWrite(Response response, bool keep_alive, unsigned version, bool head) {
    if (std::string why = InvalidResponse(response); !why.empty()) {
      response = Response::Text(500, "handler returned an invalid response: " + why + "\n");
    }
    response_ = std::move(response);
    keep_alive_ = keep_alive;
    const int status = response_.status;
    // 1xx, 204 and 304 carry no body (RFC 9110 6.4.1).
    const bool bodiless = status < 200 || status == 204 || status == 304;
    head_.clear();
    head_.append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
    AppendNumber(head_, static_cast<std::uint64_t>(status));
    head_.push_back(' ');
    const beast::string_view reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
    head_.append(reason.data(), reason.size());
    head_.append("\r\nServer: racelab\r\nContent-Type: ");
    head_.append(response_.content_type);
    head_.append("\r\n");
    for (const Header& h : response_.headers) {
      head_.append(h.name).append(": ").append(h.value).append("\r\n");
    }
    if (!keep_alive && version != 10) head_.append("Connection: close\r\n");
    if (keep_alive && version == 10) head_.append("Connection: keep-alive\r\n");
    if (!bodiless) {
      head_.append("Content-Length: ");
      AppendNumber(head_, response_.body.size());
      head_.append("\r\n");
    }
    head_.append("\r\n");
    const std::size_t body_bytes = (head || bodiless) ? 0 : response_.body.size();
    const std::array<net::const_buffer, 2> buffers{net::buffer(head_),
                                                   net::buffer(response_.body.data(), body_bytes)};
    deadline_ = Clock::now() + core_.options().write_timeout;
    net::async_write(socket_, buffers, [self = shared_from_this()](error_code ec, std::size_t) {
      self->OnWrite(ec);
    });
  }

  void OnWrite(error_code ec) {
    deadline_ = Clock::time_point::max();
    handling_ = false;
    // One writer, this thread: a plain add, no read-modify-write across cores.
    thread_.requests.store(thread_.requests.load(std::memory_order_relaxed) + 1,
                           std::memory_order_relaxed);
    if (ec) return CloseSocket();
    if (!keep_alive_ || core_.draining()) return DoClose();
    DoRead();
  }

  // One timer per connection, asleep until the earliest moment deadline_
  // may have passed; reads and writes only move deadline_, so a request
  // costs no timer operation. A passed deadline closes the connection,
  // which ends the read or write waiting on it.
  void WaitForDeadline() {
    if (!socket_.is_open()) return;  // closed before the first read began
    const auto now = Clock::now();
    const auto idle_check = now + core_.options().read_timeout;
    deadline_timer_.expires_at(deadline_ == Clock::time_point::max() ? idle_check : deadline_);
    deadline_timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec || !self->socket_.is_open()) return;  // cancelled: the connection is closed
      if (self->deadline_ <= Clock::now()) return self->CloseSocket();
      self->WaitForDeadline();
    });
  }

  void DoClose() {
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    CloseSocket();
  }

  // Idempotent. The watch ends before the socket is closed, so a reused fd
  // number is never mistaken for this connection.
  void CloseSocket() {
    hangup_watch_.Stop();
    deadline_timer_.cancel();
    error_code ignored;
    socket_.close(ignored);
  }

  Socket socket_;
  DeadlineTimer deadline_timer_;
  ServerCore& core_;
  IoThread& thread_;
  const std::uint64_t id_;
  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  Request request_;    // reused: keeps its capacity between requests
  Response response_;  // being written
  std::string head_;   // the response head being written, reused
  bool keep_alive_ = true;
  bool handling_ = false;                                  // a request is between read and written
  Clock::time_point deadline_ = Clock::time_point::max();  // of the read or write pending
  const std::shared_ptr<InFlight> in_flight_ = std::make_shared<InFlight>();
  HangupWatcher::Watch hangup_watch_;
};

// Accepts connections on its own io_context and deals them to the io
// threads in turn.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& ioc, std::vector<std::unique_ptr<IoThread>>& threads, ServerCore& core)
      : threads_(threads), acceptor_(ioc), core_(core) {}

  // Binds and listens; throws std::runtime_error naming the address.
  std::uint16_t Open(const std::string& host, std::uint16_t port) {
    error_code ec;
    const auto address = net::ip::make_address(host, ec);
    if (ec) throw std::invalid_argument("bad --host '" + host + "': " + ec.message());
    const tcp::endpoint endpoint(address, port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                               ec.message());
    }
    return acceptor_.local_endpoint().port();
  }

  void Run() { DoAccept(); }

  void Close() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      error_code ignored;
      self->acceptor_.close(ignored);
    });
  }

 private:
  void DoAccept() {
    IoThread& next = *threads_[next_thread_];
    next_thread_ = (next_thread_ + 1) % threads_.size();
    acceptor_.async_accept(next.ioc.get_executor(),
                           [self = shared_from_this(), &next](error_code ec, Socket socket) {
                             self->OnAccept(ec, std::move(socket), next);
                           });
  }

  void OnAccept(error_code ec, Socket socket, IoThread& thread) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;  // shutdown
    if (!ec) {
      core_.connections.fetch_add(1, std::memory_order_relaxed);
      error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);  // one write per response: send it now
      std::make_shared<Session>(std::move(socket), core_, thread)->Run();
    }
    // A failed accept (EMFILE, ECONNABORTED) must not stop the server.
    DoAccept();
  }

  std::vector<std::unique_ptr<IoThread>>& threads_;
  tcp::acceptor acceptor_;
  ServerCore& core_;
  std::size_t next_thread_ = 0;  // the acceptor's thread only
};

class Server::Impl {
 public:
  Impl(ServerOptions options, Router router) : core_(std::move(options), std::move(router)) {}

  ~Impl() {
    if (started_ && !stopped_) Shutdown();
  }

  std::uint16_t Start() {
    const ServerOptions& o = core_.options();
    if (o.io_threads < 1 || o.io_threads > 256) {
      throw std::invalid_argument("io_threads must be 1..256, got " + std::to_string(o.io_threads));
    }
    if (o.header_limit < 256) throw std::invalid_argument("header_limit below 256 bytes");
    for (int i = 0; i < o.io_threads; ++i) io_.push_back(std::make_unique<IoThread>());
    listener_ = std::make_shared<Listener>(accept_.ioc, io_, core_);
    port_.store(listener_->Open(o.host, o.port));
    core_.StartWatchingHangups();
    listener_->Run();
    {
      MutexLock lock(mu_);
      running_threads_ = o.io_threads + 1;
    }
    // Every io thread carries its name before Start returns, so /debug/threads
    // and a leak check never see one unnamed.
    std::latch named(o.io_threads + 1);
    const auto run = [this, &named](std::string name, IoThread& io) {
      return [this, &named, name = std::move(name), &io] {
        SetCurrentThreadName(name);
        named.count_down();
        io.ioc.run();
        MutexLock lock(mu_);
        --running_threads_;
        threads_done_.NotifyAll();
      };
    };
    threads_.emplace_back(run("rl-accept", accept_));
    for (int i = 0; i < o.io_threads; ++i) {
      threads_.emplace_back(run("rl-io-" + std::to_string(i), *io_[static_cast<std::size_t>(i)]));
    }
    named.wait();
    started_ = true;
    return port_.load();
  }

  ServerShutdown Shutdown() {
    if (!started_ || stopped_) return ServerShutdown::kDrained;
    stopped_ = true;
    const ServerOptions& o = core_.options();
    core_.BeginDrain();
    listener_->Close();
    for (const auto& session : core_.LiveSessions()) session->StopIfIdle();
    for (const auto& fn : on_shutdown_) fn();

    ServerShutdown result = ServerShutdown::kDrained;
    if (!core_.WaitForNoSessions(o.drain_timeout)) {
      result = ServerShutdown::kCancelled;
      std::fprintf(
          stderr,
          "racelab: drain deadline (%lld ms) passed with %zu connection(s) busy; cancelling\n",
          static_cast<long long>(o.drain_timeout.count()), core_.SessionCount());
      for (const auto& session : core_.LiveSessions()) session->ForceClose();
      if (!core_.WaitForNoSessions(o.cancel_grace)) {
        for (const auto& io : io_) io->ioc.stop();
      }
    }
    // No acceptor, no session, no work guard: run() returns on its own in
    // every io thread.
    accept_.work.reset();
    for (const auto& io : io_) io->work.reset();
    bool joined = false;
    {
      MutexLock lock(mu_);
      joined =
          threads_done_.WaitFor(lock, o.cancel_grace + o.drain_timeout,
                                [this]() RACELAB_REQUIRES(mu_) { return running_threads_ == 0; });
    }
    for (std::thread& t : threads_) {
      if (joined) {
        t.join();
      } else {
        t.detach();  // a handler that never returns: report, do not hang
      }
    }
    threads_.clear();
    if (joined) core_.StopWatchingHangups();  // a stuck handler may still hold a watch
    return joined ? result : ServerShutdown::kStuck;
  }

  std::uint16_t port() const { return port_.load(); }

  void OnShutdown(std::function<void()> fn) {
    if (started_) throw std::logic_error("Server::OnShutdown after Start");
    on_shutdown_.push_back(std::move(fn));
  }

  ServerStats stats() {
    ServerStats s;
    for (const auto& io : io_) s.requests += io->requests.load(std::memory_order_relaxed);
    s.rejected = core_.rejected.load();
    s.connections = core_.connections.load();
    s.open_connections = core_.SessionCount();
    return s;
  }

 private:
  ServerCore core_;
  IoThread accept_;                            // rl-accept: the listener only
  std::vector<std::unique_ptr<IoThread>> io_;  // set by Start, then only read
  std::shared_ptr<Listener> listener_;
  std::vector<std::thread> threads_;
  std::atomic<std::uint16_t> port_{0};
  bool started_ = false;                            // owner thread only
  bool stopped_ = false;                            // owner thread only
  std::vector<std::function<void()>> on_shutdown_;  // set before Start, then read-only
  Mutex mu_;
  int running_threads_ RACELAB_GUARDED_BY(mu_) = 0;
  CondVar threads_done_;
};

Server::Server(ServerOptions options, Router router)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(router))) {}
Server::~Server() = default;
std::uint16_t Server::Start() { return impl_->Start(); }
ServerShutdown Server::Shutdown() { return impl_->Shutdown(); }
void Server::OnShutdown(std::function<void()> fn) { impl_->OnShutdown(std::move(fn)); }
std::uint16_t Server::port() const { return impl_->port(); }
ServerStats Server::stats() const { return impl_->stats(); }

}  // namespace racelab::http
