// WorkerPool: N named worker threads fed by a bounded queue, for services
// that must not spawn a thread per request and must shed load when full.
//
//   racelab::WorkerPool pool({.workers = 4, .queue_capacity = 1024,
//                             .on_failure = [](const racelab::JobFailure& f) {
//                               log("job %llu failed after %d attempts: %s", ...);
//                             }});
//   if (!pool.try_submit([=] { resize(image); })) return Response::Text(503, "busy\n");
//   pool.submit([=](const racelab::Context& ctx) -> racelab::Status { ... }, request_ctx);
//   racelab::PoolShutdown r = pool.shutdown(now + 5s);   // r.not_run: ids never run
//
// Operations:
//   submit(job, ctx)   enqueue; blocks while the queue is full; gives up when
//                      ctx is done (kCanceled / kDeadlineExceeded).
//   try_submit(job)    enqueue or fail at once (kFull): the 503 path.
//   shutdown(deadline) intake stops; accepted jobs drain until the deadline;
//                      then the pool's context is canceled, running jobs
//                      finish, and the jobs that never started are returned
//                      by id. No accepted job is ever lost silently.
//   stats()            queued, running, done, failed, rejected, not_run.
//
// A job is a callable taking () or (const Context&) and returning void or
// Status (ok: success). It runs with the POOL's context, never the
// submitter's: a request that ends does not cancel work it handed off; the
// pool's context is canceled only when shutdown passes its deadline. A job
// fails when it returns an error or throws (e.what()); with a RetryPolicy it
// is run again after a backoff that waits on the pool's context (shutdown
// interrupts it, no plain sleep). A job that still fails is counted and
// reported to Options::on_failure with its id, error and attempts.
//
// Statuses, not exceptions, for expected outcomes: a full queue, a submit
// after shutdown, a context that ends the wait. Misuse throws
// std::invalid_argument / std::logic_error naming the values (0 workers;
// shutdown from one of the pool's own workers, which would wait for itself).
//
// Design (why it is fast): the queue is a fixed ring of slots, each holding
// a move-only job in 48 bytes of inline storage (no heap allocation per job
// for small callables) and a sequence number (Vyukov's bounded MPMC queue):
// submit and take are one compare-exchange each, no lock. Threads park on a
// mutex only when there is nothing to do (an idle worker first yields a few
// times, since tiny jobs arrive faster than a futex wake-up): a submit wakes
// a worker only if one is parked; a worker wakes blocked submitters only
// once half the queue is free, so a full queue costs one wake-up per half
// queue, not per job. Each job is taken by exactly one worker, one at a
// time, so a slow job never holds back others queued behind it while
// another worker is idle.
//
// Lifetime: the destructor calls shutdown() with no deadline (everything
// accepted runs). Everything a job captures must outlive its run; a job that
// ignores its context can hold up shutdown until it returns.
//
// Memory ordering: a submit that returns kOk happens-before its job starts;
// a job's end happens-before shutdown() returns, and before the on_failure
// call that reports it. stats() is a relaxed snapshot and orders nothing.
#ifndef RACELAB_SYNC_WORKER_POOL_H_
#define RACELAB_SYNC_WORKER_POOL_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "racelab/sync/context.h"
#include "racelab/sync/status.h"
#include "racelab/sync/mutex.h"
#include "racelab/sync/thread_annotations.h"

namespace racelab {


// 1, 2, 3, ... in order of acceptance; never reused by a pool.
using JobId = std::uint64_t;

enum class PoolStatus { kOk, kFull, kShutdown, kCanceled, kDeadlineExceeded };

// "ok", "full", "shut down", "canceled", "deadline exceeded".
constexpr std::string_view ToString(PoolStatus s) {
  switch (s) {
    case PoolStatus::kOk: return "ok";
    case PoolStatus::kFull: return "full";
    case PoolStatus::kShutdown: return "shut down";
    case PoolStatus::kCanceled: return "canceled";
    case PoolStatus::kDeadlineExceeded: return "deadline exceeded";
  }
  return "unknown";
}

struct SubmitResult {
  PoolStatus status = PoolStatus::kOk;
  JobId id = 0;  // 0 unless accepted

