// heap-use-after-free: read through a pointer after delete.
#include <cstdio>
int main() {
  int* value = new int(41);
  delete value;
  std::printf("%d\n", *value + 1);
  return 0;
}
