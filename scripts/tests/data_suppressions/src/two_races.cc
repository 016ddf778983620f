// Two unrelated data races, for the suppression sample (see ../README.md).
// BumpHits races on `hits`; BumpMisses races on `misses`. Both threads of each
// pair start before either is joined, so nothing orders their writes.
#include <cstdio>
#include <thread>

namespace {

int hits = 0;
int misses = 0;

void BumpHits() { ++hits; }      // RACE: suppressed by race:BumpHits
void BumpMisses() { ++misses; }  // RACE: left for TSan to report

}  // namespace

int main() {
  std::thread a(BumpHits), b(BumpHits);
  a.join();
  b.join();
  std::thread c(BumpMisses), d(BumpMisses);
  c.join();
  d.join();
  std::printf("hits=%d misses=%d\n", hits, misses);
  return 0;
}