  bool ok() const noexcept { return status == PoolStatus::kOk; }
  explicit operator bool() const noexcept { return ok(); }
};

// How a failing job is run again: up to max_attempts runs in all, waiting
// initial_backoff, then multiplier times longer each time (at most
// max_backoff). The wait is on a Context: canceling it ends the retries.
struct RetryPolicy {
  int max_attempts = 1;  // 1: no retry
  std::chrono::nanoseconds initial_backoff = std::chrono::milliseconds(10);
  double multiplier = 2.0;
  std::chrono::nanoseconds max_backoff = std::chrono::seconds(1);
};

// What on_failure receives for a job that failed for good.
struct JobFailure {
  JobId id = 0;
  std::string error;
  int attempts = 0;
};

// What WorkerPool::shutdown() reports.
struct PoolShutdown {
  bool deadline_exceeded = false;  // the pool's context had to be canceled
  std::vector<JobId> not_run;      // accepted, never started, in id order
};

struct PoolStats {
  std::uint64_t queued = 0;    // accepted, not yet taken by a worker
  std::uint64_t running = 0;   // taken by a worker, not finished
  std::uint64_t done = 0;      // finished with success
  std::uint64_t failed = 0;    // finished with an error (after retries)
  std::uint64_t rejected = 0;  // submits refused: full, shut down, gave up
  std::uint64_t not_run = 0;   // accepted but dropped by shutdown's deadline
};

namespace pool_internal {

// A move-only `Status(const Context&)` with 48 bytes of inline storage.
// Callables that fit (and move without throwing) live in place; trivially
// copyable ones move by memcpy. Larger ones go to the heap.
class Job {
 public:
  static constexpr std::size_t kInlineSize = 48;

  Job() noexcept = default;

  template <typename F, typename Fn = std::decay_t<F>,
            typename = std::enable_if_t<!std::is_same_v<Fn, Job>>>
  explicit Job(F&& f) {
    if constexpr (kFitsInline<Fn>) {
      ::new (static_cast<void*>(buf_)) Fn(std::forward<F>(f));
      ops_ = &kInlineOps<Fn>;
    } else {
      Fn* heap = new Fn(std::forward<F>(f));
      std::memcpy(buf_, &heap, sizeof heap);
      ops_ = &kHeapOps<Fn>;
    }
  }

  Job(Job&& other) noexcept { Take(other); }
  Job& operator=(Job&& other) noexcept {
    if (this != &other) {
      reset();
      Take(other);
    }
    return *this;
  }
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;
  ~Job() { reset(); }

  // Runs the callable. Requires: not empty. May throw what it throws.
  Status operator()(const Context& ctx) { return ops_->invoke(buf_, ctx); }

  void reset() noexcept {
    if (ops_ != nullptr) {
      if (ops_->destroy != nullptr) ops_->destroy(buf_);
      ops_ = nullptr;
    }
  }

  explicit operator bool() const noexcept { return ops_ != nullptr; }

 private:
  struct Ops {
    Status (*invoke)(void* buf, const Context& ctx);
    void (*relocate)(void* dst, void* src) noexcept;  // null: memcpy `size`
    void (*destroy)(void* buf) noexcept;              // null: nothing to do
    std::size_t size;
  };

  template <typename Fn>
  static constexpr bool kFitsInline = sizeof(Fn) <= kInlineSize &&
                                      alignof(Fn) <= alignof(std::uint64_t) &&
                                      std::is_nothrow_move_constructible_v<Fn>;

  template <typename Fn>
  static Status Call(Fn& fn, const Context& ctx) {
    return InvokeTask(fn, ctx);
  }

  template <typename Fn>
  static Fn& InlineRef(void* buf) {
    return *std::launder(static_cast<Fn*>(buf));
  }
  template <typename Fn>
  static Fn* HeapPtr(void* buf) {
    Fn* p;
    std::memcpy(&p, buf, sizeof p);
    return p;
  }

  template <typename Fn>
  static constexpr bool kTrivial =
      std::is_trivially_copyable_v<Fn> && std::is_trivially_destructible_v<Fn>;

