// Mutex and MutexLock: std::mutex with its locking made visible to clang's
// thread-safety analysis (see thread_annotations.h). SharedMutex, with
// ReaderLock and WriterLock, does the same for std::shared_mutex: many
// readers or one writer.
//
//   class Cache {
//    public:
//     void Put(std::string k, int v) RACELAB_EXCLUDES(mu_) {
//       racelab::MutexLock lock(mu_);
//       map_[std::move(k)] = v;
//     }
//    private:
//     racelab::Mutex mu_;
//     std::map<std::string, int> map_ RACELAB_GUARDED_BY(mu_);
//   };
//
// Mutex keeps std::mutex's lock()/unlock()/try_lock(), so std::scoped_lock
// and std::condition_variable_any still work with it; prefer MutexLock, which
// the analysis understands. CondVar waits on a MutexLock; write the
// condition as a loop around it, where the analysis checks it:
//
//   racelab::MutexLock lock(mu_);
//   while (!ready_) cv_.Wait(lock);   // ready_ is GUARDED_BY(mu_): checked
//
// (a predicate lambda is checked only against the lock its own annotation
// names, not the one the wait releases: see CondVar).
//
// Memory ordering: unlock() happens-before every later lock() of the same
// Mutex that returns; so everything written while holding it is visible to
// the next holder. For SharedMutex, a writer's unlock() happens-before every
// later lock() and lock_shared(); readers do not order each other.
#ifndef RACELAB_SYNC_MUTEX_H_
#define RACELAB_SYNC_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#include "racelab/sync/thread_annotations.h"

namespace racelab {

class RACELAB_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  // Blocks until the calling thread holds the mutex.
  // Requires: the calling thread does not hold it already.
  void lock() RACELAB_ACQUIRE() { mu_.lock(); }
  // Requires: the calling thread holds it.
  void unlock() RACELAB_RELEASE() { mu_.unlock(); }
  // Takes the mutex if it is free; never blocks.
  bool try_lock() RACELAB_TRY_ACQUIRE(true) { return mu_.try_lock(); }

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds `mu` for its scope.
class RACELAB_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) RACELAB_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() RACELAB_RELEASE() { mu_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  friend class CondVar;
  Mutex& mu_;
};

// A reader-writer mutex: many holders in shared mode, or one in exclusive
// mode. Fields read under ReaderLock and written under WriterLock are
// RACELAB_GUARDED_BY it; the analysis then refuses a write under a reader
// lock. Keeps std::shared_mutex's member names, so std::shared_lock works.
class RACELAB_CAPABILITY("shared_mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  // Exclusive: blocks until no other thread holds it in any mode.
  void lock() RACELAB_ACQUIRE() { mu_.lock(); }
  void unlock() RACELAB_RELEASE() { mu_.unlock(); }
  bool try_lock() RACELAB_TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // Shared: blocks while a writer holds it.
  // Requires: the calling thread holds it in neither mode.
  void lock_shared() RACELAB_ACQUIRE_SHARED() { mu_.lock_shared(); }
  void unlock_shared() RACELAB_RELEASE_SHARED() { mu_.unlock_shared(); }
  bool try_lock_shared() RACELAB_TRY_ACQUIRE_SHARED(true) { return mu_.try_lock_shared(); }

 private:
  std::shared_mutex mu_;
};

// Holds `mu` in shared mode for its scope: reads only.
class RACELAB_SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex& mu) RACELAB_ACQUIRE_SHARED(mu) : mu_(mu) { mu_.lock_shared(); }
  ~ReaderLock() RACELAB_RELEASE() { mu_.unlock_shared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex& mu_;
};

// Holds `mu` exclusively for its scope.
class RACELAB_SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(SharedMutex& mu) RACELAB_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~WriterLock() RACELAB_RELEASE() { mu_.unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex& mu_;
};

// A condition variable for Mutex.
//
// Two forms. The loop form leaves the condition in the caller, where
// -Wthread-safety checks each guarded field it reads against the locks held
// there: waiting on a MutexLock of the wrong mutex is a compile error
// (compile_fail/wait_on_the_wrong_lock.cc proves it).
//
//   racelab::MutexLock lock(mu_);
//   while (!ready_) {
//     if (!cv_.WaitUntil(lock, deadline)) break;  // the deadline passed
//   }
//
// The predicate form hides spurious wake-ups and deadlines in one call, but
// the analysis cannot connect its predicate to `lock`: the predicate runs
// inside std::condition_variable, which it does not follow. A predicate
// that reads guarded fields must carry RACELAB_REQUIRES(mu_) (else its own
// body does not compile), and nothing checks that mu_ is the mutex `lock`
// holds: waiting on the wrong lock compiles, then misses wake-ups or races.
// Prefer the loop form when the condition reads guarded fields.
class CondVar {
 public:
  // Blocks until notified (or woken spuriously: loop on the condition).
  // Requires: `lock` holds the mutex that guards the condition.
  void Wait(MutexLock& lock) {
    std::unique_lock<std::mutex> native(lock.mu_.mu_, std::adopt_lock);
    cv_.wait(native);
    native.release();
  }

  // As Wait(lock), and gives up at `deadline`: returns false once it has
  // passed, true when woken before it (the condition may still be false).
  template <typename Clock, typename Duration>
  bool WaitUntil(MutexLock& lock, std::chrono::time_point<Clock, Duration> deadline) {
    std::unique_lock<std::mutex> native(lock.mu_.mu_, std::adopt_lock);
    const bool woken = cv_.wait_until(native, deadline) == std::cv_status::no_timeout;
    native.release();
    return woken;
  }

  // Blocks until pred() is true. Requires: `lock` holds its mutex, the one
  // pred's fields are guarded by (not checked: see above).
  template <typename Pred>
  void Wait(MutexLock& lock, Pred pred) {
    std::unique_lock<std::mutex> native(lock.mu_.mu_, std::adopt_lock);
    cv_.wait(native, pred);
    native.release();
  }

  // Blocks until pred() is true or `deadline` passes; returns pred().
  template <typename Clock, typename Duration, typename Pred>
  bool WaitUntil(MutexLock& lock, std::chrono::time_point<Clock, Duration> deadline, Pred pred) {
    std::unique_lock<std::mutex> native(lock.mu_.mu_, std::adopt_lock);
    bool met = cv_.wait_until(native, deadline, pred);
    native.release();
    return met;
  }

  template <typename Rep, typename Period, typename Pred>
  bool WaitFor(MutexLock& lock, std::chrono::duration<Rep, Period> timeout, Pred pred) {
    return WaitUntil(lock, std::chrono::steady_clock::now() + timeout, pred);
  }

  void NotifyOne() noexcept { cv_.notify_one(); }
  void NotifyAll() noexcept { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace racelab

#endif  // RACELAB_SYNC_MUTEX_H_
