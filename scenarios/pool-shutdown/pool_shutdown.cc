// pool-shutdown: a job queue shut down under its submitters (scenarios/pool-shutdown/README.md).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "racelab/base/thread_name.h"
#include "racelab/http/scenario.h"
#include "racelab/sync/mutex.h"

namespace racelab {
namespace {

constexpr int kWorkers = 2;

// Jobs run by kWorkers threads, until Shutdown.
class JobQueue {
 public:
  JobQueue() {
    for (int i = 0; i < kWorkers; ++i) workers_.emplace_back([this, i] { Work(i); });
  }

  // Queues `job`; false once the queue is shutting down.
  bool Submit(std::function<void()> job) {
    if (stopping_) return false;  // RACE: read without the lock while Shutdown writes it
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(std::move(job));  // may land after the workers have left: never run
    cv_.notify_one();
    return true;
  }

  // Stops the workers and waits for them.
  void Shutdown() {
    stopping_ = true;  // RACE: written without the lock, while submits and workers read it
    {
      std::lock_guard<std::mutex> lock(mu_);
      cv_.notify_all();
    }
    for (std::thread& worker : workers_) worker.join();
  }

 private:
  void Work(int index) {
    SetCurrentThreadName("rl-jobs-" + std::to_string(index));
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      while (!stopping_ && jobs_.empty()) cv_.wait(lock);  // RACE: locked read, unlocked write
      if (stopping_) return;                               // leaves the jobs still queued behind
      std::function<void()> job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }

  bool stopping_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> workers_;
};

using Queue = JobQueue;

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
  return std::make_shared<Queue>();  // kWorkers threads, named rl-jobs-<i>
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
  old->Shutdown();
  shut_down.store(old_number);
}

// GET /submit: queues a job. A queue that is shutting down refuses it; the next one takes it.
http::Response HandleSubmit(const http::Request&, http::RequestContext&) {
  while (true) {
    const auto [queue, number] = Current();
    if (queue->Submit([number = number] { RunJob(number); })) break;
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
  router.AfterShutdown([] { Current().first->Shutdown(); });
}

}  // namespace racelab
