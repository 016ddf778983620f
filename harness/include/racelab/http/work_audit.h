// The lost-work audit: work a server did for nobody, and work it promised
// and never did. Race detectors see neither; the harness reports both at
// shutdown, as findings of their own (racelab/http/shutdown_check.h):
//
//   - lost cancellation: work done for a request after the request was
//     cancelled (its client hung up, or the server gave up on it). A handler
//     that honours its context stops within moments; one that ignores it
//     burns on. RequestWork::Record marks each unit of work as it finishes;
//     a unit that finishes more than `grace` (kCancelGrace, 100 ms) after
//     the cancel is lost.
//   - lost jobs: work accepted (a 202, a queued job) and never run.
//     JobLedger counts the jobs accepted and the jobs run; at shutdown the
//     difference is lost.
//
// An audit is declared once, at namespace scope, and lives as long as the
// process; it registers itself so the shutdown check finds it:
//
//   racelab::http::RequestWork report_work("report");
//   racelab::http::JobLedger deliveries("webhook");
//
//   Response HandleReport(const Request&, RequestContext& ctx) {
//     for (int slice = 0; slice < kSlices; ++slice) {
//       if (ctx.cancelled()) return Response::Text(503, "gone\n");  // the fix
//       Crunch(slice);
//       report_work.Record(ctx);
//     }
//     ...
//   }
//   if (pool.try_submit([] { Deliver(); deliveries.Ran(); })) deliveries.Accepted();
//
// Only contexts the server made know when they were cancelled
// (RequestContext::cancelled_at); work for a context made from a bare
// stop_token is never counted as lost.
//
// Thread-safety: Record, Accepted and Ran may be called from any thread at
// once; they are a few atomic operations, no lock. CollectLostWork may run
// at any time; a unit or job still in progress then is not counted yet.
// Constructing and destroying audits takes the registry's lock.
//
// Memory ordering: the counters are atomic and order nothing else. The
// shutdown check reads them after the server joined its io threads (so
// every handler's records happen-before it); a thread it did not join (a
// detached job) is counted when its increment is visible.
#ifndef RACELAB_HTTP_WORK_AUDIT_H_
#define RACELAB_HTTP_WORK_AUDIT_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "racelab/http/request_context.h"

namespace racelab::http {

// How long after its request's cancellation a unit of work may still
// finish without being lost: the bound a handler that honours its context
// keeps ("stops within 100 ms").
inline constexpr std::chrono::milliseconds kCancelGrace{100};

// Work done on behalf of requests, held against their cancellation.
class RequestWork {
 public:
  // `what` names the work in findings ("report"). Registers the audit.
  explicit RequestWork(std::string what, std::chrono::milliseconds grace = kCancelGrace);
  // Unregisters it.
  ~RequestWork();
  RequestWork(const RequestWork&) = delete;
  RequestWork& operator=(const RequestWork&) = delete;

  // Records one unit of work for `context`'s request that finished now:
  // lost if the request was cancelled more than grace ago.
  void Record(const RequestContext& context) noexcept;
  // As Record(context), the instant given (for tests).
  void RecordAt(const RequestContext& context, std::chrono::steady_clock::time_point now) noexcept;

  const std::string& what() const noexcept { return what_; }
  std::chrono::milliseconds grace() const noexcept { return grace_; }
  // Units recorded in all.
  std::uint64_t units() const noexcept { return units_.load(std::memory_order_relaxed); }
  // Units that finished after their request's cancellation, within the
  // grace or not.
  std::uint64_t after_cancel() const noexcept {
    return after_cancel_.load(std::memory_order_relaxed);
  }
  // Units that finished more than grace after it: the lost ones.
  std::uint64_t lost() const noexcept { return lost_.load(std::memory_order_relaxed); }
  // The latest a unit finished after its request's cancellation; 0 if none.
  std::chrono::nanoseconds max_after_cancel() const noexcept {
    return std::chrono::nanoseconds(max_after_cancel_ns_.load(std::memory_order_relaxed));
  }

 private:
  const std::string what_;
  const std::chrono::milliseconds grace_;
  std::atomic<std::uint64_t> units_{0};
  std::atomic<std::uint64_t> after_cancel_{0};
  std::atomic<std::uint64_t> lost_{0};
  std::atomic<std::int64_t> max_after_cancel_ns_{0};
};

// Jobs a server accepted, and those it ran.
class JobLedger {
 public:
  // `what` names the jobs in findings ("webhook"). Registers the ledger.
  explicit JobLedger(std::string what);
  // Unregisters it.
  ~JobLedger();
  JobLedger(const JobLedger&) = delete;
  JobLedger& operator=(const JobLedger&) = delete;

  // n jobs were accepted: the caller was told they will run.
  void Accepted(std::uint64_t n = 1) noexcept { accepted_.fetch_add(n, std::memory_order_relaxed); }
  // n accepted jobs ran (to the end, whatever their outcome).
  void Ran(std::uint64_t n = 1) noexcept { ran_.fetch_add(n, std::memory_order_relaxed); }

  const std::string& what() const noexcept { return what_; }
  std::uint64_t accepted() const noexcept { return accepted_.load(std::memory_order_relaxed); }
  std::uint64_t ran() const noexcept { return ran_.load(std::memory_order_relaxed); }

 private:
  const std::string what_;
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> ran_{0};
};

// What one RequestWork says, at one instant.
struct WorkTally {
  std::string what;
  std::uint64_t units = 0;
  std::uint64_t after_cancel = 0;
  std::uint64_t lost = 0;  // after the grace: a lost-cancellation finding when > 0
  std::chrono::milliseconds grace{0};
  std::chrono::milliseconds max_after_cancel{0};  // rounded down
};

// What one JobLedger says, at one instant.
struct JobTally {
  std::string what;
  std::uint64_t accepted = 0;
  std::uint64_t ran = 0;
  // Accepted and not run: a lost-job finding when > 0.
  std::uint64_t lost() const noexcept { return accepted > ran ? accepted - ran : 0; }
};

struct LostWork {
  std::vector<WorkTally> work;  // every live RequestWork, in order of construction
  std::vector<JobTally> jobs;   // every live JobLedger, in order of construction
};

// Reads every audit of the process.
LostWork CollectLostWork();

}  // namespace racelab::http

#endif  // RACELAB_HTTP_WORK_AUDIT_H_
