// Writes through a null pointer under TSan: the runtime prints a
// DEADLYSIGNAL report and exits.
#include <cstdio>

namespace {

__attribute__((noinline)) void WriteThrough(int* volatile p) { *p = 42; }

}  // namespace

int main() {
  WriteThrough(nullptr);
  std::puts("unreachable");
  return 0;
}
