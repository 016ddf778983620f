// The Beast HTTP/1.1 server behind racelab::http::Server.
//
// Reads top to bottom as Beast's async server example does: aliases, helpers,
// the session (one per connection, on its own strand, do_x/on_x pairs), the
// listener, then Server::Impl, which owns the io threads and shutdown.
#include "racelab/http/server.h"

#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
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

Request ToRequest(const bhttp::request<bhttp::string_body>& in, const std::string& peer) {
  Request out;
  out.method = ToMethod(in.method());
  out.target = std::string(in.target());
  const std::size_t q = out.target.find('?');
  out.path = out.target.substr(0, q);
  if (q != std::string::npos) out.query = out.target.substr(q + 1);
  for (const auto& field : in) {
    out.headers.push_back({std::string(field.name_string()), std::string(field.value())});
  }
  out.body = in.body();
  out.peer_address = peer;
  return out;
}

// A parse error of the request itself (as opposed to a transport error):
// the client sent something that is not HTTP/1.1.
bool IsMalformedRequest(const error_code& ec) {
  static const auto& http_category = bhttp::make_error_code(bhttp::error::bad_method).category();
  return ec.category() == http_category && ec != bhttp::error::end_of_stream &&
         ec != bhttp::error::partial_message && ec != bhttp::error::need_more;
}

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
  std::stop_token cancel_token() const { return cancel_.get_token(); }
  std::uint64_t NextRequestId() { return next_request_id_.fetch_add(1) + 1; }

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
  void CancelRequests() { cancel_.request_stop(); }

  // The watcher of clients that hang up mid-request: started by Start before
  // the io threads, stopped once they are joined.
  void StartWatchingHangups() { hangups_.emplace(); }
  void StopWatchingHangups() { hangups_.reset(); }
  HangupWatcher& hangups() { return *hangups_; }

  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> rejected{0};
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> next_session_id{0};

 private:
  const ServerOptions options_;
  const Router router_;
  std::atomic<bool> draining_{false};
  std::stop_source cancel_;
  std::atomic<std::uint64_t> next_request_id_{0};

  std::optional<HangupWatcher> hangups_;

  Mutex mu_;
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>> sessions_ RACELAB_GUARDED_BY(mu_);
  CondVar sessions_gone_;
};

