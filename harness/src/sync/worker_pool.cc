#include "racelab/sync/worker_pool.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <deque>
#include <exception>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <vector>

#include "racelab/base/thread_name.h"
#include "racelab/sync/mutex.h"
#include "racelab/sync/thread_annotations.h"

namespace racelab {

namespace {

// How often an idle worker yields, looking for work, before it parks.
constexpr int kSpinsBeforePark = 64;

// The failure of a job that threw.
Status FailureOf(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return std::string(ex.what());
  } catch (...) {
    return std::string("unknown exception");
  }
}

template <typename Fn>
Status RunWithRetryImpl(const Context& ctx, const RetryPolicy& policy, Fn&& fn, int* attempts) {
  Status err;
  auto backoff = policy.initial_backoff;
  int n = 0;
  for (;;) {
    ++n;
    try {
      err = fn(ctx);
    } catch (...) {
      err = FailureOf(std::current_exception());
    }
    if (err.ok() || n >= policy.max_attempts || ctx.done()) break;
    if (ctx.wait_for(backoff)) break;  // canceled while backing off
    const double next = static_cast<double>(backoff.count()) * policy.multiplier;
    backoff = next >= static_cast<double>(policy.max_backoff.count())
                  ? policy.max_backoff
                  : std::chrono::nanoseconds(static_cast<std::int64_t>(next));
  }
  if (attempts != nullptr) *attempts = n;
  return err;
}

std::size_t CheckedCapacity(std::size_t capacity) {
  if (capacity < 1) {
    throw std::invalid_argument("worker_pool: queue_capacity must be >= 1 (got " +
                                std::to_string(capacity) + ")");
  }
  return capacity;
}

}  // namespace

// Everything behind the public WorkerPool: the ring, the workers and their
// counters, the parking of idle workers and of blocked submitters, and the
// shutdown handshake. Its methods keep the names the pool's own had.
class WorkerPool::Impl {
 public:
  explicit Impl(Options options);

  SubmitResult Submit(pool_internal::Job& job, const Context* ctx);
  // How the pool's context ends: when the deadline passes (shutdown()), or
  // at once, before the drain (the destructor).
  enum class Cancel { kAtDeadline, kFirst };
  PoolShutdown Shutdown(std::chrono::steady_clock::time_point deadline,
                        Cancel cancel = Cancel::kAtDeadline);
  PoolStats Stats() const;
  const Context& context() const noexcept { return ctx_; }
  int workers() const noexcept { return static_cast<int>(threads_.size()); }
  std::size_t queue_capacity() const noexcept { return cap_; }

 private:
  using Slot = pool_internal::Slot;

  static constexpr std::uint64_t kClosedBit = std::uint64_t{1} << 63;

  // Per worker, on its own cache line: written by that worker only.
  struct alignas(64) WorkerCounters {
    std::atomic<std::uint64_t> done{0};
    std::atomic<std::uint64_t> failed{0};
    std::atomic<std::uint32_t> running{0};
  };

  // A submitter blocked on a full queue, in line in waiters_.
  struct Waiter {
    explicit Waiter(pool_internal::Job& j) : job(j) {}
    pool_internal::Job& job;
    PoolStatus status = PoolStatus::kFull;  // kFull: still in line
    JobId id = 0;
    CondVar served;  // status changed
  };
  // Whether an enqueue queues behind the blocked submitters (a submit or
  // try_submit) or serves them (ServeWaitersLocked, on their behalf).
  enum class Line { kBehindWaiters, kForWaiter };

  SubmitResult SubmitBlocking(pool_internal::Job& job, const Context& ctx)
      RACELAB_EXCLUDES(space_mu_, mu_);
  PoolStatus TryEnqueue(pool_internal::Job& job, JobId* id, Line line) RACELAB_EXCLUDES(mu_);
  bool TryDequeue(pool_internal::Job* job, JobId* id);
  void WakeWorker() RACELAB_EXCLUDES(mu_);
  // Enqueues the jobs of blocked submitters, first come first served, while
  // there is room (or marks them kShutdown once intake stopped).
  void ServeWaitersLocked() RACELAB_REQUIRES(space_mu_);
  void ServeWaiters() RACELAB_EXCLUDES(space_mu_);
  bool Park() RACELAB_EXCLUDES(mu_);
  void WorkerLoop(int index) RACELAB_EXCLUDES(mu_);
  void Run(pool_internal::Job& job, JobId id, WorkerCounters& counters);
  // cancel_(cause); a callback's exception is printed, never thrown.
  void CancelContext(const char* cause);
  std::size_t Index(std::uint64_t pos) const noexcept {
    return pow2_ ? static_cast<std::size_t>(pos & (ring_ - 1))
                 : static_cast<std::size_t>(pos % ring_);
  }
  void CountRejected() noexcept { rejected_.fetch_add(1, std::memory_order_relaxed); }

