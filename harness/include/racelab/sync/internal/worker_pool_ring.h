// Internals of WorkerPool (racelab/sync/worker_pool.h), not API: the cells
// of the pool's ring and what they hold. Included by worker_pool.h only
// because its submit() templates wrap a callable in a Job.
//
// Job: a move-only, type-erased `Status(const Context&)` with 48 bytes of
// inline storage, so that submitting a small callable allocates nothing.
// Slot: one cell of the bounded MPMC ring (Vyukov's), a Job and the
// sequence number that says whose turn the cell is.
//
// Memory ordering: none of their own. The pool publishes a Slot's job with
// a release store of its seq and takes it after an acquire load
// (worker_pool.cc).
#ifndef RACELAB_SYNC_INTERNAL_WORKER_POOL_RING_H_
#define RACELAB_SYNC_INTERNAL_WORKER_POOL_RING_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

#include "racelab/sync/context.h"
#include "racelab/sync/status.h"

namespace racelab {
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
  static constexpr bool kFitsInline =
      sizeof(Fn) <= kInlineSize &&
      alignof(Fn) <= alignof(std::uint64_t) && std::is_nothrow_move_constructible_v<Fn>;

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
  static constexpr bool kTrivial = (std::is_trivially_copyable_v<Fn> &&
                                    std::is_trivially_destructible_v<Fn>);

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
      +[](void* buf) noexcept { delete HeapPtr<Fn>(buf); }, sizeof(Fn*)};

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

// One cell of the ring, on its own cache line.
struct alignas(64) Slot {
  std::atomic<std::uint64_t> seq{0};
  Job job;
};

}  // namespace pool_internal

}  // namespace racelab

#endif  // RACELAB_SYNC_INTERNAL_WORKER_POOL_RING_H_
