// A worker thread exits while holding a mutex; main "recovers" by
// re-initialising the mutex and locks it. TSan still knows the mutex as owned
// by the dead worker: "double lock of a mutex". pthread_join orders the steps.
#include <pthread.h>

namespace {

pthread_mutex_t state_mu = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noinline)) void* WorkerExitsHoldingLock(void*) {
  pthread_mutex_lock(&state_mu);  // BUG: never unlocked
  return nullptr;
}

__attribute__((noinline)) void ResetAndLock() {
  pthread_mutex_init(&state_mu, nullptr);
  pthread_mutex_lock(&state_mu);  // the second lock of the same mutex
  pthread_mutex_unlock(&state_mu);
}

}  // namespace

int main() {
  pthread_t worker;
  pthread_create(&worker, nullptr, WorkerExitsHoldingLock, nullptr);
  pthread_join(worker, nullptr);
  ResetAndLock();
  return 0;
}