  const std::size_t cap_;  // jobs accepted and not yet taken, at most
  // Slots in the ring: cap_, but at least 2 (with one slot, "filled at
  // lap n" and "free for lap n+1" would carry the same sequence number).
  const std::size_t ring_;
  const bool pow2_;
  const RetryPolicy retry_;
  const std::function<void(const JobFailure&)> on_failure_;
  Context ctx_;        // set by the constructor, before any worker starts
  CancelFunc cancel_;  // likewise
  std::unique_ptr<pool_internal::Slot[]> slots_;
  std::unique_ptr<WorkerCounters[]> counters_;

  // The ring's two ends, each on its own cache line. tail_ carries
  // kClosedBit once shutdown began: a submit's compare-exchange on tail_ is
  // what accepts a job, so "accepted" and "closed" cannot cross.
  alignas(64) std::atomic<std::uint64_t> tail_{0};
  alignas(64) std::atomic<std::uint64_t> head_{0};
  // Workers parked (or about to park); a submit wakes one only if > 0.
  alignas(64) std::atomic<int> idle_{0};
  // waiters_.size(), for the lock-free paths: a submit that sees it > 0
  // queues behind them; a worker that frees a slot serves them if > 0.
  alignas(64) std::atomic<std::size_t> waiting_{0};
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

  // Submitters blocked on a full queue, in arrival order (Go's sendq).
  Mutex space_mu_;
  std::deque<Waiter*> waiters_ RACELAB_GUARDED_BY(space_mu_);

  std::vector<std::thread> threads_;  // written by the constructor only
};

Status RunWithRetry(const Context& ctx, const RetryPolicy& policy,
                    const std::function<Status(const Context&)>& fn, int* attempts) {
  return RunWithRetryImpl(ctx, policy, fn, attempts);
}

WorkerPool::Impl::Impl(Options options)
    : cap_(CheckedCapacity(options.queue_capacity)),
      ring_(std::max<std::size_t>(cap_, 2)),
      pow2_((ring_ & (ring_ - 1)) == 0),
      retry_(options.retry),
      on_failure_(std::move(options.on_failure)),
      slots_(std::make_unique<Slot[]>(ring_)) {
  if (options.workers < 1) {
    throw std::invalid_argument("worker_pool: workers must be >= 1 (got " +
                                std::to_string(options.workers) + ")");
  }
  std::tie(ctx_, cancel_) = WithCancel(Context::Background());
  for (std::size_t i = 0; i < ring_; ++i) slots_[i].seq.store(i, std::memory_order_relaxed);
  counters_ = std::make_unique<WorkerCounters[]>(options.workers);
  {
    MutexLock lock(mu_);
    live_workers_ = options.workers;
  }
  threads_.reserve(options.workers);
  try {
    for (int i = 0; i < options.workers; ++i) {
      threads_.emplace_back([this, i, name = options.name] {
        SetCurrentThreadName(name + "-" + std::to_string(i));
        WorkerLoop(i);
      });
    }
  } catch (...) {
    {
      MutexLock lock(mu_);
      live_workers_ -= options.workers - static_cast<int>(threads_.size());
    }
    Shutdown(std::chrono::steady_clock::time_point::max());
    throw;
  }
}

SubmitResult WorkerPool::Impl::Submit(pool_internal::Job& job, const Context* ctx) {
  if (ctx != nullptr && ctx->done()) {
    CountRejected();
    return {StatusFor<PoolStatus>(ctx->err())};
  }
  JobId id = 0;
  const PoolStatus s = TryEnqueue(job, &id, Line::kBehindWaiters);
  if (s == PoolStatus::kOk) return {s, id};
  if (s == PoolStatus::kFull && ctx != nullptr) return SubmitBlocking(job, *ctx);
  CountRejected();
  return {s};
}

