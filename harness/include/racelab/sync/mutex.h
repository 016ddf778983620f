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
// the analysis understands. CondVar waits on a MutexLock.
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

// A condition variable for Mutex. Waits take the predicate, so a spurious
// wake-up never leaks out, and a deadline, so a test never waits forever.
class CondVar {
 public:
  // Blocks until pred() is true. Requires: `lock` holds its mutex.
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
