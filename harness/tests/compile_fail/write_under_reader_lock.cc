// Compile-fail probe for -Werror=thread-safety with a reader-writer mutex.
// EXPECT-ERROR: writing variable 'size_' requires holding shared_mutex 'mu_' exclusively
//
// Built twice by ctest: with RACELAB_LOCK_CORRECTLY defined it takes the
// writer lock and must compile; without it, it writes under a reader lock
// and must fail. Nothing runs.
#include "racelab/sync/mutex.h"

namespace {

class Registry {
 public:
  void Grow() RACELAB_EXCLUDES(mu_) {
#ifdef RACELAB_LOCK_CORRECTLY
    racelab::WriterLock lock(mu_);
#else
    racelab::ReaderLock lock(mu_);  // shared mode: reads only
#endif
    ++size_;
  }

 private:
  racelab::SharedMutex mu_;
  int size_ RACELAB_GUARDED_BY(mu_) = 0;
};

}  // namespace

int main() {
  Registry registry;
  registry.Grow();
  return 0;
}