PoolStatus WorkerPool::Impl::TryEnqueue(pool_internal::Job& job, JobId* id, Line line) {
  std::uint64_t pos = tail_.load(std::memory_order_relaxed);
  Slot* slot;
  for (;;) {
    if ((pos & kClosedBit) != 0) return PoolStatus::kShutdown;
    // Blocked submitters first: a free slot is theirs (a worker is about to
    // hand it over), so the queue is full for everyone else.
    if (line == Line::kBehindWaiters && waiting_.load(std::memory_order_seq_cst) > 0) {
      return PoolStatus::kFull;
    }
    slot = &slots_[Index(pos)];
    // seq_cst: a blocked submitter's first look pairs with the worker's
    // seq_cst release of the slot (see TryDequeue).
    const std::uint64_t seq = slot->seq.load(std::memory_order_seq_cst);
    const auto diff = static_cast<std::int64_t>(seq - pos);
    if (diff == 0) {
      // Only when the ring is larger than the capacity (capacity 1): count.
      // seq_cst: pairs with the worker's head CAS, as the slot check does.
      if (ring_ != cap_) {
        const std::uint64_t head = head_.load(std::memory_order_seq_cst);
        if (head > pos) {  // our tail was stale
          pos = tail_.load(std::memory_order_relaxed);
          continue;
        }
        if (pos - head >= cap_) return PoolStatus::kFull;
      }
      if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_seq_cst,
                                      std::memory_order_relaxed)) {
        break;
      }
    } else if (diff < 0) {
      return PoolStatus::kFull;  // the slot still holds a job one lap behind
    } else {
      pos = tail_.load(std::memory_order_relaxed);
    }
  }
  slot->job = std::move(job);
  slot->seq.store(pos + 1, std::memory_order_release);  // publishes the job
  *id = pos + 1;
  // Dekker pairing with Park(): our seq_cst tail CAS precedes this load; a
  // parking worker's seq_cst idle_ increment precedes its tail load. One of
  // us sees the other.
  if (idle_.load(std::memory_order_seq_cst) > 0) WakeWorker();
  return PoolStatus::kOk;
}

bool WorkerPool::Impl::TryDequeue(pool_internal::Job* job, JobId* id) {
  std::uint64_t pos = head_.load(std::memory_order_relaxed);
  Slot* slot;
  for (;;) {
    slot = &slots_[Index(pos)];
    const std::uint64_t seq = slot->seq.load(std::memory_order_acquire);
    const auto diff = static_cast<std::int64_t>(seq - (pos + 1));
    if (diff == 0) {
      if (head_.compare_exchange_weak(pos, pos + 1, std::memory_order_seq_cst,
                                      std::memory_order_relaxed)) {
        break;
      }
    } else if (diff < 0) {
      return false;  // empty (or the job at head is not published yet)
    } else {
      pos = head_.load(std::memory_order_relaxed);
    }
  }
  *job = std::move(slot->job);
  // Frees the slot for the submit one lap later. seq_cst, with the load of
  // waiting_ after it (Dekker with SubmitBlocking, which counts itself in
  // waiting_ and then looks at the slot): either the submitter's look sees
  // the free slot, or we see it waiting and hand it the slot. Every freed
  // slot serves one waiter, at once.
  slot->seq.store(pos + ring_, std::memory_order_seq_cst);
  *id = pos + 1;
  if (waiting_.load(std::memory_order_seq_cst) > 0) ServeWaiters();
  return true;
}

void WorkerPool::Impl::WakeWorker() {
  MutexLock lock(mu_);
  ++wake_epoch_;
  wake_.NotifyOne();
}

void WorkerPool::Impl::ServeWaiters() {
  MutexLock lock(space_mu_);
  ServeWaitersLocked();
}

void WorkerPool::Impl::ServeWaitersLocked() {
  while (!waiters_.empty()) {
    Waiter& w = *waiters_.front();
    const PoolStatus s = TryEnqueue(w.job, &w.id, Line::kForWaiter);
    if (s == PoolStatus::kFull) return;
    w.status = s;  // kOk, or kShutdown
    waiters_.pop_front();
    waiting_.fetch_sub(1, std::memory_order_seq_cst);
    w.served.NotifyOne();  // under space_mu_: w lives until its owner relocks
  }
}

