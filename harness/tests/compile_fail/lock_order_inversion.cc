// Compile-fail probe for -Werror=thread-safety-beta: a declared lock order.
// EXPECT-ERROR: mutex 'ledger_mu_' must be acquired before 'audit_mu_'
//
// Built twice by ctest: with RACELAB_LOCK_CORRECTLY defined it takes the
// two mutexes in their declared order and must compile; without it, it
// takes them the other way round (the inversion behind a lock-order
// deadlock) and must fail. RACELAB_ACQUIRED_BEFORE is checked only by
// -Wthread-safety-beta, which the build turns on as an error. Nothing runs.
#include "racelab/sync/mutex.h"

namespace {

class Ledger {
 public:
  void Post(int amount) RACELAB_EXCLUDES(ledger_mu_, audit_mu_) {
#ifdef RACELAB_LOCK_CORRECTLY
    racelab::MutexLock ledger(ledger_mu_);
    racelab::MutexLock audit(audit_mu_);
#else
    racelab::MutexLock audit(audit_mu_);
    racelab::MutexLock ledger(ledger_mu_);  // after audit_mu_: the wrong order
#endif
    balance_ += amount;
    ++entries_;
  }

 private:
  racelab::Mutex ledger_mu_ RACELAB_ACQUIRED_BEFORE(audit_mu_);
  racelab::Mutex audit_mu_;
  int balance_ RACELAB_GUARDED_BY(ledger_mu_) = 0;
  int entries_ RACELAB_GUARDED_BY(audit_mu_) = 0;
};

}  // namespace

int main() {
  Ledger ledger;
  ledger.Post(1);
  return 0;
}
