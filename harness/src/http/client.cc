// The Beast client behind racelab::http::Client: async operations on a
// private io_context, run to completion by the calling thread, so that every
// step has a deadline (beast::tcp_stream's timeouts apply to async ops only).
#include "racelab/http/client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <utility>

namespace racelab::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;
using beast::error_code;

namespace {

constexpr std::uint64_t kMaxResponseBody = 64 * 1024 * 1024;

bhttp::verb ToVerb(Method method) {
  switch (method) {
    case Method::kGet: return bhttp::verb::get;
    case Method::kHead: return bhttp::verb::head;
    case Method::kPost: return bhttp::verb::post;
    case Method::kPut: return bhttp::verb::put;
    case Method::kDelete: return bhttp::verb::delete_;
    case Method::kPatch: return bhttp::verb::patch;
    case Method::kOptions: return bhttp::verb::options;
    case Method::kOther: break;
  }
  return bhttp::verb::unknown;
}

}  // namespace

std::string_view ClientResult::header(std::string_view name) const {
  return FindHeader(headers, name);
}

class Client::Impl {
 public:
  Impl(std::string host, std::uint16_t port, std::chrono::milliseconds timeout)
      : host_(std::move(host)), port_(port), timeout_(timeout) {}

  ClientResult Send(Method method, std::string_view target, std::string body,
                    const std::vector<Header>& headers) {
    ClientResult result;
    if (std::string err = EnsureConnected(); !err.empty()) {
      result.error = std::move(err);
      return result;
    }
    bhttp::request<bhttp::string_body> req{ToVerb(method), target, 11};
    req.set(bhttp::field::host, host_);
    req.set(bhttp::field::user_agent, "racelab-load");
    for (const Header& h : headers) req.insert(h.name, h.value);  // a line each, as given
    req.body() = std::move(body);
    req.prepare_payload();

    error_code ec;
    stream_->expires_after(timeout_);
    bhttp::async_write(*stream_, req, [&ec](error_code e, std::size_t) { ec = e; });
    RunToCompletion();
    if (ec) return Fail(std::move(result), "write", ec);

    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(kMaxResponseBody);
    if (method == Method::kHead) parser.skip(true);
    stream_->expires_after(timeout_);
    bhttp::async_read(*stream_, buffer_, parser, [&ec](error_code e, std::size_t) { ec = e; });
    RunToCompletion();
    if (ec) return Fail(std::move(result), "read", ec);

    auto& res = parser.get();
    result.status = static_cast<int>(res.result_int());
    result.body = std::move(res.body());
    for (const auto& field : res) {
      result.headers.push_back({std::string(field.name_string()), std::string(field.value())});
    }
    result.keep_alive = res.keep_alive();
    if (!result.keep_alive) Close();
    return result;
  }

  std::string SendAndHangUp(std::string_view target, const std::vector<Header>& headers) {
    if (std::string err = EnsureConnected(); !err.empty()) return err;
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
    req.set(bhttp::field::host, host_);
    for (const Header& h : headers) req.insert(h.name, h.value);
    error_code ec;
    stream_->expires_after(timeout_);
    bhttp::async_write(*stream_, req, [&ec](error_code e, std::size_t) { ec = e; });
    RunToCompletion();
    Close();
    return ec ? "write: " + ec.message() : std::string{};
  }

  void Close() {
    if (stream_) {
      error_code ignored;
      stream_->socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream_->socket().close(ignored);
    }
    stream_.reset();
    buffer_.clear();
  }

 private:
  std::string EnsureConnected() {
    if (stream_ && stream_->socket().is_open()) return {};
    Close();
    error_code ec;
    tcp::resolver resolver(ioc_);
    const auto endpoints = resolver.resolve(host_, std::to_string(port_), ec);
    if (ec) return "resolve " + host_ + ": " + ec.message();
    stream_.emplace(ioc_);
    stream_->expires_after(timeout_);
    stream_->async_connect(endpoints, [&ec](error_code e, const tcp::endpoint&) { ec = e; });
    RunToCompletion();
    if (ec) {
      stream_.reset();
      return "connect " + host_ + ":" + std::to_string(port_) + ": " + ec.message();
    }
    stream_->socket().set_option(tcp::no_delay(true), ec);
    return {};
  }

  void RunToCompletion() {
    ioc_.restart();
    ioc_.run();
  }

  ClientResult Fail(ClientResult result, const char* step, const error_code& ec) {
    result.error = std::string(step) + ": " + ec.message();
    Close();
    return result;
  }

  std::string host_;
  std::uint16_t port_;
  std::chrono::milliseconds timeout_;
  net::io_context ioc_{1};
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

Client::Client(std::string host, std::uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>(std::move(host), port, timeout)) {}
Client::~Client() = default;

ClientResult Client::Send(Method method, std::string_view target, std::string body,
                          const std::vector<Header>& headers) {
  return impl_->Send(method, target, std::move(body), headers);
}
std::string Client::SendAndHangUp(std::string_view target, const std::vector<Header>& headers) {
  return impl_->SendAndHangUp(target, headers);
}
void Client::Close() { impl_->Close(); }

}  // namespace racelab::http
