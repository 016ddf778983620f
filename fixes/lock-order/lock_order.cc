// lock-order: two handlers take two locks in opposite orders (scenarios/lock-order/README.md).
#include <cstdint>
#include <string>

#include "racelab/http/scenario.h"
#include "racelab/sync/mutex.h"

namespace racelab {
namespace {

// Two accounts, each under its own lock; a transfer holds both.
Mutex checking_mu;
std::int64_t checking RACELAB_GUARDED_BY(checking_mu) = 1000;
Mutex savings_mu RACELAB_ACQUIRED_AFTER(checking_mu);  // FIX: the one order, declared
std::int64_t savings RACELAB_GUARDED_BY(savings_mu) = 1000;

// Moves 1 from checking to savings.
http::Response HandleSave(const http::Request&, http::RequestContext&) {
  MutexLock first(checking_mu);
  MutexLock second(savings_mu);  // FIX: this handler kept the order already
  --checking;
  ++savings;
  return http::Response::Text(200, "saved\n");
}

// Moves 1 from savings back to checking.
http::Response HandleWithdraw(const http::Request&, http::RequestContext&) {
  MutexLock first(checking_mu);  // FIX: checking first, as everywhere
  MutexLock second(savings_mu);  // FIX: then savings
  --savings;
  ++checking;
  return http::Response::Text(200, "withdrawn\n");
}

http::Response HandleTotal(const http::Request&, http::RequestContext&) {
  MutexLock first(checking_mu);
  MutexLock second(savings_mu);
  return http::Response::Text(200, std::to_string(checking + savings) + "\n");
}

}  // namespace

void RegisterScenario(http::Router& router) {
  router.Get("/save", HandleSave);
  router.Get("/withdraw", HandleWithdraw);
  router.Get("/total", HandleTotal);
}

}  // namespace racelab