  template <typename Fn>
  static constexpr Ops kInlineOps = {
      [](void* buf, const Context& ctx) { return Call(InlineRef<Fn>(buf), ctx); },
      kTrivial<Fn> ? nullptr
                   : +[](void* dst, void* src) noexcept {
                       ::new (dst) Fn(std::move(InlineRef<Fn>(src)));
                       InlineRef<Fn>(src).~Fn();
                     },
      std::is_trivially_destructible_v<Fn>
          ? nullptr
          : +[](void* buf) noexcept { InlineRef<Fn>(buf).~Fn(); },
      sizeof(Fn)};

  template <typename Fn>
  static constexpr Ops kHeapOps = {
      [](void* buf, const Context& ctx) { return Call(*HeapPtr<Fn>(buf), ctx); },
      nullptr,  // the pointer moves by memcpy
      +[](void* buf) noexcept { delete HeapPtr<Fn>(buf); },
      sizeof(Fn*)};

  void Take(Job& other) noexcept {
    ops_ = other.ops_;
    if (ops_ == nullptr) return;
    if (ops_->relocate != nullptr) {
      ops_->relocate(buf_, other.buf_);
    } else {
      std::memcpy(buf_, other.buf_, ops_->size);
    }
    other.ops_ = nullptr;
  }

  alignas(std::uint64_t) unsigned char buf_[kInlineSize];
  const Ops* ops_ = nullptr;
};

}  // namespace pool_internal

// Runs fn (as a pool job) up to policy.max_attempts times while it fails,
// waiting the backoff on ctx between runs; stops early when ctx is done.
// Returns the last run's Status (ok on success) and sets *attempts.
// An exception from fn is a failure (e.what()).
Status RunWithRetry(const Context& ctx, const RetryPolicy& policy,
                    const std::function<Status(const Context&)>& fn, int* attempts = nullptr);

class WorkerPool {
 public:
  struct Options {
    int workers = 2;                   // >= 1
    std::size_t queue_capacity = 1024; // >= 1; jobs accepted but not yet taken
    RetryPolicy retry = {};
    std::function<void(const JobFailure&)> on_failure = {};  // on the worker
    std::string name = "rl-pool";      // threads are "<name>-<i>" (15 bytes max)
  };

  // Starts the workers. Throws std::invalid_argument for workers < 1 or
  // queue_capacity < 1 (text names the value).
  explicit WorkerPool(Options options);
  WorkerPool() : WorkerPool(Options{}) {}
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // shutdown() with no deadline: every accepted job runs.
  ~WorkerPool();

  // Enqueues job, blocking while the queue is full. Returns {kOk, id}, or
  // kShutdown after shutdown began, or kCanceled / kDeadlineExceeded when
  // ctx is done first (at once if it is done already). The job gets the
  // pool's context, not ctx.
  template <typename F>
  SubmitResult submit(F&& job, const Context& ctx = Context::Background()) {
    pool_internal::Job j(std::forward<F>(job));
    return Submit(j, &ctx);
  }

  // Enqueues job or returns at once: {kOk, id}, kFull, or kShutdown.
  template <typename F>
  SubmitResult try_submit(F&& job) {
    pool_internal::Job j(std::forward<F>(job));
    return Submit(j, nullptr);
  }

  // Stops intake (later submits return kShutdown; blocked ones too), lets
  // the accepted jobs run until `deadline`, then cancels the pool's context
  // and waits for the running jobs to return. Returns the ids of accepted
  // jobs that never started. Idempotent: every call returns the first
  // call's result (later callers wait for it).
  // Throws: std::logic_error if called from one of this pool's workers.
  PoolShutdown shutdown(
      std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max());

  // A relaxed snapshot of the counters.
  PoolStats stats() const;

  // The context every job runs with: canceled when shutdown passes its
  // deadline (or, after a complete shutdown, because the pool is done).
  const Context& context() const noexcept { return ctx_; }

  int workers() const noexcept { return static_cast<int>(threads_.size()); }
  std::size_t queue_capacity() const noexcept { return cap_; }

 private:
  static constexpr std::uint64_t kClosedBit = std::uint64_t{1} << 63;

