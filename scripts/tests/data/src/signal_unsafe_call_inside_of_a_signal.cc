// A signal handler allocates memory (malloc is not async-signal-safe):
// "signal-unsafe call inside of a signal". raise() delivers the signal
// synchronously, so no waiting is needed.
#include <signal.h>

#include <cstdio>
#include <cstdlib>

namespace {

char* volatile last_message = nullptr;

__attribute__((noinline)) void OnReload(int) {
  last_message = static_cast<char*>(std::malloc(64));  // BUG: malloc in a handler
  std::free(last_message);
}

}  // namespace

int main() {
  struct sigaction action = {};
  action.sa_handler = OnReload;
  sigaction(SIGUSR1, &action, nullptr);
  raise(SIGUSR1);
  std::puts("reloaded");
  return 0;
}
