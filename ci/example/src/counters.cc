// The counters of include/example/counters.h.
#include "example/counters.h"

#include <pthread.h>

#include <utility>

namespace example {

void RacyCounter::Add() {
  ++value_;  // RACE: two threads read and write value_ with no synchronization
}

long RacyCounter::Value() const { return value_; }

void AtomicCounter::Add() { value_.fetch_add(1, std::memory_order_relaxed); }

long AtomicCounter::Value() const { return value_.load(std::memory_order_relaxed); }

std::thread StartNamedThread(std::string name, std::function<void()> body) {
  return std::thread([name = std::move(name), body = std::move(body)] {
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    body();
  });
}

}  // namespace example
