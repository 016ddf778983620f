// sleep-coordination: a handler sleeps to wait (scenarios/sleep-coordination/README.md).
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "racelab/base/thread_name.h"
#include "racelab/http/scenario.h"
#include "racelab/sync/channel.h"

namespace racelab {
namespace {

// One report: the handler says how many rows, the worker sums them.
struct Job {
  std::uint64_t rows = 0;
  std::uint64_t total = 0;
};

Channel<std::shared_ptr<Job>> jobs(64);
std::thread worker;

void Work() {
  SetCurrentThreadName("rl-report");
  while (RecvResult<std::shared_ptr<Job>> job = jobs.recv()) {
    Job& report = **job.value;
    std::uint64_t total = 0;
    for (std::uint64_t row = 1; row <= report.rows; ++row) total += row;
    report.total = total;  // RACE: the worker writes the result
  }
}

http::Response HandleReport(const http::Request&, http::RequestContext&) {
  auto job = std::make_shared<Job>();
  job->rows = 1000;
  jobs.send(job);
  std::this_thread::sleep_for(std::chrono::milliseconds(2));  // RACE: "long enough", it hopes
  const std::uint64_t total = job->total;  // RACE: read, ordered by nothing but the sleep
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
