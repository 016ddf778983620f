// A thread is created with pthread_create and never joined nor detached:
// TSan reports a thread leak at exit (for a finished, unjoined thread). main
// waits until the kernel has really ended the thread (tgkill with signal 0
// fails with ESRCH) instead of sleeping, so the report is deterministic.
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

namespace {

std::atomic<long> worker_tid{0};

void* Work(void*) {
  worker_tid.store(syscall(SYS_gettid));
  return nullptr;
}

__attribute__((noinline)) void StartWorkerAndForgetIt() {
  pthread_t thread;
  pthread_create(&thread, nullptr, Work, nullptr);  // BUG: never joined
}

}  // namespace

int main() {
  StartWorkerAndForgetIt();
  while (worker_tid.load() == 0) {
  }
  while (syscall(SYS_tgkill, getpid(), worker_tid.load(), 0) == 0) {
    sched_yield();
  }
  return 0;
}
