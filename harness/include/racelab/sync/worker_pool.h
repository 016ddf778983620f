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
//   submit(job, ctx)   enqueue; blocks while the queue is full, in line with
//                      the other blocked submits (first come, first
//                      served); gives up when ctx is done (kCanceled /
//                      kDeadlineExceeded).
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
// pool's context is canceled when shutdown passes its deadline, and by the
// destructor before it waits for anything. A job
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
// Design (why it is fast): the queue is a fixed ring of slots
// (internal/worker_pool_ring.h), each holding a move-only job in 48 bytes of
// inline storage (no heap allocation per job for small callables) and a
// sequence number (Vyukov's bounded MPMC queue):
// submit and take are one compare-exchange each, no lock. Threads park on a
// mutex only when there is nothing to do (an idle worker first yields a few
// times, since tiny jobs arrive faster than a futex wake-up): a submit wakes
// a worker only if one is parked. Submitters blocked on a full queue wait in
// line, as the blocked senders of a Go buffered channel do: the worker that
// frees a slot moves the first one's job into it and wakes that one
// submitter (one wake-up per freed slot, never a herd), and while anyone is
// in line the queue counts as full for every other submit and try_submit,
// so a try_submit spinner cannot take the slot. Each job is taken by exactly
// one worker, one at a time, so a slow job never holds back others queued
// behind it while another worker is idle.
//
// Lifetime: the destructor stops intake, cancels the pool's context at
// once (a job that waits on it returns), still runs every accepted job (the
// queued ones see a done context), and joins the workers. For a graceful
// drain, call shutdown(deadline) first. Everything a job captures must
// outlive its run; a job that ignores its context holds up shutdown and the
// destructor until it returns.
//
// Memory ordering: everything a submitter did before a submit or try_submit
// that returns kOk happens-before its job starts (a blocked submit's job may
// start before the submit returns: the worker moved it into the queue);
// a job's end happens-before shutdown() returns, and before the on_failure
// call that reports it. stats() is a relaxed snapshot and orders nothing.
#ifndef RACELAB_SYNC_WORKER_POOL_H_
#define RACELAB_SYNC_WORKER_POOL_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "racelab/sync/context.h"
#include "racelab/sync/internal/worker_pool_ring.h"
#include "racelab/sync/status.h"

namespace racelab {

enum class PoolStatus;
struct SubmitResult;
struct PoolShutdown;
struct PoolStats;

class WorkerPool {
 public:
  struct Options;  // workers, queue capacity, retries, on_failure, name: below

  // Starts the workers. Throws std::invalid_argument for workers < 1 or
  // queue_capacity < 1 (text names the value).
  explicit WorkerPool(Options options);
  WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Stops intake, cancels context() at once, runs the accepted jobs that
  // are still queued (they see a done context) and joins the workers.
  // Guarantees: a job that returns when its context is done cannot hang it.
  ~WorkerPool();

  // Enqueues job, blocking while the queue is full. Returns {kOk, id}, or
  // kShutdown after shutdown began, or kCanceled / kDeadlineExceeded when
  // ctx is done first (at once if it is done already). The job gets the
  // pool's context, not ctx.
  // Guarantees: blocked submits are served in the order they blocked, each
  // as soon as a slot frees for it, before any later submit or try_submit;
  // when ctx ends the wait, one last look for room comes before giving up.
  template <typename F>
  SubmitResult submit(F&& job, const Context& ctx = Context::Background());

  // Enqueues job or returns at once: {kOk, id}, kFull (also while blocked
  // submits wait their turn), or kShutdown.
  template <typename F>
  SubmitResult try_submit(F&& job);

  // Stops intake (later submits return kShutdown; blocked ones too), lets
  // the accepted jobs run until `deadline`, then cancels the pool's context
  // and waits for the running jobs to return. Returns the ids of accepted
  // jobs that never started. Idempotent: every call returns the first
  // call's result (later callers wait for it).
  // Throws: std::logic_error if called from one of this pool's workers.
  PoolShutdown shutdown(std::chrono::steady_clock::time_point deadline =
                            std::chrono::steady_clock::time_point::max());

  // A relaxed snapshot of the counters.
  PoolStats stats() const;

  // The context every job runs with: canceled when shutdown passes its
  // deadline, when the destructor begins, or after a complete shutdown
  // (because the pool is done).
  const Context& context() const noexcept;

  int workers() const noexcept;
  std::size_t queue_capacity() const noexcept;

 private:
  class Impl;  // the ring, the workers and the parking (worker_pool.cc)

  SubmitResult Submit(pool_internal::Job& job, const Context* ctx);

  std::unique_ptr<Impl> impl_;
};

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

struct WorkerPool::Options {
  int workers = 2;                    // >= 1
  std::size_t queue_capacity = 1024;  // >= 1; jobs accepted but not yet taken
  RetryPolicy retry = {};
  std::function<void(const JobFailure&)> on_failure = {};  // on the worker
  std::string name = "rl-pool";  // threads are "<name>-<i>" (15 bytes max)
};

// Runs fn (as a pool job) up to policy.max_attempts times while it fails,
// waiting the backoff on ctx between runs; stops early when ctx is done.
// Returns the last run's Status (ok on success) and sets *attempts.
// An exception from fn is a failure (e.what()).
Status RunWithRetry(const Context& ctx, const RetryPolicy& policy,
                    const std::function<Status(const Context&)>& fn, int* attempts = nullptr);

template <typename F>
SubmitResult WorkerPool::submit(F&& job, const Context& ctx) {
  pool_internal::Job j(std::forward<F>(job));
  return Submit(j, &ctx);
}

template <typename F>
SubmitResult WorkerPool::try_submit(F&& job) {
  pool_internal::Job j(std::forward<F>(job));
  return Submit(j, nullptr);
}

}  // namespace racelab

#endif  // RACELAB_SYNC_WORKER_POOL_H_
