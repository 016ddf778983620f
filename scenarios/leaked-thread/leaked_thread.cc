// leaked-thread: a fetch with a timeout leaves its worker blocked on the hand-off (README.md).
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "racelab/base/thread_name.h"
#include "racelab/http/scenario.h"
#include "racelab/sync/channel.h"
#include "racelab/sync/context.h"

namespace racelab {
namespace {

constexpr std::chrono::milliseconds kFetchTimeout{100};  // how long the caller waits
constexpr std::chrono::milliseconds kSlowUpstream{500};  // a slow upstream takes longer

std::atomic<int> workers_started{0};

// Stands in for a call to an upstream service that answers at once, or slowly.
std::string CallUpstream(bool slow) {
  if (slow) std::this_thread::sleep_for(kSlowUpstream);  // the upstream's latency
  return "payload\n";
}

// GET /fetch?upstream=fast|slow: the upstream's answer, or 504 after kFetchTimeout.
http::Response HandleFetch(const http::Request& request, http::RequestContext&) {
  const bool slow = request.query_param("upstream") == "slow";
  auto result = std::make_shared<Channel<std::string>>(0);  // RACE: send() waits for a receiver
  std::thread([result, slow] {
    SetCurrentThreadName("rl-fetch-" + std::to_string(workers_started.fetch_add(1)));
    result->send(CallUpstream(slow));  // RACE: after a timeout nobody receives: blocks for good
  }).detach();

  auto [ctx, cancel] = WithTimeout(Context::Background(), kFetchTimeout);
  RecvResult<std::string> answer = result->recv(ctx);
  cancel();
  if (!answer) return http::Response::Text(504, "upstream timed out\n");
  return http::Response::Text(200, std::move(*answer.value));
}

}  // namespace

void RegisterScenario(http::Router& router) { router.Get("/fetch", HandleFetch); }

}  // namespace racelab
