// A thread hands the address of its own local variable to another thread,
// which writes it: TSan prints "Location is stack of thread T1". The relaxed
// atomics only order the steps in time.
#include <atomic>
#include <thread>

namespace {

std::atomic<int*> shared_slot{nullptr};
std::atomic<bool> written{false};

__attribute__((noinline)) void OwnerOfTheLocal() {
  int local = 0;
  shared_slot.store(&local, std::memory_order_relaxed);
  while (!written.load(std::memory_order_relaxed)) {
  }
  local += 1;  // RACE: the owner's write
}

__attribute__((noinline)) void WriteThroughSlot() {
  int* slot = nullptr;
  while ((slot = shared_slot.load(std::memory_order_relaxed)) == nullptr) {
  }
  *slot = 7;  // RACE: the other thread's write
  written.store(true, std::memory_order_relaxed);
}

}  // namespace

int main() {
  std::thread owner(OwnerOfTheLocal);
  std::thread writer(WriteThroughSlot);
  owner.join();
  writer.join();
  return 0;
}
