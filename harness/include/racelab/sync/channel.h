// Channel<T>: a typed, thread-safe FIFO queue with the semantics of Go's
// channels, and statuses instead of panics.
//
// Capacity 0 is a rendezvous: send() returns only once a receiver has taken
// the value. Capacity N buffers up to N values: send() blocks only while the
// buffer is full. Operations:
//   send(v) / recv()            block (until room / a value, or close).
//   send(v, ctx) / recv(ctx)    block, but give up when ctx is done
//                               (canceled, or its deadline passed).
//   try_send(v) / try_recv()    never block: kFull / kEmpty instead.
//   close()                     no more sends; receivers drain what is
//                               buffered, then see kClosed.
//   len(), cap(), closed()      snapshots.
//
//   racelab::Channel<Job> jobs(64);
//   // producer                          // consumer
//   jobs.send(std::move(job));           while (auto r = jobs.recv(ctx)) run(*r.value);
//   jobs.close();                        // r.status: kClosed, kCanceled, ...
//
// Every expected outcome is a ChanStatus, never an exception and never a
// crash: sending on a closed channel is kClosed (Go panics), closing twice
// is kClosed. A send that does not succeed leaves the caller's value
// untouched (it is moved from only on kOk), so nothing is lost by a full or
// closed channel. Waiters are served in no particular order (like Go's,
// with no fairness guarantee beyond "nobody waits while they could go").
// A context that is already done makes send(v, ctx)/recv(ctx) give up at
// once, even if the operation could have completed.
//
// Requires of T: move-constructible; also move-assignable for capacity 0
// (a rendezvous send that gives up takes its value back).
//
// Lifetime: the channel must outlive every call on it; destroy it only when
// no thread is blocked in it.
//
// Memory ordering: a successful send of a value happens-before the recv
// that returns it completes; for capacity 0, that recv happens-before the
// send returns kOk (as in Go). close() happens-before every recv that
// returns kClosed because of it. Every operation takes the channel's mutex,
// so operations on one channel are linearizable.
#ifndef RACELAB_SYNC_CHANNEL_H_
#define RACELAB_SYNC_CHANNEL_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "racelab/sync/context.h"
#include "racelab/sync/mutex.h"
#include "racelab/sync/thread_annotations.h"

namespace racelab {

enum class ChanStatus { kOk, kClosed, kFull, kEmpty, kCanceled, kDeadlineExceeded };

// "ok", "closed", "full", "empty", "canceled", "deadline exceeded".
constexpr std::string_view ToString(ChanStatus s) {
  switch (s) {
    case ChanStatus::kOk: return "ok";
    case ChanStatus::kClosed: return "closed";
    case ChanStatus::kFull: return "full";
    case ChanStatus::kEmpty: return "empty";
    case ChanStatus::kCanceled: return "canceled";
    case ChanStatus::kDeadlineExceeded: return "deadline exceeded";
  }
  return "unknown";
}

// What recv() returns: a value exactly when status is kOk.
template <typename T>
struct RecvResult {
  ChanStatus status = ChanStatus::kEmpty;
  std::optional<T> value;

  bool ok() const noexcept { return status == ChanStatus::kOk; }
  explicit operator bool() const noexcept { return ok(); }
};

template <typename T>
class Channel {
 public:
  // capacity 0: rendezvous; N: buffers up to N values.
  explicit Channel(std::size_t capacity = 0)
      : cap_(capacity), ring_(std::max<std::size_t>(capacity, 1)) {}
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // Blocks until the value is buffered (capacity N) or taken by a receiver
  // (capacity 0). Returns kOk, or kClosed if the channel is or becomes
  // closed first. Guarantees: `value` is moved from only on kOk.
  ChanStatus send(T&& value) RACELAB_EXCLUDES(mu_) { return SendImpl(value, nullptr); }
  ChanStatus send(const T& value) RACELAB_EXCLUDES(mu_) {
    T copy(value);
    return SendImpl(copy, nullptr);
  }

  // As send(value), but gives up with kCanceled / kDeadlineExceeded when
  // ctx is done (at once if it is done already).
  ChanStatus send(T&& value, const Context& ctx) RACELAB_EXCLUDES(mu_) {
    return SendWithContext(value, ctx);
  }
  ChanStatus send(const T& value, const Context& ctx) RACELAB_EXCLUDES(mu_) {
    T copy(value);
    return SendWithContext(copy, ctx);
  }

