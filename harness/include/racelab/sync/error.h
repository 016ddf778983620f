// Error: how a task reports failure to ErrGroup and WorkerPool, as Go's
// `error` return: std::nullopt is success, a string says what went wrong.
//
//   racelab::Error Fetch(const racelab::Context& ctx) {
//     if (ctx.done()) return ctx.cause();
//     ...
//     return std::nullopt;
//   }
//
// A task that throws fails with e.what() as its Error; nothing aborts.
// InvokeTask adapts the shapes a task may have: () or (const Context&),
// returning void (success) or Error.
//
// Memory ordering: none; a value type.
#ifndef RACELAB_SYNC_ERROR_H_
#define RACELAB_SYNC_ERROR_H_

#include <optional>
#include <string>
#include <type_traits>

namespace racelab {

class Context;

using Error = std::optional<std::string>;

// Calls fn(ctx) or fn(), whichever it takes; a void result is success.
// Exceptions propagate: the caller turns them into an Error.
template <typename Fn>
Error InvokeTask(Fn& fn, const Context& ctx) {
  if constexpr (std::is_invocable_v<Fn&, const Context&>) {
    if constexpr (std::is_void_v<std::invoke_result_t<Fn&, const Context&>>) {
      fn(ctx);
      return std::nullopt;
    } else {
      return Error(fn(ctx));
    }
  } else {
    static_assert(std::is_invocable_v<Fn&>, "a task takes () or (const Context&)");
    if constexpr (std::is_void_v<std::invoke_result_t<Fn&>>) {
      fn();
      return std::nullopt;
    } else {
      return Error(fn());
    }
  }
}

}  // namespace racelab

#endif  // RACELAB_SYNC_ERROR_H_
