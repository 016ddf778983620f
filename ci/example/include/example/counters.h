// Two hit counters, one racy and one not, and a helper that starts a named
// thread: the smallest library a TSan gate can find a race in.
//
//   example::AtomicCounter hits;
//   std::thread t = example::StartNamedThread("hits-1", [&] { hits.Add(); });
//   t.join();
//
// Memory ordering: RacyCounter has none (that is its bug: Add and Value race
// when called from two threads). AtomicCounter::Add is a relaxed atomic
// increment; Value sees every Add that happens-before it (join the adding
// threads first, as the tests do).
#ifndef EXAMPLE_COUNTERS_H_
#define EXAMPLE_COUNTERS_H_

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace example {

// Counts with a plain integer: correct on one thread, a data race on two.
class RacyCounter {
 public:
  void Add();
  long Value() const;

 private:
  long value_ = 0;
};

// Counts with an atomic integer: safe from any number of threads.
class AtomicCounter {
 public:
  void Add();
  long Value() const;

 private:
  std::atomic<long> value_{0};
};

// Starts a thread that names itself `name` (cut to 15 bytes, Linux's limit)
// and then runs `body`, so TSan reports say which thread is which.
std::thread StartNamedThread(std::string name, std::function<void()> body);

}  // namespace example

#endif  // EXAMPLE_COUNTERS_H_