// One connection. Every step runs on the connection's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, ServerCore& core)
      : stream_(std::move(socket)), core_(core), id_(core.next_session_id.fetch_add(1)) {
    error_code ec;
    const auto peer = stream_.socket().remote_endpoint(ec);
    if (!ec) peer_ = peer.address().to_string();
  }
  ~Session() { core_.Unregister(id_); }

  void Run() {
    core_.Register(id_, weak_from_this());
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::DoRead, shared_from_this()));
  }

  // Shutdown: close now if no request is being handled; otherwise the
  // response in flight is the last one (OnWrite closes after it).
  void StopIfIdle() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->handling_) self->CloseSocket();
    });
  }

  // Drain deadline passed: close whatever the state.
  void ForceClose() {
    net::post(stream_.get_executor(), [self = shared_from_this()] { self->CloseSocket(); });
  }

 private:
  void DoRead() {
    if (core_.draining()) return DoClose();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(core_.options().header_limit));
    parser_->body_limit(core_.options().body_limit);
    stream_.expires_after(core_.options().read_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(error_code ec, std::size_t /*bytes*/) {
    if (ec == bhttp::error::end_of_stream) return DoClose();  // a normal close
    if (ec == bhttp::error::header_limit) return Reject(431, "request header block too large\n");
    if (ec == bhttp::error::body_limit) return Reject(413, "request body too large\n");
    if (ec && IsMalformedRequest(ec))
      return Reject(400, "malformed request: " + ec.message() + "\n");
    if (ec) return;  // timeout, reset, aborted by shutdown: the stream is done

    handling_ = true;
    const bhttp::request<bhttp::string_body>& in = parser_->get();
    const Request request = ToRequest(in, peer_);
    Response response = Handle(request);
    const bool keep_alive = in.keep_alive() && !core_.draining();
    DoWrite(std::move(response), keep_alive, in.version(), request.method == Method::kHead);
  }

  // Runs the handler. Its context is cancelled when the client hangs up
  // while it runs, or when the drain deadline passes.
  Response Handle(const Request& request) {
    auto cancellation = std::make_shared<RequestCancellation>();
    const std::stop_callback on_drain_deadline(core_.cancel_token(),
                                               [cancellation] { cancellation->Cancel(); });
    const HangupWatcher::Watch on_hangup = core_.hangups().Add(
        stream_.socket().native_handle(), [cancellation] { cancellation->Cancel(); });
    RequestContext context = RequestContext::WithCancellation(core_.NextRequestId(), cancellation);
    return core_.router().Dispatch(request, context);
  }  // the watch ends before the socket can be closed: both on this strand

  void Reject(int status, std::string why) {
    core_.rejected.fetch_add(1, std::memory_order_relaxed);
    handling_ = true;
    DoWrite(Response::Text(status, std::move(why)), /*keep_alive=*/false, 11, false);
  }

  void DoWrite(Response response, bool keep_alive, unsigned version, bool head) {
    auto out = std::make_shared<bhttp::response<bhttp::string_body>>();
    out->version(version);
    out->result(static_cast<unsigned>(response.status));
    out->set(bhttp::field::server, "racelab");
    out->set(bhttp::field::content_type, response.content_type);
    for (const Header& h : response.headers) out->set(h.name, h.value);
    out->keep_alive(keep_alive);
    out->content_length(response.body.size());
    if (!head) out->body() = std::move(response.body);
    stream_.expires_after(core_.options().write_timeout);
    bhttp::async_write(stream_, *out,
                       [self = shared_from_this(), out](error_code ec, std::size_t bytes) {
                         self->OnWrite(out->keep_alive(), ec, bytes);
                       });
  }

  void OnWrite(bool keep_alive, error_code ec, std::size_t /*bytes*/) {
    handling_ = false;
    core_.requests.fetch_add(1, std::memory_order_relaxed);
    if (ec) return;
    if (!keep_alive || core_.draining()) return DoClose();
    DoRead();
  }

  void DoClose() {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    CloseSocket();
  }

  void CloseSocket() {
    error_code ignored;
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  ServerCore& core_;
  const std::uint64_t id_;
  std::string peer_;
  bool handling_ = false;  // a request is between read and written
};

// Accepts connections and starts a Session for each, on a strand of its own.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& ioc, ServerCore& core)
      : ioc_(ioc), acceptor_(net::make_strand(ioc)), core_(core) {}

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
    acceptor_.async_accept(net::make_strand(ioc_),
                           beast::bind_front_handler(&Listener::OnAccept, shared_from_this()));
  }

  void OnAccept(error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;  // shutdown
    if (!ec) {
      core_.connections.fetch_add(1, std::memory_order_relaxed);
      std::make_shared<Session>(std::move(socket), core_)->Run();
    }
    // A failed accept (EMFILE, ECONNABORTED) must not stop the server.
    DoAccept();
  }

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  ServerCore& core_;
};

class Server::Impl {
 public:
  Impl(ServerOptions options, Router router)
      : core_(std::move(options), std::move(router)),
        ioc_(core_.options().io_threads > 0 ? core_.options().io_threads : 1) {}

  ~Impl() {
    if (started_ && !stopped_) Shutdown();
  }

  std::uint16_t Start() {
    const ServerOptions& o = core_.options();
    if (o.io_threads < 1 || o.io_threads > 256) {
      throw std::invalid_argument("io_threads must be 1..256, got " + std::to_string(o.io_threads));
    }
    if (o.header_limit < 256) throw std::invalid_argument("header_limit below 256 bytes");
    listener_ = std::make_shared<Listener>(ioc_, core_);
    port_.store(listener_->Open(o.host, o.port));
    core_.StartWatchingHangups();
    listener_->Run();
    {
      MutexLock lock(mu_);
      running_threads_ = o.io_threads;
    }
    // Every io thread carries its name before Start returns, so /debug/threads
    // and a leak check never see one unnamed.
    std::latch named(o.io_threads);
    for (int i = 0; i < o.io_threads; ++i) {
      threads_.emplace_back([this, i, &named] {
        SetCurrentThreadName("rl-io-" + std::to_string(i));
        named.count_down();
        ioc_.run();
        MutexLock lock(mu_);
        --running_threads_;
        threads_done_.NotifyAll();
      });
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
      core_.CancelRequests();
      for (const auto& session : core_.LiveSessions()) session->ForceClose();
      if (!core_.WaitForNoSessions(o.cancel_grace)) ioc_.stop();
    }
    // No acceptor, no session: run() returns on its own in every io thread.
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
    s.requests = core_.requests.load();
    s.rejected = core_.rejected.load();
    s.connections = core_.connections.load();
    s.open_connections = core_.SessionCount();
    return s;
  }

 private:
  ServerCore core_;
  net::io_context ioc_;
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
