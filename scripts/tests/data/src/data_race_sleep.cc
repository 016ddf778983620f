// Two threads write a flag; the second "waits" for the first with a sleep.
// TSan reports the race and notes "As if synchronized via sleep". The relaxed
// atomics order the writes in time and keep both threads alive until both
// wrote (a finished thread's slot may be reused, which hides the race); the
// sleep is there only because this sample is about the sleep note.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <thread>

namespace {

bool ready = false;
std::atomic<bool> written{false};
std::atomic<bool> overwritten{false};

__attribute__((noinline)) void Publish() {
  ready = true;  // RACE: first write
  written.store(true, std::memory_order_relaxed);
  while (!overwritten.load(std::memory_order_relaxed)) {
  }
}

__attribute__((noinline)) void WaitBySleeping() {
  while (!written.load(std::memory_order_relaxed)) {
  }
  usleep(1000);  // BUG: a sleep is not synchronization
  ready = false;  // RACE: second write
  overwritten.store(true, std::memory_order_relaxed);
}

}  // namespace

int main() {
  std::thread publisher(Publish);
  std::thread waiter(WaitBySleeping);
  publisher.join();
  waiter.join();
  std::printf("ready=%d\n", ready);
  return 0;
}
