// A reader-writer lock is write-locked, then "reset" with pthread_rwlock_init
// and read-locked: TSan still sees the write lock, "read lock of a write locked
// mutex".
#include <pthread.h>

namespace {

pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;

__attribute__((noinline)) void BeginRebuild() { pthread_rwlock_wrlock(&table_lock); }

__attribute__((noinline)) void LookUpDuringRebuild() {
  pthread_rwlock_init(&table_lock, nullptr);  // BUG: re-initialised while write-locked
  pthread_rwlock_rdlock(&table_lock);
  pthread_rwlock_unlock(&table_lock);
}

}  // namespace

int main() {
  BeginRebuild();
  LookUpDuringRebuild();
  return 0;
}
