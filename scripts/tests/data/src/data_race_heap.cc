// Two named threads ("producer", "consumer") write one heap-allocated
// counter: TSan prints "Location is heap block ..." and the threads' names.
// The relaxed atomic `turn` only orders the writes in time.
#include <pthread.h>

#include <atomic>
#include <thread>

namespace {

std::atomic<int> turn{0};

__attribute__((noinline)) void Produce(int* items) {
  pthread_setname_np(pthread_self(), "producer");
  *items += 1;  // RACE: first write
  turn.store(1, std::memory_order_relaxed);
}

__attribute__((noinline)) void Consume(int* items) {
  pthread_setname_np(pthread_self(), "consumer");
  while (turn.load(std::memory_order_relaxed) != 1) {
  }
  *items -= 1;  // RACE: second write
}

}  // namespace

int main() {
  int* items = new int(0);
  std::thread producer(Produce, items);
  std::thread consumer(Consume, items);
  producer.join();
  consumer.join();
  delete items;
  return 0;
}
