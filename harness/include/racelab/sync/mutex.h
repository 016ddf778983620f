// Mutex and MutexLock: std::mutex with its locking made visible to clang's
// thread-safety analysis (see thread_annotations.h).
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
// the next holder.
#ifndef RACELAB_SYNC_MUTEX_H_
#define RACELAB_SYNC_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

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
  bool WaitUntil(MutexLock& lock,
                 std::chrono::time_point<Clock, Duration> deadline, Pred pred) {
    std::unique_lock<std::mutex> native(lock.mu_.mu_, std::adopt_lock);
    bool met = cv_.wait_until(native, deadline, pred);
    native.release();
    return met;
  }

  template <typename Rep, typename Period, typename Pred>
  bool WaitFor(MutexLock& lock, std::chrono::duration<Rep, Period> timeout,
               Pred pred) {
    return WaitUntil(lock, std::chrono::steady_clock::now() + timeout, pred);
  }

  void NotifyOne() noexcept { cv_.notify_one(); }
  void NotifyAll() noexcept { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace racelab

#endif  // RACELAB_SYNC_MUTEX_H_
