// Two lambdas running on two threads call a member function of a class
// template on one shared object: the race's frames carry lambda and template
// names, which clang and GCC spell differently. The relaxed atomic `turn` only
// orders the writes in time, and keeps both threads alive until both wrote.
#include <atomic>
#include <cstdio>
#include <thread>

namespace {

template <typename T>
struct Gauge {
  T value{};
  __attribute__((noinline)) void Set(T v) { value = v; }  // RACE: both lambdas
};

Gauge<long> gauge;
std::atomic<int> turn{0};

__attribute__((noinline)) void RunReporters() {
  std::thread first([] {
    gauge.Set(1);
    turn.store(1, std::memory_order_relaxed);
    while (turn.load(std::memory_order_relaxed) != 2) {
    }
  });
  std::thread second([] {
    while (turn.load(std::memory_order_relaxed) != 1) {
    }
    gauge.Set(2);
    turn.store(2, std::memory_order_relaxed);
  });
  first.join();
  second.join();
}

}  // namespace

int main() {
  RunReporters();
  std::printf("gauge=%ld\n", gauge.value);
  return 0;
}
