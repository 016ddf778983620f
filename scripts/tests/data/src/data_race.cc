// Two threads write one int with no synchronization: a data race.
// argv[1] == "beta-first" makes WriterBeta write first, so the two access
// stacks come out in the other order. The relaxed atomic `turn` only orders
// the threads in time; it gives TSan no happens-before edge, so the race is
// always reported, with a deterministic "current" and "previous" access.
#include <atomic>
#include <cstdio>
#include <cstring>
#include <thread>

namespace {

int counter = 0;
std::atomic<int> turn{0};

__attribute__((noinline)) void WriterAlpha() { counter += 1; }
__attribute__((noinline)) void WriterBeta() { counter += 2; }

void RunInTurn(void (*write)(), int my_turn) {
  while (turn.load(std::memory_order_relaxed) != my_turn) {
  }
  write();
  turn.store(my_turn + 1, std::memory_order_relaxed);
}

}  // namespace

int main(int argc, char** argv) {
  const bool beta_first = argc > 1 && std::strcmp(argv[1], "beta-first") == 0;
  std::thread alpha(RunInTurn, WriterAlpha, beta_first ? 1 : 0);
  std::thread beta(RunInTurn, WriterBeta, beta_first ? 0 : 1);
  alpha.join();
  beta.join();
  std::printf("counter=%d\n", counter);
  return 0;
}
