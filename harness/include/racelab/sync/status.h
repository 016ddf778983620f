// Status: how a task reports its outcome to ErrGroup and WorkerPool, as
// Go's `error` return or absl::Status: ok() is success, otherwise message()
// says what went wrong.
//
//   racelab::Status Fetch(const racelab::Context& ctx) {
//     if (ctx.done()) return ctx.cause();      // a failure, from its text
//     ...
//     return racelab::Status::Ok();
//   }
//
// A failure is made from its text (implicitly, so `return "disk full";`
// reads as Go's `return errors.New(...)`); a default Status is ok. A task
// that throws fails with e.what() as its message; nothing aborts.
// InvokeTask adapts the shapes a task may have: () or (const Context&),
// returning void (success) or Status.
//
// Memory ordering: none; a value type.
#ifndef RACELAB_SYNC_STATUS_H_
#define RACELAB_SYNC_STATUS_H_

#include <ostream>
#include <string>
#include <type_traits>
#include <utility>

namespace racelab {

class Context;

class Status {
 public:
  // Success.
  Status() noexcept = default;
  static Status Ok() noexcept { return Status(); }

  // A failure that says what went wrong: "fetch /a: connection refused".
  // Guarantees: !ok(), whatever the text (an empty one too).
  Status(std::string message) : ok_(false), message_(std::move(message)) {}
  Status(const char* message) : Status(std::string(message)) {}

  bool ok() const noexcept { return ok_; }

  // What went wrong; "" when ok().
  const std::string& message() const noexcept { return message_; }

  friend bool operator==(const Status&, const Status&) = default;

  // "ok", or the message (for test failures and logs).
  friend std::ostream& operator<<(std::ostream& os, const Status& s) {
    return os << (s.ok_ ? std::string("ok") : s.message_);
  }

 private:
  bool ok_ = true;
  std::string message_;
};

// Calls fn(ctx) or fn(), whichever it takes; a void result is success.
// Exceptions propagate: the caller turns them into a Status.
template <typename Fn>
Status InvokeTask(Fn& fn, const Context& ctx) {
  if constexpr (std::is_invocable_v<Fn&, const Context&>) {
    if constexpr (std::is_void_v<std::invoke_result_t<Fn&, const Context&>>) {
      fn(ctx);
      return Status::Ok();
    } else {
      return Status(fn(ctx));
    }
  } else {
    static_assert(std::is_invocable_v<Fn&>, "a task takes () or (const Context&)");
    if constexpr (std::is_void_v<std::invoke_result_t<Fn&>>) {
      fn();
      return Status::Ok();
    } else {
      return Status(fn());
    }
  }
}

}  // namespace racelab

#endif  // RACELAB_SYNC_STATUS_H_
