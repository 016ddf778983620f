// A mutex is locked after it was destroyed (glibc marks a destroyed mutex
// invalid, so the lock fails with EINVAL): "use of an invalid mutex".
#include <pthread.h>

#include <cstdio>

namespace {

pthread_mutex_t pool_mu;

__attribute__((noinline)) void ClosePool() { pthread_mutex_destroy(&pool_mu); }

__attribute__((noinline)) int UseClosedPool() {
  return pthread_mutex_lock(&pool_mu);  // BUG: destroyed above
}

}  // namespace

int main() {
  pthread_mutex_init(&pool_mu, nullptr);
  ClosePool();
  std::printf("lock returned %d\n", UseClosedPool());
  return 0;
}