  struct alignas(64) Slot {
    std::atomic<std::uint64_t> seq{0};
    pool_internal::Job job;
  };

  // Per worker, on its own cache line: written by that worker only.
  struct alignas(64) WorkerCounters {
    std::atomic<std::uint64_t> done{0};
    std::atomic<std::uint64_t> failed{0};
    std::atomic<std::uint32_t> running{0};
  };

  SubmitResult Submit(pool_internal::Job& job, const Context* ctx);
  SubmitResult SubmitBlocking(pool_internal::Job& job, const Context& ctx)
      RACELAB_EXCLUDES(space_mu_, mu_);
  PoolStatus TryEnqueue(pool_internal::Job& job, JobId* id) RACELAB_EXCLUDES(mu_);
  bool TryDequeue(pool_internal::Job* job, JobId* id);
  void WakeWorker() RACELAB_EXCLUDES(mu_);
  void WakeSubmitters() RACELAB_EXCLUDES(space_mu_);
  bool Park() RACELAB_EXCLUDES(mu_);
  void WorkerLoop(int index) RACELAB_EXCLUDES(mu_);
  void Run(pool_internal::Job& job, JobId id, WorkerCounters& counters);
  std::size_t Index(std::uint64_t pos) const noexcept {
    return pow2_ ? static_cast<std::size_t>(pos & (ring_ - 1))
                 : static_cast<std::size_t>(pos % ring_);
  }
  void CountRejected() noexcept { rejected_.fetch_add(1, std::memory_order_relaxed); }

  const std::size_t cap_;   // jobs accepted and not yet taken, at most
  // Slots in the ring: cap_, but at least 2 (with one slot, "filled at
  // lap n" and "free for lap n+1" would carry the same sequence number).
  const std::size_t ring_;
  const bool pow2_;
  const std::size_t space_threshold_;  // wake submitters once this many slots are free
  const RetryPolicy retry_;
  const std::function<void(const JobFailure&)> on_failure_;
  Context ctx_;         // set by the constructor, before any worker starts
  CancelFunc cancel_;   // likewise
  std::unique_ptr<Slot[]> slots_;
  std::unique_ptr<WorkerCounters[]> counters_;

  // The ring's two ends, each on its own cache line. tail_ carries
  // kClosedBit once shutdown began: a submit's compare-exchange on tail_ is
  // what accepts a job, so "accepted" and "closed" cannot cross.
  alignas(64) std::atomic<std::uint64_t> tail_{0};
  alignas(64) std::atomic<std::uint64_t> head_{0};
  // Workers parked (or about to park); a submit wakes one only if > 0.
  alignas(64) std::atomic<int> idle_{0};
  // Submitters waiting for room; a worker wakes them only if > 0.
  alignas(64) std::atomic<int> space_waiters_{0};
  std::atomic<bool> abort_{false};  // shutdown's deadline passed: take no more
  std::atomic<std::uint64_t> rejected_{0};

  // Parking for workers and the shutdown handshake.
  alignas(64) mutable Mutex mu_ RACELAB_ACQUIRED_AFTER(space_mu_);
  CondVar wake_;     // workers: wake_epoch_ moved
  CondVar changed_;  // shutdown callers: a worker exited / shutdown finished
  std::uint64_t wake_epoch_ RACELAB_GUARDED_BY(mu_) = 0;
  int live_workers_ RACELAB_GUARDED_BY(mu_) = 0;
  enum class Phase { kRunning, kShuttingDown, kShutDown };
  Phase phase_ RACELAB_GUARDED_BY(mu_) = Phase::kRunning;
  PoolShutdown result_ RACELAB_GUARDED_BY(mu_);
  std::uint64_t not_run_ RACELAB_GUARDED_BY(mu_) = 0;

  // Parking for submitters blocked on a full queue.
  Mutex space_mu_;
  CondVar space_;  // space_epoch_ moved
  std::uint64_t space_epoch_ RACELAB_GUARDED_BY(space_mu_) = 0;

  std::vector<std::thread> threads_;  // written by the constructor only
};

}  // namespace racelab

#endif  // RACELAB_SYNC_WORKER_POOL_H_
