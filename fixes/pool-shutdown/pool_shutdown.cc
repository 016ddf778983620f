// pool-shutdown: a job queue shut down under its submitters (scenarios/pool-shutdown/README.md).
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "racelab/http/scenario.h"
#include "racelab/sync/mutex.h"
#include "racelab/sync/worker_pool.h"  // FIX: WorkerPool

namespace racelab {
namespace {

constexpr int kWorkers = 2;

using Queue = WorkerPool;  // FIX: the toolkit's pool: submit and shutdown agree on one state

std::atomic<std::uint64_t> accepted{0};  // jobs a queue took
std::atomic<std::uint64_t> ran{0};       // jobs that ran
std::atomic<std::uint64_t> late{0};      // jobs that ran after their queue was shut down

// The queue handlers submit to, and its number; a restart swaps in the next one.
Mutex current_mu;
std::shared_ptr<Queue> current RACELAB_GUARDED_BY(current_mu);
std::uint64_t current_number RACELAB_GUARDED_BY(current_mu) = 0;
Mutex restart_mu;                         // one restart at a time: queues shut down in order
std::atomic<std::uint64_t> shut_down{0};  // queues 1..shut_down have been shut down

std::shared_ptr<Queue> NewQueue() {
  const Queue::Options options{.workers = kWorkers, .name = "rl-jobs"};  // FIX: rl-jobs-<i>
  return std::make_shared<Queue>(options);  // FIX: kWorkers threads, started at once
}

std::pair<std::shared_ptr<Queue>, std::uint64_t> Current() {
  MutexLock lock(current_mu);
  return {current, current_number};
}

// The job (a stand-in for sending an email): counts itself, and whether it came too late.
void RunJob(std::uint64_t queue_number) {
  if (queue_number <= shut_down.load()) late.fetch_add(1);
  ran.fetch_add(1);
}

// Swaps in a new queue, then shuts the old one down.
void Restart() {
  MutexLock one_at_a_time(restart_mu);
  std::shared_ptr<Queue> old;
  std::uint64_t old_number = 0;
  {
    MutexLock lock(current_mu);
    old = std::exchange(current, NewQueue());
    old_number = current_number++;
  }
  old->shutdown();  // FIX: refuses new jobs, runs every accepted one, joins the workers
  shut_down.store(old_number);
}

// GET /submit: queues a job. A queue that is shutting down refuses it; the next one takes it.
http::Response HandleSubmit(const http::Request&, http::RequestContext&) {
  while (true) {
    const auto [queue, number] = Current();
    if (queue->submit([number = number] { RunJob(number); }).ok()) break;  // FIX: or kShutdown
  }
  accepted.fetch_add(1);
  return http::Response::Text(200, "queued\n");
}

// GET /restart: "LOST lost (ACCEPTED accepted, RAN ran)" once the old queue is shut down.
http::Response HandleRestart(const http::Request&, http::RequestContext&) {
  Restart();
  const std::uint64_t a = accepted.load(), r = ran.load();
  return http::Response::Text(200, std::to_string(static_cast<std::int64_t>(a - r)) + " lost (" +
                                       std::to_string(a) + " accepted, " + std::to_string(r) +
                                       " ran)\n");
}

http::Response HandleLate(const http::Request&, http::RequestContext&) {
  return http::Response::Text(200, std::to_string(late.load()) + " ran after their shutdown\n");
}

http::Response HandleAccepted(const http::Request&, http::RequestContext&) {
  return http::Response::Text(200, std::to_string(accepted.load()) + " accepted\n");
}

}  // namespace

void RegisterScenario(http::Router& router) {
  router.Get("/submit", HandleSubmit);
  router.Get("/restart", HandleRestart);
  router.Get("/late", HandleLate);
  router.Get("/accepted", HandleAccepted);
  {
    MutexLock lock(current_mu);
    current = NewQueue();
    current_number = 1;
  }
  router.AfterShutdown([] { Current().first->shutdown(); });  // FIX: drains the last one
}

}  // namespace racelab
