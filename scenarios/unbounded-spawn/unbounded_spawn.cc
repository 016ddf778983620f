// unbounded-spawn: a webhook handler starts one thread per delivery (README.md).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "racelab/base/thread_name.h"
#include "racelab/http/scenario.h"
#include "racelab/http/work_audit.h"
#include "racelab/sync/context.h"
#include "racelab/sync/mutex.h"

namespace racelab {
namespace {

constexpr std::chrono::milliseconds kDeliveryTime{100};  // the subscriber answers this late
constexpr std::chrono::seconds kSettlePatience{5};  // how long GET /stats waits for the backlog

http::JobLedger deliveries("webhook");  // the harness's audit: accepted, and run

// The deliveries accepted and done, for GET /stats.
class Backlog {
 public:
  void Accepted() RACELAB_EXCLUDES(mu_) {
    deliveries.Accepted();
    MutexLock lock(mu_);
    ++accepted_;
  }
  void Done() RACELAB_EXCLUDES(mu_) {
    deliveries.Ran();
    MutexLock lock(mu_);
    ++done_;
    settled_.NotifyAll();
  }
  // Waits until every accepted delivery is done (or kSettlePatience passes);
  // returns how many are done.
  std::uint64_t WaitSettled() RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    settled_.WaitFor(lock, kSettlePatience,
                     [this]() RACELAB_REQUIRES(mu_) { return done_ >= accepted_; });
    return done_;
  }

 private:
  Mutex mu_;
  std::uint64_t accepted_ RACELAB_GUARDED_BY(mu_) = 0;
  std::uint64_t done_ RACELAB_GUARDED_BY(mu_) = 0;
  CondVar settled_;
};

Backlog backlog;
std::atomic<int> threads_started{0};

// One delivery: the POST to the subscriber (kDeliveryTime, less if ctx ends
// first), then counted.
void Deliver(const Context& ctx) {
  ctx.wait_for(kDeliveryTime);
  backlog.Done();
}

void DeliverOnANewThread() {
  SetCurrentThreadName("rl-deliver-" + std::to_string(threads_started.fetch_add(1)));
  Deliver(Context::Background());
}

// GET /webhook: accepts an event (202) and delivers it in the background.
http::Response HandleWebhook(const http::Request&, http::RequestContext&) {
  std::thread(DeliverOnANewThread).detach();  // RACE: a thread per request, however many run
  backlog.Accepted();
  return http::Response::Text(202, "accepted\n");
}

// GET /stats: the deliveries done, once the backlog has settled.
http::Response HandleStats(const http::Request&, http::RequestContext&) {
  return http::Response::Text(200, std::to_string(backlog.WaitSettled()) + " delivered\n");
}

}  // namespace

void RegisterScenario(http::Router& router) {
  router.Get("/webhook", HandleWebhook);
  router.Get("/stats", HandleStats);
}

}  // namespace racelab
