// Eventually(pred): for test state that has no event to wait on (a thread
// parked inside a primitive, the kernel's thread list). Polls, yielding,
// until pred() holds or a deadline passes, so a bug fails instead of
// hanging. Never a sleep: it returns as soon as pred() is true.
#ifndef RACELAB_TESTS_SYNC_EVENTUALLY_H_
#define RACELAB_TESTS_SYNC_EVENTUALLY_H_

#include <chrono>
#include <thread>

namespace racelab::testing {

inline constexpr std::chrono::seconds kPatience{10};

template <typename Pred>
bool Eventually(Pred pred, std::chrono::steady_clock::duration patience = kPatience) {
  const auto give_up = std::chrono::steady_clock::now() + patience;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace racelab::testing

#endif  // RACELAB_TESTS_SYNC_EVENTUALLY_H_
