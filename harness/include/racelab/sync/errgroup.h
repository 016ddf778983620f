// ErrGroup: run related tasks on their own threads, wait for all of them,
// and keep the first error, as golang.org/x/sync/errgroup.
//
//   auto [group, ctx] = racelab::ErrGroup::WithContext(request_ctx);
//   group.set_limit(4);                      // at most 4 tasks at a time
//   for (const std::string& url : urls) {
//     // The task is handed the group's context (ctx): a lambda cannot
//     // capture a structured binding before clang 16.
//     group.go([url](const racelab::Context& ctx) -> racelab::Status {
//       if (!fetch(ctx, url)) return "fetch " + url + ": failed";
//       return racelab::Status::Ok();
//     });
//   }
//   if (racelab::Status s = group.wait(); !s.ok()) return Response::Text(502, s.message());
//
// Operations:
//   go(fn)         runs fn on a new thread ("rl-errgroup-N"); blocks while
//                  the limit is reached.
//   try_go(fn)     as go, but returns false instead of blocking.
//   set_limit(n)   at most n tasks at a time (n < 0: no limit).
//   wait()         blocks until every task returned; the first error.
//   WithContext(parent)  a group and its context, which is canceled (cause:
//                  the error's text) by the first error, or when wait()
//                  returns: siblings see it and stop early.
//
// A task is any callable taking nothing or `const Context&` (the group's
// context) and returning Status or void. Its error is the failed Status it
// returns; an exception it throws is its error too (e.what(), or "unknown
// exception").
//
// Misuse is reported, never undefined: set_limit while tasks run, or go()
// on a limit of 0 (which would block forever), throw std::logic_error with
// the values in the text. A task's failure is never an exception to the
// caller: it is wait()'s return value.
//
// Lifetime: the destructor waits for every task (a C++ thread must be
// joined), so captures by reference stay valid while tasks run. A moved-from
// group may only be destroyed or assigned to. Finished threads are joined by
// the next go() or wait(), so a long-lived group holds no dead threads.
//
// Memory ordering: a go() happens-before its task starts; the return of
// every task happens-before wait() returns (as Go's errgroup).
#ifndef RACELAB_SYNC_ERRGROUP_H_
#define RACELAB_SYNC_ERRGROUP_H_

#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "racelab/sync/context.h"
#include "racelab/sync/status.h"

namespace racelab {

class ErrGroup {
 public:
  // A group without a context of its own (context() is Background()).
  ErrGroup();

  // A group whose context, a child of `parent`, is canceled by the first
  // error or when wait() returns. Use: auto [group, ctx] = WithContext(p);
  static std::pair<ErrGroup, Context> WithContext(const Context& parent);

  ErrGroup(ErrGroup&& other) noexcept;
  // Waits for this group's tasks (as the destructor), then takes other's.
  ErrGroup& operator=(ErrGroup&& other) noexcept;
  ErrGroup(const ErrGroup&) = delete;
  ErrGroup& operator=(const ErrGroup&) = delete;

  // Waits for every task; an error nobody wait()ed for is dropped.
  ~ErrGroup();

  // Runs fn on a new named thread, blocking first while the limit is
  // reached. Throws: std::logic_error when the limit is 0; std::system_error
  // if no thread can be started (fn then does not run).
  template <typename F>
  void go(F&& fn) {
    Start(Wrap(std::forward<F>(fn)), /*block=*/true);
  }

  // Runs fn as go() does if fewer than limit tasks are running; otherwise
  // returns false at once and fn never runs.
  template <typename F>
  bool try_go(F&& fn) {
    return Start(Wrap(std::forward<F>(fn)), /*block=*/false);
  }

  // At most n tasks at a time; n < 0 removes the limit.
  // Throws: std::logic_error if tasks are running ("errgroup: set_limit(2)
  // while 3 tasks are still active"), as Go panics.
  void set_limit(int n);

  // Blocks until every task started so far has returned; returns the first
  // error (ok if none), then cancels the group's context. May be called
  // again (and from several threads); returns the same first error.
  Status wait();

  // The group's context (Background() for a plain group).
  const Context& context() const;

 private:
  struct Impl;

  // A type-erased, move-only task (std::function would demand a copyable
  // callable; a task may own a promise or a socket).
  struct Task {
    virtual ~Task() = default;
    virtual Status Run(const Context& ctx) = 0;
  };

  template <typename Fn>
  struct TaskOf final : Task {
    explicit TaskOf(Fn f) : fn(std::move(f)) {}
    Status Run(const Context& ctx) override { return InvokeTask(fn, ctx); }
    Fn fn;
  };

  template <typename F>
  static std::unique_ptr<Task> Wrap(F&& fn) {
    return std::make_unique<TaskOf<std::decay_t<F>>>(std::forward<F>(fn));
  }

  bool Start(std::unique_ptr<Task> task, bool block);

  std::unique_ptr<Impl> impl_;
};

}  // namespace racelab

#endif  // RACELAB_SYNC_ERRGROUP_H_
