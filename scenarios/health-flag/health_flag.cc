// health-flag: a checker thread writes a flag /health reads (scenarios/health-flag/README.md).
#include <chrono>
#include <thread>

#include "racelab/base/thread_name.h"
#include "racelab/http/scenario.h"
#include "racelab/sync/context.h"

namespace racelab {
namespace {

bool healthy = false;  // set by the checker, read by every /health
std::thread checker;

// The dependency the service needs (its database, say). Always up here.
bool ProbeDatabase() { return true; }

// Probes every 5 ms until `stop` is done.
void CheckHealth(const Context& stop) {
  SetCurrentThreadName("rl-checker");
  while (!stop.wait_for(std::chrono::milliseconds(5))) {
    healthy = ProbeDatabase();  // RACE: the checker writes while handlers read
  }
}

http::Response HandleHealth(const http::Request&, http::RequestContext&) {
  const bool up = healthy;  // RACE: read on every io thread, no ordering with the checker
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
