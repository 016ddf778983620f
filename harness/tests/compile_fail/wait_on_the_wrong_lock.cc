// Compile-fail probe for CondVar's loop form under -Werror=thread-safety.
// EXPECT-ERROR: reading variable 'ready_' requires holding mutex 'mu_'
//
// Built twice by ctest: with RACELAB_LOCK_CORRECTLY defined it waits on a
// lock of the mutex that guards the condition and must compile; without
// it, it waits on a lock of another mutex (the notifier would change
// ready_ under mu_, unseen) and must fail. Written as a predicate lambda,
// the same mistake compiles: see CondVar in mutex.h. Nothing runs.
#include "racelab/sync/mutex.h"

namespace {

class Mailbox {
 public:
  void Put(int value) RACELAB_EXCLUDES(mu_) {
    {
      racelab::MutexLock lock(mu_);
      value_ = value;
      ready_ = true;
    }
    cv_.NotifyAll();
  }

  int Take() RACELAB_EXCLUDES(mu_, stats_mu_) {
#ifdef RACELAB_LOCK_CORRECTLY
    racelab::MutexLock lock(mu_);
#else
    racelab::MutexLock lock(stats_mu_);  // the wrong mutex: ready_ is mu_'s
#endif
    while (!ready_) cv_.Wait(lock);
    return value_;
  }

 private:
  racelab::Mutex mu_;
  racelab::Mutex stats_mu_;
  racelab::CondVar cv_;
  int value_ RACELAB_GUARDED_BY(mu_) = 0;
  bool ready_ RACELAB_GUARDED_BY(mu_) = false;
};

}  // namespace

int main() {
  Mailbox mailbox;
  mailbox.Put(1);
  return mailbox.Take() == 1 ? 0 : 1;
}
