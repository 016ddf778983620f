// A signal handler changes errno and does not restore it: "signal handler
// spoils errno". TSan checks errno only for signals that arrive
// asynchronously, so another thread sends the signal to main. main keeps the
// signal blocked until the sender is joined, then waits for it in sigsuspend:
// the handler runs exactly once, with no timing involved.
#include <errno.h>
#include <pthread.h>
#include <signal.h>

namespace {

pthread_t main_thread;
volatile sig_atomic_t handled = 0;

__attribute__((noinline)) void OnUsr1(int) {
  handled = 1;
  errno = EAGAIN;  // BUG: spoils the interrupted code's errno
}

void* Notify(void*) {
  pthread_kill(main_thread, SIGUSR1);
  return nullptr;
}

}  // namespace

int main() {
  struct sigaction action = {};
  action.sa_handler = OnUsr1;
  sigaction(SIGUSR1, &action, nullptr);
  sigset_t usr1, none;
  sigemptyset(&usr1);
  sigemptyset(&none);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, nullptr);
  main_thread = pthread_self();
  pthread_t notifier;
  pthread_create(&notifier, nullptr, Notify, nullptr);
  pthread_join(notifier, nullptr);
  while (!handled) sigsuspend(&none);
  return 0;
}
