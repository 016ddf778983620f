// Client: one blocking HTTP/1.1 keep-alive connection, for the load driver
// and the tests. Beast underneath, compiled once in harness/src.
//
//   racelab::http::Client client("127.0.0.1", port);
//   ClientResult r = client.Get("/hit");
//   if (r.ok()) use(r.status, r.body);
//
// Every call has a deadline (the constructor's timeout); a transport failure
// (refused, reset, timed out, closed) is a result with `error` set, never an
// exception. After a failure the next call reconnects.
//
// Thread-safety: a Client is used by one thread at a time. Use one per thread.
//
// Memory ordering: none beyond the socket's.
#ifndef RACELAB_HTTP_CLIENT_H_
#define RACELAB_HTTP_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "racelab/http/message.h"

namespace racelab::http {

struct ClientResult {
  int status = 0;  // 0 when no response arrived
  std::string body;
  std::vector<Header> headers;
  bool keep_alive = false;  // the server left the connection open
  std::string error;        // "" on success; what failed otherwise

  bool ok() const { return error.empty(); }
  std::string_view header(std::string_view name) const;
};

class Client {
 public:
  Client(std::string host, std::uint16_t port,
         std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one request and reads its response. Each of `headers` goes out
  // as a line of its own, in order, repeated names too (two X-Forwarded-For
  // lines stay two lines), after Host and User-Agent.
  ClientResult Send(Method method, std::string_view target, std::string body = {},
                    const std::vector<Header>& headers = {});
  ClientResult Get(std::string_view target) { return Send(Method::kGet, target); }

  // Sends one GET (with `headers`, as Send does) and closes the connection
  // without reading the answer: a client that gave up. Returns "" or what
  // failed.
  std::string SendAndHangUp(std::string_view target, const std::vector<Header>& headers = {});

  // Closes the connection (the next call reconnects).
  void Close();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace racelab::http

#endif  // RACELAB_HTTP_CLIENT_H_
