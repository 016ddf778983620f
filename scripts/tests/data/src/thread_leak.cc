// A thread is created with pthread_create and never joined nor detached:
// TSan reports a thread leak at exit. The sleep only lets the worker finish
// before main returns (a leak is reported for finished, unjoined threads).
#include <pthread.h>
#include <unistd.h>

#include <atomic>

namespace {

std::atomic<bool> done{false};

void* Work(void*) {
  done.store(true);
  return nullptr;
}

__attribute__((noinline)) void StartWorkerAndForgetIt() {
  pthread_t thread;
  pthread_create(&thread, nullptr, Work, nullptr);
}

}  // namespace

int main() {
  StartWorkerAndForgetIt();
  while (!done.load()) {
  }
  usleep(200 * 1000);
  return 0;
}
