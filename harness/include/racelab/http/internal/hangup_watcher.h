// Internals of Server (racelab/http/server.h), not API: HangupWatcher, how
// the server learns that a client went away while its request is handled.
//
// A handler runs on an io thread, between reading a request and writing its
// answer; nothing reads the connection meanwhile, so a client that hangs up
// goes unnoticed, and with it every chance to stop work nobody waits for.
// (Go's net/http has the same problem and the same answer: a background read
// that cancels the request's context at EOF.) HangupWatcher is one thread,
// "rl-hangup", waiting in epoll on the server's sockets (the server takes
// one watch per connection, for its whole life), for EPOLLRDHUP (the peer closed, or shut down its
// sending side), EPOLLHUP or EPOLLERR (reset). Data does not count: a pipelined request is not a
// hang-up. Each socket is watched once (EPOLLONESHOT), so a client that is gone costs one wake-up,
// not a spinning loop.
//
//   HangupWatcher watcher;                        // starts rl-hangup
//   {
//     HangupWatcher::Watch w = watcher.Add(fd, [cancel] { cancel->Cancel(); });
//     Response r = router.Dispatch(request, context);
//   }                                             // ~Watch: stops watching fd
//
// It runs on its own thread, not on the io threads, because the io threads
// may all be busy in handlers: that is exactly when hang-ups matter.
//
// Lifetime: a Watch must be destroyed before its fd is closed (so a reused
// fd number is never mistaken for it), and before the watcher. A callback
// the watcher has already taken may still be running when its Watch is
// destroyed, so a callback owns what it touches (a shared_ptr), never
// borrows. Callbacks run on rl-hangup, one at a time: they must be short.
//
// Thread-safety: Add and ~Watch may be called from any thread, concurrently.
//
// Memory ordering: Add happens-before its callback runs (the registration
// is published under the watcher's mutex and taken under it).
#ifndef RACELAB_HTTP_INTERNAL_HANGUP_WATCHER_H_
#define RACELAB_HTTP_INTERNAL_HANGUP_WATCHER_H_

#include <cstdint>
#include <functional>
#include <thread>
#include <unordered_map>

#include "racelab/sync/mutex.h"
#include "racelab/sync/thread_annotations.h"

namespace racelab::http {

class HangupWatcher {
 public:
  // A registration; destroying it stops the watch. Move-only.
  class Watch {
   public:
    Watch() = default;
    Watch(Watch&& other) noexcept;
    Watch& operator=(Watch&& other) noexcept;
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;
    ~Watch() { Stop(); }

    // Stops watching now (idempotent). Returns true if the hang-up had not
    // been seen: its callback never runs.
    bool Stop();

   private:
    friend class HangupWatcher;
    Watch(HangupWatcher* watcher, std::uint64_t key, int fd)
        : watcher_(watcher), key_(key), fd_(fd) {}

    HangupWatcher* watcher_ = nullptr;  // null: empty
    std::uint64_t key_ = 0;
    int fd_ = -1;
  };

  // Starts the rl-hangup thread. Throws std::system_error when epoll or
  // eventfd cannot be had.
  HangupWatcher();
  // Stops and joins the thread. Requires: no Watch left.
  ~HangupWatcher();
  HangupWatcher(const HangupWatcher&) = delete;
  HangupWatcher& operator=(const HangupWatcher&) = delete;

  // Calls on_hangup once, on rl-hangup, if the peer of socket `fd` hangs up
  // (or already has) while the returned Watch lives. If fd cannot be
  // watched (not a socket, closed), the Watch is empty and nothing is
  // called.
  [[nodiscard]] Watch Add(int fd, std::function<void()> on_hangup) RACELAB_EXCLUDES(mu_);

 private:
  void Loop() RACELAB_EXCLUDES(mu_);
  bool Remove(std::uint64_t key, int fd) RACELAB_EXCLUDES(mu_);

  int epoll_fd_ = -1;
  int stop_fd_ = -1;  // eventfd: wakes the loop to exit
  Mutex mu_;
  std::uint64_t next_key_ RACELAB_GUARDED_BY(mu_) = 1;  // 0 is stop_fd_
  std::unordered_map<std::uint64_t, std::function<void()>> watches_ RACELAB_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace racelab::http

#endif  // RACELAB_HTTP_INTERNAL_HANGUP_WATCHER_H_
