// lazy-init: a client built on first use by any handler (scenarios/lazy-init/README.md).
#include <atomic>
#include <cstdint>
#include <string>

#include "racelab/http/scenario.h"

namespace racelab {
namespace {

// A client of the pricing service; building one is slow (it would dial a
// connection pool) and the process means to build exactly one.
struct PricingClient {
  std::string endpoint;
  std::uint64_t Price(std::uint64_t item) const { return item * 100 + endpoint.size(); }
};

std::atomic<int> clients_built{0};  // GET /clients: how many were ever built

PricingClient* MakeClient() {
  std::uint64_t handshake = 0;  // the slow part, a stand-in for dialing
  for (std::uint64_t i = 0; i < 20'000'000; ++i) handshake = handshake * 31 + i;
  clients_built.fetch_add(1, std::memory_order_relaxed);
  return new PricingClient{"pricing:" + std::to_string(handshake % 10)};  // lives until exit
}

// The one client, built by whichever request needs it first.
PricingClient& Client() {
  static PricingClient* const client = MakeClient();  // FIX: a static: built once, others wait
  return *client;                                     // FIX: set before any caller gets here
}

http::Response HandlePrice(const http::Request&, http::RequestContext&) {
  return http::Response::Text(200, std::to_string(Client().Price(7)) + "\n");
}

http::Response HandleClients(const http::Request&, http::RequestContext&) {
  return http::Response::Text(200, std::to_string(clients_built.load()) + "\n");
}

}  // namespace

void RegisterScenario(http::Router& router) {
  router.Get("/price", HandlePrice);
  router.Get("/clients", HandleClients);
}

}  // namespace racelab
