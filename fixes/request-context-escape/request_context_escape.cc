// request-context-escape: a job reads a dead request (scenarios/request-context-escape/README.md).
#include <chrono>  // FIX: std::chrono::seconds
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "racelab/http/scenario.h"
#include "racelab/sync/context.h"  // FIX: Context, WithTimeout
#include "racelab/sync/mutex.h"
#include "racelab/sync/wait_group.h"
#include "racelab/sync/worker_pool.h"

namespace racelab {
namespace {

std::optional<WorkerPool> mailer;  // sends receipts after the response, on one thread
WaitGroup pending;                 // receipts queued and not sent yet
Mutex outbox_mu;
std::map<std::string, std::uint64_t, std::less<>> outbox RACELAB_GUARDED_BY(outbox_mu);
constexpr auto kReceiptTimeout = std::chrono::seconds(5);  // FIX: how long a receipt may take

// Mails a receipt (a stand-in: counts it in the outbox, by addressee).
void SendReceipt(std::string_view customer) {
  MutexLock lock(outbox_mu);
  ++outbox[std::string(customer)];
}

http::Response HandleCheckout(const http::Request& request, http::RequestContext&) {
  // A view of the request's memory: valid while this handler runs.
  const std::string_view customer = request.query_param("customer");
  auto [ctx, cancel] = WithTimeout(Context::Background(), kReceiptTimeout);  // FIX: a deadline
  auto receipt = [customer = std::string(customer), ctx = ctx, cancel = cancel] {  // FIX: copies
    if (!ctx.done()) SendReceipt(customer);  // FIX: gives up at its own deadline, not the request's
    cancel();                                // FIX: done with the context (Go's defer cancel())
    pending.done();
  };
  pending.add(1);
  if (mailer->try_submit(std::move(receipt)).ok()) return http::Response::Text(200, "ordered\n");
  pending.done();
  return http::Response::Text(503, "mailer busy\n");
}

// GET /receipts?customer=NAME: waits for the receipts queued so far, then
// says how many went to NAME.
http::Response HandleReceipts(const http::Request& request, http::RequestContext&) {
  pending.wait();
  MutexLock lock(outbox_mu);
  const auto sent = outbox.find(request.query_param("customer"));
  return http::Response::Text(200, std::to_string(sent == outbox.end() ? 0 : sent->second) + "\n");
}

}  // namespace

void RegisterScenario(http::Router& router) {
  router.Get("/checkout", HandleCheckout);
  router.Get("/receipts", HandleReceipts);
  mailer.emplace(WorkerPool::Options{.workers = 1, .queue_capacity = 4096, .name = "rl-mailer"});
  router.AfterShutdown([] { mailer.reset(); });  // runs what is queued, joins the worker
}

}  // namespace racelab