SubmitResult WorkerPool::Impl::SubmitBlocking(pool_internal::Job& job, const Context& ctx) {
  Waiter w(job);
  auto finish = [&]() RACELAB_REQUIRES(space_mu_) -> SubmitResult {
    if (w.status != PoolStatus::kOk) CountRejected();
    return {w.status, w.id};
  };
  {
    MutexLock lock(space_mu_);
    // In line first, then a look at the ring (Dekker with TryDequeue).
    waiters_.push_back(&w);
    waiting_.fetch_add(1, std::memory_order_seq_cst);
    ServeWaitersLocked();
    if (w.status != PoolStatus::kFull) return finish();
  }
  // Wakes this wait when ctx is done, canceled or at its deadline (on time,
  // whatever clock it reads). Registered once we are in line, so a test
  // that sees it registered knows the submit waits its turn; unregistered
  // after space_mu_ is released (declared before the lock).
  CallbackHandle wake = ctx.on_done([this, &w] {
    MutexLock lock(space_mu_);
    w.served.NotifyOne();
  });
  MutexLock lock(space_mu_);
  while (w.status == PoolStatus::kFull && !ctx.done()) w.served.Wait(lock);
  if (w.status == PoolStatus::kFull) {
    ServeWaitersLocked();  // a last look: room may have come with the deadline
  }
  if (w.status == PoolStatus::kFull) {
    waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &w));
    waiting_.fetch_sub(1, std::memory_order_seq_cst);
    CountRejected();
    return {StatusFor<PoolStatus>(ctx.err())};
  }
  return finish();
}

bool WorkerPool::Impl::Park() {
  MutexLock lock(mu_);
  idle_.fetch_add(1, std::memory_order_seq_cst);
  bool keep_going = true;
  for (;;) {
    if (abort_.load(std::memory_order_relaxed)) {
      keep_going = false;
      break;
    }
    const std::uint64_t tail = tail_.load(std::memory_order_seq_cst);
    const std::uint64_t head = head_.load(std::memory_order_seq_cst);
    if ((tail & ~kClosedBit) != head) break;  // work, maybe still being published
    if ((tail & kClosedBit) != 0) {           // closed and drained: nothing ever again
      keep_going = false;
      break;
    }
    const std::uint64_t epoch = wake_epoch_;
    wake_.Wait(lock, [&]() RACELAB_REQUIRES(mu_) { return wake_epoch_ != epoch; });
  }
  idle_.fetch_sub(1, std::memory_order_seq_cst);
  return keep_going;
}

void WorkerPool::Impl::WorkerLoop(int index) {
  WorkerCounters& counters = counters_[index];
  pool_internal::Job job;
  JobId id = 0;
  while (!abort_.load(std::memory_order_relaxed)) {
    if (TryDequeue(&job, &id)) {
      Run(job, id, counters);
      continue;
    }
    // Before parking (a futex sleep, and a futex wake for the next submit),
    // give a busy producer a moment: tiny jobs arrive faster than a
    // wake-up takes.
    bool arrived = false;
    for (int spin = 0; spin < kSpinsBeforePark && !arrived; ++spin) {
      std::this_thread::yield();
      arrived = head_.load(std::memory_order_relaxed) !=
                (tail_.load(std::memory_order_relaxed) & ~kClosedBit);
    }
    if (arrived) continue;
    if (!Park()) break;
    // A submit that claimed a slot but has not published it yet: let it run.
    if (head_.load(std::memory_order_relaxed) !=
        (tail_.load(std::memory_order_relaxed) & ~kClosedBit)) {
      std::this_thread::yield();
    }
  }
  MutexLock lock(mu_);
  --live_workers_;
  changed_.NotifyAll();
}

