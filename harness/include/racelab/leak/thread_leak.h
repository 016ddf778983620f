// Thread leak checks, as goleak does for Go: which threads did a piece of
// code leave behind?
//
// Take a Snapshot of the live threads before the code runs; afterwards,
// FindLeakedThreads(before) lists every thread alive now that was not alive
// then: the threads the code started and never stopped. Each comes with
// what the kernel says of it (/proc/self/task/<tid>): its name, its state
// and the kernel function it waits in, so a report reads "rl-fetch-3 (tid
// 1234, state S, waiting in futex_wait_queue)": a thread asleep on a futex,
// blocked forever on a hand-off nobody takes.
//
//   const racelab::leak::Snapshot before = racelab::leak::Snapshot::Take();
//   RunTheCode();
//   for (const racelab::leak::ThreadRecord& t : racelab::leak::FindLeakedThreads(before))
//     std::printf("left behind: %s\n", t.Describe().c_str());
//
// A thread that was told to stop may still be on its way out when the check
// runs (it returned from its function and the kernel has not reaped it yet,
// or it is running its last lines). So FindLeakedThreads retries: when it
// finds new threads it looks again after a backoff (1 ms, doubling up to
// CheckOptions::max_backoff) until none is left or CheckOptions::deadline
// passes, and reports what is still there then. A clean check returns as
// soon as it is clean; only a leak costs the whole deadline.
//
// Threads the code may legitimately leave (a process-wide helper it starts
// on first use) are ignored by name: CheckOptions::ignore holds exact names
// or "prefix*" patterns. A thread is one thread across the check even when
// the kernel reuses its tid: its identity is the tid and its start time.
//
// Sanitizer runtimes start helper threads of their own (TSan's background
// thread starts with a process's first pthread_create). Snapshot::Take
// therefore starts and joins one thread of its own the first time it runs
// in a process, so such a helper exists before the snapshot and is in it.
//
// Thread-safety: every function may be called from any thread at any time;
// they read kernel state only. A Snapshot is a value.
//
// Memory ordering: none. A thread's disappearance from /proc orders nothing:
// seeing that a thread is gone does not make its writes visible. Code that
// reads what a thread wrote needs its own happens-before edge (a join, a
// latch, an atomic with acquire), whatever this check says.
#ifndef RACELAB_LEAK_THREAD_LEAK_H_
#define RACELAB_LEAK_THREAD_LEAK_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace racelab::leak {

// One thread of this process as /proc/self/task/<tid> shows it.
struct ThreadRecord {
  long tid = 0;
  std::string name;   // comm: what SetCurrentThreadName set (15 bytes at most)
  char state = '?';   // R running, S sleeping, D uninterruptible, T stopped, Z zombie, ...
  std::string wchan;  // the kernel function it sleeps in ("futex_wait_queue"); "" if none shown
  unsigned long long start_time = 0;  // clock ticks after boot; with tid, its identity

  // "rl-fetch-3 (tid 1234, state S, waiting in futex_wait_queue)".
  std::string Describe() const;

  // Same thread: same tid and start time (a reused tid is another thread).
  bool SameThread(const ThreadRecord& other) const noexcept {
    return tid == other.tid && start_time == other.start_time;
  }
};

// Reads one thread of this process; nullopt if it is gone (or unreadable).
std::optional<ThreadRecord> ReadThread(long tid);

// The live threads of this process at one instant, sorted by tid.
class Snapshot {
 public:
  // An empty snapshot (no thread).
  Snapshot() = default;

  // The threads alive now. The first call in a process starts and joins a
  // thread first (see the file comment: sanitizer helpers).
  static Snapshot Take();

  const std::vector<ThreadRecord>& threads() const noexcept { return threads_; }

  // Whether `thread` (same tid and start time) is in this snapshot.
  bool Contains(const ThreadRecord& thread) const noexcept;

 private:
  std::vector<ThreadRecord> threads_;
};

struct CheckOptions {
  // Names of threads that are never a leak: exact ("rl-ctx-timer"), or a
  // prefix followed by '*' ("grpc-*").
  std::vector<std::string> ignore;
  // How long threads on their way out are waited for.
  std::chrono::milliseconds deadline{2'000};
  // The longest pause between two looks (the first is 1 ms).
  std::chrono::milliseconds max_backoff{100};
};

// Whether `name` matches one of `patterns` (exact, or "prefix*").
bool MatchesAny(std::string_view name, const std::vector<std::string>& patterns);

// The threads in `after` that are not in `before` and not ignored, sorted
// by tid. One look, no retry.
std::vector<ThreadRecord> NewThreads(const Snapshot& before, const Snapshot& after,
                                     const std::vector<std::string>& ignore = {});

// The threads alive now that were not alive in `before` and are not
// ignored: looks, and while it finds any, looks again after a backoff until
// none is left or options.deadline passes (see the file comment).
// Guarantees: returns within options.deadline plus one look and one
// backoff; an empty result means one look found no new thread.
std::vector<ThreadRecord> FindLeakedThreads(const Snapshot& before,
                                            const CheckOptions& options = {});

}  // namespace racelab::leak

#endif  // RACELAB_LEAK_THREAD_LEAK_H_