  // Never blocks: kOk if the value went into the buffer or straight to a
  // waiting receiver, kFull if it would have to wait, kClosed if closed.
  // Guarantees: `value` is moved from only on kOk.
  ChanStatus try_send(T&& value) RACELAB_EXCLUDES(mu_) { return TrySendImpl(value); }
  ChanStatus try_send(const T& value) RACELAB_EXCLUDES(mu_) {
    T copy(value);
    return TrySendImpl(copy);
  }

  // Blocks until a value is there (kOk) or the channel is closed and
  // drained (kClosed).
  RecvResult<T> recv() RACELAB_EXCLUDES(mu_) { return RecvImpl(nullptr); }

  // As recv(), but gives up with kCanceled / kDeadlineExceeded when ctx is
  // done (at once if it is done already).
  RecvResult<T> recv(const Context& ctx) RACELAB_EXCLUDES(mu_) {
    if (ctx.done()) return {FromContext(ctx), std::nullopt};
    {
      MutexLock lock(mu_);
      if (size_ > 0) return {ChanStatus::kOk, PopLocked()};
      if (closed_) return {ChanStatus::kClosed, std::nullopt};
    }
    CallbackHandle wake = ctx.on_done([this] { WakeAll(); });
    return RecvImpl(&ctx);
    // `wake` unregisters here, after RecvImpl released mu_ (the callback
    // takes mu_, and stop() may wait for it).
  }

  // Never blocks: kOk with a value, kEmpty if none is there (a sender
  // blocked on a rendezvous counts as there), kClosed if closed and drained.
  RecvResult<T> try_recv() RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    if (size_ > 0) return {ChanStatus::kOk, PopLocked()};
    return {closed_ ? ChanStatus::kClosed : ChanStatus::kEmpty, std::nullopt};
  }

