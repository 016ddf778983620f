// Compile-fail probe for -Werror=thread-safety.
// EXPECT-ERROR: writing variable 'total_' requires holding mutex 'mu_' exclusively
//
// Built twice by ctest: with RACELAB_LOCK_CORRECTLY defined it must compile
// (so the probe itself is sound); without it, it must fail with clang's
// "requires holding mutex" error. Either way nothing runs.
#include "racelab/sync/mutex.h"

namespace {

class Tally {
 public:
  void Add(int n) RACELAB_EXCLUDES(mu_) {
#ifdef RACELAB_LOCK_CORRECTLY
    racelab::MutexLock lock(mu_);
#endif
    total_ += n;  // without the lock: writing total_ requires holding mu_
  }

 private:
  racelab::Mutex mu_;
  int total_ RACELAB_GUARDED_BY(mu_) = 0;
};

}  // namespace

int main() {
  Tally tally;
  tally.Add(1);
  return 0;
}
