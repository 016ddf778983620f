// main frees a heap block and a thread then reads it. The relaxed atomic
// `freed` only orders the two in time, so TSan sees the read race with the
// free: "heap-use-after-free".
#include <atomic>
#include <cstdio>
#include <thread>

namespace {

int* volatile session = nullptr;
std::atomic<bool> freed{false};

__attribute__((noinline)) void CloseSession() {
  delete session;  // RACE: the free
  freed.store(true, std::memory_order_relaxed);
}

__attribute__((noinline)) int ReadSession() {
  while (!freed.load(std::memory_order_relaxed)) {
  }
  return *session;  // RACE: the read of freed memory
}

}  // namespace

int main() {
  session = new int(42);
  std::thread reader([] { std::printf("session=%d\n", ReadSession()); });
  CloseSession();
  reader.join();
  return 0;
}