  // Closes the channel: sends fail with kClosed from now on; receivers get
  // what is buffered, then kClosed; blocked senders return kClosed with
  // their value. Returns kOk, or kClosed if it was closed already.
  ChanStatus close() RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    if (closed_) return ChanStatus::kClosed;
    closed_ = true;
    not_empty_.NotifyAll();
    not_full_.NotifyAll();
    taken_.NotifyAll();
    return ChanStatus::kOk;
  }

  // Values buffered now (always 0 for capacity 0, as in Go).
  std::size_t len() const RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return cap_ == 0 ? 0 : size_;
  }
  std::size_t cap() const noexcept { return cap_; }
  bool closed() const RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return closed_;
  }

 private:
  static ChanStatus FromContext(const Context& ctx) { return StatusFor<ChanStatus>(ctx.err()); }

  // Room for one more value: capacity N buffers N; a rendezvous holds the
  // one value in flight until a receiver takes it.
  bool HasRoomLocked() const RACELAB_REQUIRES(mu_) {
    return size_ < std::max<std::size_t>(cap_, 1);
  }

  // Waits on cv until ready() or (with a ctx) ctx is done; returns ready().
  template <typename Ready>
  bool WaitLocked(MutexLock& lock, CondVar& cv, const Context* ctx, Ready ready)
      RACELAB_REQUIRES(mu_) {
    if (ctx == nullptr) {
      cv.Wait(lock, ready);
      return true;
    }
    // The caller's on_done callback wakes cv when ctx is done, canceled or
    // at its deadline (on time, whatever clock ctx reads).
    cv.Wait(lock, [&]() RACELAB_REQUIRES(mu_) { return ready() || ctx->done(); });
    return ready();
  }

  // Moves value into the ring; returns its ticket. Wakes a receiver.
  std::uint64_t PushLocked(T& value) RACELAB_REQUIRES(mu_) {
    ring_[(head_ + size_) % ring_.size()].emplace(std::move(value));
    ++size_;
    if (receivers_waiting_ > 0) not_empty_.NotifyOne();
    return ++pushed_;
  }

  // Moves the oldest value out. Wakes a sender waiting for room and, for a
  // rendezvous, the sender waiting for this value to be taken.
  std::optional<T> PopLocked() RACELAB_REQUIRES(mu_) {
    std::optional<T> value = std::move(ring_[head_]);
    ring_[head_].reset();
    head_ = (head_ + 1) % ring_.size();
    --size_;
    ++popped_;
    if (senders_waiting_ > 0) not_full_.NotifyOne();
    if (cap_ == 0) taken_.NotifyAll();
    return value;
  }

  ChanStatus TrySendImpl(T& value) RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    if (closed_) return ChanStatus::kClosed;
    // A rendezvous completes at once only if a receiver already waits, and
    // then it cannot fail: the receiver is committed to taking the value.
    const bool room = cap_ == 0 ? size_ == 0 && receivers_waiting_ > 0 : size_ < cap_;
    if (!room) return ChanStatus::kFull;
    PushLocked(value);
    return ChanStatus::kOk;
  }

  ChanStatus SendWithContext(T& value, const Context& ctx) RACELAB_EXCLUDES(mu_) {
    if (ctx.done()) return FromContext(ctx);
    if (cap_ > 0) {
      MutexLock lock(mu_);
      if (closed_) return ChanStatus::kClosed;
      if (size_ < cap_) {
        PushLocked(value);
        return ChanStatus::kOk;
      }
    }
    CallbackHandle wake = ctx.on_done([this] { WakeAll(); });
    return SendImpl(value, &ctx);
    // `wake` unregisters after SendImpl released mu_.
  }

  ChanStatus SendImpl(T& value, const Context* ctx) RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    ++senders_waiting_;
    const bool room = WaitLocked(
        lock, not_full_, ctx, [&]() RACELAB_REQUIRES(mu_) { return closed_ || HasRoomLocked(); });
    --senders_waiting_;
    if (closed_) return ChanStatus::kClosed;
    if (!room) return FromContext(*ctx);
    const std::uint64_t ticket = PushLocked(value);
    if (cap_ > 0) return ChanStatus::kOk;

    // Rendezvous: wait until a receiver took it (popped_ reaches ticket).
    WaitLocked(lock, taken_, ctx,
               [&]() RACELAB_REQUIRES(mu_) { return popped_ >= ticket || closed_; });
    if (popped_ >= ticket) return ChanStatus::kOk;
    // Closed or given up while still in flight: it is the only value in the
    // ring (a rendezvous holds one); take it back.
    value = std::move(*ring_[head_]);
    ring_[head_].reset();
    head_ = (head_ + 1) % ring_.size();
    --size_;
    --pushed_;
    if (senders_waiting_ > 0) not_full_.NotifyOne();
    return closed_ ? ChanStatus::kClosed : FromContext(*ctx);
  }

  RecvResult<T> RecvImpl(const Context* ctx) RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    ++receivers_waiting_;
    // A value that is there wins over a context that is done meanwhile: a
    // receiver counted as waiting takes what it was woken for.
    WaitLocked(lock, not_empty_, ctx, [&]() RACELAB_REQUIRES(mu_) { return size_ > 0 || closed_; });
    --receivers_waiting_;
    if (size_ > 0) return {ChanStatus::kOk, PopLocked()};
    if (closed_) return {ChanStatus::kClosed, std::nullopt};
    return {FromContext(*ctx), std::nullopt};
  }

  // on_done callback of a context a waiter watches: the waiter re-checks.
  void WakeAll() RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    not_empty_.NotifyAll();
    not_full_.NotifyAll();
    taken_.NotifyAll();
  }

  const std::size_t cap_;
  mutable Mutex mu_;
  CondVar not_empty_;  // receivers: a value arrived, or closed
  CondVar not_full_;   // senders: room freed, or closed
  CondVar taken_;      // rendezvous senders: their value was taken, or closed
  std::vector<std::optional<T>> ring_ RACELAB_GUARDED_BY(mu_);
  std::size_t head_ RACELAB_GUARDED_BY(mu_) = 0;
  std::size_t size_ RACELAB_GUARDED_BY(mu_) = 0;
  std::uint64_t pushed_ RACELAB_GUARDED_BY(mu_) = 0;  // tickets handed out
  std::uint64_t popped_ RACELAB_GUARDED_BY(mu_) = 0;  // values taken, in order
  int senders_waiting_ RACELAB_GUARDED_BY(mu_) = 0;
  int receivers_waiting_ RACELAB_GUARDED_BY(mu_) = 0;
  bool closed_ RACELAB_GUARDED_BY(mu_) = false;
};

}  // namespace racelab

#endif  // RACELAB_SYNC_CHANNEL_H_