void WorkerPool::Impl::Run(pool_internal::Job& job, JobId id, WorkerCounters& counters) {
  // Single writer per counter: a relaxed load and store, no locked add.
  auto bump = [](std::atomic<std::uint64_t>& c) {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  };
  counters.running.store(1, std::memory_order_relaxed);
  Status err;
  int attempts = 1;
  if (retry_.max_attempts <= 1) {
    try {
      err = job(ctx_);
    } catch (...) {
      err = FailureOf(std::current_exception());
    }
  } else {
    err = RunWithRetryImpl(ctx_, retry_, job, &attempts);
  }
  job.reset();
  counters.running.store(0, std::memory_order_relaxed);
  if (err.ok()) {
    bump(counters.done);
    return;
  }
  bump(counters.failed);
  if (!on_failure_) return;
  try {
    on_failure_(JobFailure{id, err.message(), attempts});
  } catch (const std::exception& e) {
    std::fprintf(stderr, "racelab::WorkerPool: on_failure threw: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "racelab::WorkerPool: on_failure threw\n");
  }
}

PoolShutdown WorkerPool::Impl::Shutdown(std::chrono::steady_clock::time_point deadline,
                                        Cancel cancel) {
  for (const std::thread& t : threads_) {
    if (t.get_id() == std::this_thread::get_id()) {
      throw std::logic_error(
          "worker_pool: shutdown() called from one of its own workers (it would wait for "
          "itself)");
    }
  }
  {
    MutexLock lock(mu_);
    if (phase_ != Phase::kRunning) {
      changed_.Wait(lock, [&]() RACELAB_REQUIRES(mu_) { return phase_ == Phase::kShutDown; });
      return result_;
    }
    phase_ = Phase::kShuttingDown;
  }
  PoolShutdown result;

  // 1. Intake stops: every submit whose tail CAS came before this is
  //    accepted (and will be published); every later one sees the bit.
  const std::uint64_t end = tail_.fetch_or(kClosedBit, std::memory_order_seq_cst) & ~kClosedBit;
  ServeWaiters();  // blocked submits return kShutdown
  {
    MutexLock lock(mu_);
    ++wake_epoch_;
    wake_.NotifyAll();  // parked workers drain, then exit
  }

  // 2. Drain until the deadline; then cancel the jobs' context and take no
  //    more jobs from the queue. The destructor cancels first: a job that
  //    waits for the pool's context returns, and the queued ones still run.
  if (cancel == Cancel::kFirst) CancelContext("worker_pool: destroyed");
  {
    MutexLock lock(mu_);
    auto all_exited = [&]() RACELAB_REQUIRES(mu_) { return live_workers_ == 0; };
    if (deadline == std::chrono::steady_clock::time_point::max()) {
      changed_.Wait(lock, all_exited);
    } else {
      result.deadline_exceeded = !changed_.WaitUntil(lock, deadline, all_exited);
    }
  }
  if (result.deadline_exceeded) {
    abort_.store(true, std::memory_order_relaxed);
    CancelContext("worker_pool: shutdown deadline passed");
    MutexLock lock(mu_);
    ++wake_epoch_;
    wake_.NotifyAll();
    changed_.Wait(lock, [&]() RACELAB_REQUIRES(mu_) { return live_workers_ == 0; });
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }

  // 3. What no worker took was accepted and never ran: report it by id.
  for (std::uint64_t pos = head_.load(std::memory_order_relaxed); pos < end; ++pos) {
    Slot& slot = slots_[Index(pos)];
    // Its submitter won the tail CAS before the close; it publishes soon.
    while (slot.seq.load(std::memory_order_acquire) != pos + 1) std::this_thread::yield();
    slot.job.reset();
    result.not_run.push_back(pos + 1);
  }
  head_.store(end, std::memory_order_relaxed);
  CancelContext("worker_pool: shut down");  // no-op if canceled already

  MutexLock lock(mu_);
  not_run_ = result.not_run.size();
  result_ = result;
  phase_ = Phase::kShutDown;
  changed_.NotifyAll();
  return result;
}

void WorkerPool::Impl::CancelContext(const char* cause) {
  try {
    cancel_(cause);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "racelab::WorkerPool: context callback threw: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "racelab::WorkerPool: context callback threw\n");
  }
}

PoolStats WorkerPool::Impl::Stats() const {
  PoolStats s;
  const std::uint64_t head = head_.load(std::memory_order_relaxed);
  const std::uint64_t tail = tail_.load(std::memory_order_relaxed) & ~kClosedBit;
  s.queued = tail > head ? tail - head : 0;
  for (std::size_t i = 0; i < threads_.size(); ++i) {
    s.running += counters_[i].running.load(std::memory_order_relaxed);
    s.done += counters_[i].done.load(std::memory_order_relaxed);
    s.failed += counters_[i].failed.load(std::memory_order_relaxed);
  }
  s.rejected = rejected_.load(std::memory_order_relaxed);
  {
    MutexLock lock(mu_);
    s.not_run = not_run_;
    if (phase_ == Phase::kShutDown) s.queued = 0;
  }
  return s;
}

// ---- WorkerPool: the public face --------------------------------------------

WorkerPool::WorkerPool(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
WorkerPool::WorkerPool() : WorkerPool(Options{}) {}
WorkerPool::~WorkerPool() {
  impl_->Shutdown(std::chrono::steady_clock::time_point::max(), Impl::Cancel::kFirst);
}

SubmitResult WorkerPool::Submit(pool_internal::Job& job, const Context* ctx) {
  return impl_->Submit(job, ctx);
}

PoolShutdown WorkerPool::shutdown(std::chrono::steady_clock::time_point deadline) {
  return impl_->Shutdown(deadline);
}

PoolStats WorkerPool::stats() const { return impl_->Stats(); }
const Context& WorkerPool::context() const noexcept { return impl_->context(); }
int WorkerPool::workers() const noexcept { return impl_->workers(); }
std::size_t WorkerPool::queue_capacity() const noexcept { return impl_->queue_capacity(); }

}  // namespace racelab
