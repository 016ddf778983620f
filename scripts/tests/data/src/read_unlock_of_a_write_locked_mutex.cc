// A small spin reader-writer lock, annotated for TSan with the
// __tsan_mutex_* interface the way absl::Mutex is, is write-locked and then
// released with the reader's unlock: "read unlock of a write locked mutex".
#include <sanitizer/tsan_interface.h>

#include <atomic>

namespace {

class SpinRWLock {
 public:
  SpinRWLock() { __tsan_mutex_create(this, 0); }

  void WriterLock() {
    __tsan_mutex_pre_lock(this, 0);
    int expected = 0;
    while (!state_.compare_exchange_weak(expected, -1)) expected = 0;
    __tsan_mutex_post_lock(this, 0, 0);
  }

  void ReaderUnlock() {
    __tsan_mutex_pre_unlock(this, __tsan_mutex_read_lock);
    state_.store(0);  // a reader's release: drops the count
    __tsan_mutex_post_unlock(this, __tsan_mutex_read_lock);
  }

 private:
  std::atomic<int> state_{0};  // -1: a writer holds it; N > 0: N readers
};

SpinRWLock cache_lock;

__attribute__((noinline)) void RefreshCache() {
  cache_lock.WriterLock();
  cache_lock.ReaderUnlock();  // BUG: the writer releases with the reader's unlock
}

}  // namespace

int main() {
  RefreshCache();
  return 0;
}
