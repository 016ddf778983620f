// sleep-coordination: a handler sleeps to wait (scenarios/sleep-coordination/README.md).
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "racelab/base/thread_name.h"
#include "racelab/http/scenario.h"
#include "racelab/sync/channel.h"
#include "racelab/sync/wait_group.h"  // FIX: WaitGroup

namespace racelab {
namespace {

// One report: the handler says how many rows, the worker sums them.
struct Job {
  std::uint64_t rows = 0;
  std::uint64_t total = 0;
  WaitGroup done;  // FIX: the worker says when total is written
};

Channel<std::shared_ptr<Job>> jobs(64);
std::thread worker;

void Work() {
  SetCurrentThreadName("rl-report");
  while (RecvResult<std::shared_ptr<Job>> job = jobs.recv()) {
    Job& report = **job.value;
    std::uint64_t total = 0;
    for (std::uint64_t row = 1; row <= report.rows; ++row) total += row;
    report.total = total;  // FIX: written before done()...
    report.done.done();    // FIX: ...which releases the waiting handler
  }
}

http::Response HandleReport(const http::Request&, http::RequestContext&) {
  auto job = std::make_shared<Job>();
  job->rows = 1000;
  job->done.add(1);  // FIX: one result to wait for, counted before the worker can see the job
  jobs.send(job);
  job->done.wait();  // FIX: wait for the worker's done(), however long it takes
  const std::uint64_t total = job->total;  // FIX: done() happens-before wait() returns
  return http::Response::Text(200, std::to_string(total) + "\n");
}

}  // namespace

void RegisterScenario(http::Router& router) {
  router.Get("/report", HandleReport);
  worker = std::thread(Work);
  router.AfterShutdown([] {
    jobs.close();
    worker.join();
  });
}

}  // namespace racelab
