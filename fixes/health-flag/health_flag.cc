// health-flag: a checker thread writes a flag /health reads (scenarios/health-flag/README.md).
#include <atomic>  // FIX: std::atomic
#include <chrono>
#include <thread>

#include "racelab/base/thread_name.h"
#include "racelab/http/scenario.h"
#include "racelab/sync/context.h"

namespace racelab {
namespace {

std::atomic<bool> healthy{false};  // FIX: an atomic flag, set by the checker, read by every /health
std::thread checker;

// The dependency the service needs (its database, say). Always up here.
bool ProbeDatabase() { return true; }

// Probes every 5 ms until `stop` is done.
void CheckHealth(const Context& stop) {
  SetCurrentThreadName("rl-checker");
  while (!stop.wait_for(std::chrono::milliseconds(5))) {
    healthy.store(ProbeDatabase(), std::memory_order_relaxed);  // FIX: an atomic store
  }
}

http::Response HandleHealth(const http::Request&, http::RequestContext&) {
  const bool up = healthy.load(std::memory_order_relaxed);  // FIX: an atomic load
  return up ? http::Response::Text(200, "1 healthy\n") : http::Response::Text(503, "0 unhealthy\n");
}

}  // namespace

void RegisterScenario(http::Router& router) {
  router.Get("/health", HandleHealth);
  healthy = ProbeDatabase();  // before serving: the checker only refreshes it
  const auto [stop, cancel] = WithCancel(Context::Background());
  checker = std::thread(CheckHealth, stop);
  router.AfterShutdown([cancel = cancel] {
    cancel();
    checker.join();
  });
}

}  // namespace racelab
