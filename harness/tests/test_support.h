// Test support shared by every suite: the one bound on how long a test waits
// for something that should happen now, and Eventually() for state that has
// no event to wait on.
//
// kPatience is generous on purpose (TSan on two shared cores is slow): it is
// never how long a passing test takes, only how long a broken one takes to
// fail instead of hanging. Tests coordinate by latches, futures and condition
// variables with this deadline, never by sleeping.
#ifndef RACELAB_TESTS_TEST_SUPPORT_H_
#define RACELAB_TESTS_TEST_SUPPORT_H_

#include <chrono>
#include <cstddef>
#include <thread>

#include "racelab/sync/context.h"

namespace racelab::testing {

// The deadline on every wait in a test: a bug fails instead of hanging.
inline constexpr std::chrono::seconds kPatience{20};

// For test state that has no event to wait on (a thread parked inside a
// primitive, the kernel's thread list): polls, yielding, until pred() holds
// or `patience` passes; returns whether it holds. Never a sleep: it returns
// as soon as pred() is true.
template <typename Pred>
bool Eventually(Pred pred, std::chrono::steady_clock::duration patience = kPatience) {
  const auto give_up = std::chrono::steady_clock::now() + patience;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::yield();
  }
  return true;
}

// Whether n on_done callbacks get registered on ctx within kPatience: how a
// test learns that a thread blocked on ctx (a send, a submit, a wait) has
// armed its wake-up, before it moves the context's FakeClock.
inline bool AwaitCallbacks(const Context& ctx, std::size_t n) {
  return Eventually([&] { return ctx.registered_callbacks() >= n; });
}

}  // namespace racelab::testing

#endif  // RACELAB_TESTS_TEST_SUPPORT_H_
