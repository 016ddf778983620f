// toctou: a balance checked, then debited, by two separately atomic steps (README.md).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>

#include "racelab/http/scenario.h"

namespace racelab {
namespace {

constexpr std::int64_t kOpeningBalance = 100;
constexpr std::int64_t kAmount = 1;  // every withdrawal takes this much

std::atomic<std::int64_t> account_a{kOpeningBalance};
std::atomic<std::int64_t> account_b{kOpeningBalance};

std::atomic<std::int64_t>* FindAccount(std::string_view id) {
  if (id == "a") return &account_a;
  if (id == "b") return &account_b;
  return nullptr;
}

// Stands in for a call to the fraud-scoring service: it takes a moment.
void ScoreRisk() { std::this_thread::sleep_for(std::chrono::milliseconds(2)); }

// GET /withdraw?account=a|b: takes kAmount, or 409 when the balance is short.
http::Response HandleWithdraw(const http::Request& request, http::RequestContext&) {
  std::atomic<std::int64_t>* account = FindAccount(request.query_param("account"));
  if (account == nullptr) return http::Response::Text(404, "no such account\n");
  if (account->load() < kAmount) {  // RACE: check: enough money, now...
    return http::Response::Text(409, "insufficient funds\n");
  }
  // Meanwhile other withdrawals pass the same check.
  ScoreRisk();
  account->fetch_sub(kAmount);  // RACE: ...then act: debit on a check that may be stale by now
  return http::Response::Text(200, "withdrawn\n");
}

// GET /lowest: the lowest balance of all accounts.
http::Response HandleLowest(const http::Request&, http::RequestContext&) {
  const std::int64_t lowest = std::min(account_a.load(), account_b.load());
  return http::Response::Text(200, std::to_string(lowest) + " (lowest balance)\n");
}

}  // namespace

void RegisterScenario(http::Router& router) {
  router.Get("/withdraw", HandleWithdraw);
  router.Get("/lowest", HandleLowest);
}

}  // namespace racelab
