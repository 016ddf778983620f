// unbounded-spawn: a webhook handler starts one thread per delivery (README.md).
#include <chrono>
#include <cstdint>
#include <memory>  // FIX: std::unique_ptr
#include <string>

#include "racelab/http/scenario.h"
#include "racelab/http/work_audit.h"
#include "racelab/sync/context.h"
#include "racelab/sync/mutex.h"
#include "racelab/sync/worker_pool.h"  // FIX: WorkerPool

namespace racelab {
namespace {

constexpr std::chrono::milliseconds kDeliveryTime{100};  // the subscriber answers this late
constexpr std::chrono::seconds kSettlePatience{5};  // how long GET /stats waits for the backlog
constexpr std::chrono::seconds kDrainTime{2};       // FIX: at shutdown, to deliver what is waiting
// FIX: 4 threads (rl-deliver-N) and at most 32 deliveries waiting; beyond, the handler says 503.
const WorkerPool::Options kPool{.workers = 4, .queue_capacity = 32, .name = "rl-deliver"};  // FIX:

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
std::unique_ptr<WorkerPool> pool;  // FIX: made by RegisterScenario, drained after the server
// FIX: after the last request: deliver what waits (kDrainTime at most), then join the workers.
void DrainPool() { pool->shutdown(std::chrono::steady_clock::now() + kDrainTime); }  // FIX:

// One delivery: the POST to the subscriber (kDeliveryTime, less if ctx ends
// first), then counted.
void Deliver(const Context& ctx) {
  ctx.wait_for(kDeliveryTime);
  backlog.Done();
}

// GET /webhook: accepts an event (202) and delivers it in the background.
http::Response HandleWebhook(const http::Request&, http::RequestContext&) {
  const bool queued = pool->try_submit(Deliver).ok();  // FIX: 4 threads and a bounded queue
  if (!queued) return http::Response::Text(503, "busy, retry later\n");  // FIX: full: shed load
  backlog.Accepted();
  return http::Response::Text(202, "accepted\n");
}

// GET /stats: the deliveries done, once the backlog has settled.
http::Response HandleStats(const http::Request&, http::RequestContext&) {
  return http::Response::Text(200, std::to_string(backlog.WaitSettled()) + " delivered\n");
}

}  // namespace

void RegisterScenario(http::Router& router) {
  pool = std::make_unique<WorkerPool>(kPool);  // FIX: the pool's threads start before the server's
  router.AfterShutdown(DrainPool);             // FIX: and stop once it is done with requests
  router.Get("/webhook", HandleWebhook);
  router.Get("/stats", HandleStats);
}

}  // namespace racelab
