// RequestContext: per-request state a handler may consult, chiefly whether
// the request has been cancelled.
//
// A request is cancelled when nobody waits for its answer any more: its
// client went away (closed or reset the connection, or shut down its
// sending side, as Go's net/http also reads it) while the handler ran, or
// the server gave up on it (its drain deadline passed during shutdown). A
// handler that does long work should poll cancelled() or register a
// std::stop_callback on stop_token(), and give up when it fires; the
// server's hang-up watcher cancels within milliseconds of the client going.
//
// RequestCancellation is the cancelling side: the server holds one per
// request and calls Cancel(), which records when (cancelled_at(), for the
// lost-work audit of racelab/http/work_audit.h) and then requests stop.
//
// Thread-safety: the handler's thread reads it; the server cancels it from
// any thread. All members are safe to call concurrently.
//
// Memory ordering: everything the canceller wrote before cancelling
// happens-before cancelled() returning true (std::stop_source semantics);
// in particular cancelled_at() is set by then.
#ifndef RACELAB_HTTP_REQUEST_CONTEXT_H_
#define RACELAB_HTTP_REQUEST_CONTEXT_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <stop_token>
#include <utility>

namespace racelab::http {

// The cancellation of one request: a stop source that remembers when it
// was first cancelled.
class RequestCancellation {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  // Records now as the cancel time (the first call only), then requests
  // stop, running the stop callbacks on the calling thread. Idempotent.
  void Cancel() noexcept {
    std::int64_t expected = kNotCancelled;
    at_ns_.compare_exchange_strong(expected, time_point::clock::now().time_since_epoch().count(),
                                   std::memory_order_release, std::memory_order_acquire);
    source_.request_stop();
  }

  std::stop_token token() const noexcept { return source_.get_token(); }

  // When Cancel() was first called; nullopt while it was not.
  std::optional<time_point> cancelled_at() const noexcept {
    const std::int64_t ns = at_ns_.load(std::memory_order_acquire);
    if (ns == kNotCancelled) return std::nullopt;
    return time_point(time_point::duration(ns));
  }

 private:
  static constexpr std::int64_t kNotCancelled = std::numeric_limits<std::int64_t>::min();

  std::stop_source source_;
  std::atomic<std::int64_t> at_ns_{kNotCancelled};  // steady_clock ticks
};

class RequestContext {
 public:
  // A context cancelled through `stop`; it cannot say when it was
  // (cancelled_at() is nullopt). For tests and callers outside the server.
  RequestContext(std::uint64_t request_id, std::stop_token stop)
      : request_id_(request_id), stop_(std::move(stop)) {}

  // The server's form: cancelled through `cancellation`, which says when.
  static RequestContext WithCancellation(std::uint64_t request_id,
                                         std::shared_ptr<const RequestCancellation> cancellation) {
    RequestContext context(request_id, cancellation->token());
    context.cancellation_ = std::move(cancellation);
    return context;
  }

  // A process-unique id, increasing in order of arrival.
  std::uint64_t request_id() const noexcept { return request_id_; }

  // True once the request has been cancelled.
  bool cancelled() const noexcept { return stop_.stop_requested(); }

  // For std::stop_callback or to hand cancellation down to other work.
  const std::stop_token& stop_token() const noexcept { return stop_; }

  // When the request was cancelled (steady_clock); nullopt while it is not,
  // and for a context made from a bare stop_token.
  std::optional<std::chrono::steady_clock::time_point> cancelled_at() const noexcept {
    if (cancellation_ == nullptr) return std::nullopt;
    return cancellation_->cancelled_at();
  }

 private:
  std::uint64_t request_id_;
  std::stop_token stop_;
  std::shared_ptr<const RequestCancellation> cancellation_;  // null: time unknown
};

}  // namespace racelab::http

#endif  // RACELAB_HTTP_REQUEST_CONTEXT_H_
