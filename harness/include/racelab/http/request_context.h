// RequestContext: per-request state a handler may consult, chiefly whether
// the request has been cancelled.
//
// A request is cancelled when the server gives up on it: its drain deadline
// passed during shutdown. A handler that does long work should poll
// cancelled() or register a std::stop_callback on stop_token(), and give up
// when it fires.
//
// Thread-safety: the handler's thread reads it; the server cancels it from
// any thread. All members are safe to call concurrently.
//
// Memory ordering: everything the canceller wrote before cancelling
// happens-before cancelled() returning true (std::stop_source semantics).
#ifndef RACELAB_HTTP_REQUEST_CONTEXT_H_
#define RACELAB_HTTP_REQUEST_CONTEXT_H_

#include <cstdint>
#include <stop_token>
#include <utility>

namespace racelab::http {

class RequestContext {
 public:
  RequestContext(std::uint64_t request_id, std::stop_token stop)
      : request_id_(request_id), stop_(std::move(stop)) {}

  // A process-unique id, increasing in order of arrival.
  std::uint64_t request_id() const noexcept { return request_id_; }

  // True once the server has cancelled this request.
  bool cancelled() const noexcept { return stop_.stop_requested(); }

  // For std::stop_callback or to hand cancellation down to other work.
  const std::stop_token& stop_token() const noexcept { return stop_; }

 private:
  std::uint64_t request_id_;
  std::stop_token stop_;
};

}  // namespace racelab::http

#endif  // RACELAB_HTTP_REQUEST_CONTEXT_H_
