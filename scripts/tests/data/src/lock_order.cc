// Two mutexes taken in opposite orders by two threads that never overlap:
// no deadlock happens, but TSan reports a lock-order inversion.
#include <mutex>
#include <thread>

namespace {

std::mutex first;
std::mutex second;

__attribute__((noinline)) void LockFirstThenSecond() {
  std::lock_guard<std::mutex> a(first);
  std::lock_guard<std::mutex> b(second);
}

__attribute__((noinline)) void LockSecondThenFirst() {
  std::lock_guard<std::mutex> b(second);
  std::lock_guard<std::mutex> a(first);
}

}  // namespace

int main() {
  std::thread one(LockFirstThenSecond);
  one.join();
  std::thread two(LockSecondThenFirst);
  two.join();
  return 0;
}
