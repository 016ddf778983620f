// A deadlock that really happens, every time: two named threads each take one mutex,
// meet at a latch, then take the other's. The hang watchdog must capture both stacks.
// Built by test_hang.py: clang++-14 -fsanitize=thread -g -O1 -std=c++20 deadlock.cc
#include <pthread.h>

#include <latch>
#include <mutex>
#include <thread>

namespace {

std::mutex first;
std::mutex second;
std::latch both_hold_one(2);

__attribute__((noinline)) void TakeFirstThenSecond() {
  std::lock_guard<std::mutex> a(first);
  both_hold_one.arrive_and_wait();
  std::lock_guard<std::mutex> b(second);  // blocks forever: the other thread holds it
}

__attribute__((noinline)) void TakeSecondThenFirst() {
  std::lock_guard<std::mutex> b(second);
  both_hold_one.arrive_and_wait();
  std::lock_guard<std::mutex> a(first);  // blocks forever: the other thread holds it
}

void Run(const char* name, void (*body)()) {
  pthread_setname_np(pthread_self(), name);
  body();
}

}  // namespace

int main() {
  std::thread a(Run, "rl-dead-a", TakeFirstThenSecond);
  std::thread b(Run, "rl-dead-b", TakeSecondThenFirst);
  a.join();
  b.join();
  return 0;
}
