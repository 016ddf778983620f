// A mutex is destroyed while it is still locked: "destroy of a locked mutex".
#include <pthread.h>

namespace {

pthread_mutex_t registry_mu;

__attribute__((noinline)) void LockRegistry() { pthread_mutex_lock(&registry_mu); }

__attribute__((noinline)) void ShutDownRegistry() {
  pthread_mutex_destroy(&registry_mu);  // BUG: still locked by LockRegistry
}

}  // namespace

int main() {
  pthread_mutex_init(&registry_mu, nullptr);
  LockRegistry();
  ShutDownRegistry();
  return 0;
}
