// A thread makes a virtual call on an object while main destroys it: the
// destructor rewrites the vptr, the call reads it, and nothing orders the
// two for TSan: "data race on vptr (ctor/dtor vs virtual call)". The relaxed
// atomic `called` only orders the threads in time (no happens-before), so the
// virtual call always comes first and the report is deterministic.
#include <atomic>
#include <cstdio>
#include <thread>

namespace {

struct Handler {
  virtual ~Handler() { std::puts("handler gone"); }
  virtual int Handle() { return 1; }
};

struct CountingHandler : Handler {
  int Handle() override { return 2; }
};

Handler* volatile handler = nullptr;
std::atomic<bool> called{false};

__attribute__((noinline)) void CallHandler() {
  std::printf("handled %d\n", handler->Handle());  // RACE: reads the vptr
  called.store(true, std::memory_order_relaxed);
}

__attribute__((noinline)) void DestroyHandler() {
  while (!called.load(std::memory_order_relaxed)) {
  }
  delete handler;  // RACE: the destructor writes the vptr
}

}  // namespace

int main() {
  handler = new CountingHandler;
  std::thread caller(CallHandler);
  DestroyHandler();
  caller.join();
  return 0;
}
