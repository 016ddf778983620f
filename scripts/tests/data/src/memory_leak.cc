// detected memory leaks: an allocation nobody frees.
#include <cstdlib>
#include <cstdio>
void* keep;
int main() {
  void* lost = std::malloc(64);
  std::printf("%p\n", lost);
  lost = nullptr;
  return 0;
}
