// A library object annotated with TSan's external-object API
// (__tsan_external_read/write, as Apple's frameworks do) is modified by two
// threads at once: "race on external object". The relaxed atomic `turn` only
// orders the two calls in time (no happens-before).
#include <sanitizer/tsan_interface.h>

#include <atomic>
#include <thread>

namespace {

void* document_tag = __tsan_external_register_tag("Document");

struct Document {
  __attribute__((noinline)) void Append(int) {
    __tsan_external_write(this, __builtin_return_address(0), document_tag);
  }
};

Document document;
std::atomic<int> turn{0};

__attribute__((noinline)) void AppendInTurn(int my_turn) {
  while (turn.load(std::memory_order_relaxed) != my_turn) {
  }
  document.Append(my_turn);  // RACE: both threads modify the document
  turn.store(my_turn + 1, std::memory_order_relaxed);
}

}  // namespace

int main() {
  std::thread first(AppendInTurn, 0);
  std::thread second(AppendInTurn, 1);
  first.join();
  second.join();
  return 0;
}
