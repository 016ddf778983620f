#include "racelab/http/work_audit.h"

#include <algorithm>
#include <utility>

#include "racelab/sync/mutex.h"

namespace racelab::http {

namespace {

// Every live audit of the process. A function-local static: audits are
// namespace-scope objects of other translation units, constructed in any
// order; the registry is constructed before the first of them (and so
// destroyed after the last).
class Registry {
 public:
  static Registry& Get() {
    static Registry registry;
    return registry;
  }

  template <typename T>
  void Add(T* audit) RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    ListOf(audit).push_back(audit);
  }
  template <typename T>
  void Remove(T* audit) RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    auto& list = ListOf(audit);
    list.erase(std::remove(list.begin(), list.end(), audit), list.end());
  }

  LostWork Collect() RACELAB_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    LostWork out;
    for (const RequestWork* w : work_) {
      out.work.push_back(
          {w->what(), w->units(), w->after_cancel(), w->lost(), w->grace(),
           std::chrono::duration_cast<std::chrono::milliseconds>(w->max_after_cancel())});
    }
    for (const JobLedger* j : jobs_) out.jobs.push_back({j->what(), j->accepted(), j->ran()});
    return out;
  }

 private:
  std::vector<RequestWork*>& ListOf(RequestWork*) RACELAB_REQUIRES(mu_) { return work_; }
  std::vector<JobLedger*>& ListOf(JobLedger*) RACELAB_REQUIRES(mu_) { return jobs_; }

  Mutex mu_;
  std::vector<RequestWork*> work_ RACELAB_GUARDED_BY(mu_);
  std::vector<JobLedger*> jobs_ RACELAB_GUARDED_BY(mu_);
};

}  // namespace

RequestWork::RequestWork(std::string what, std::chrono::milliseconds grace)
    : what_(std::move(what)), grace_(grace) {
  Registry::Get().Add(this);
}

RequestWork::~RequestWork() { Registry::Get().Remove(this); }

void RequestWork::Record(const RequestContext& context) noexcept {
  RecordAt(context, std::chrono::steady_clock::now());
}

void RequestWork::RecordAt(const RequestContext& context,
                           std::chrono::steady_clock::time_point now) noexcept {
  units_.fetch_add(1, std::memory_order_relaxed);
  const auto cancelled_at = context.cancelled_at();
  if (!cancelled_at || now < *cancelled_at) return;
  const std::chrono::nanoseconds after = now - *cancelled_at;
  after_cancel_.fetch_add(1, std::memory_order_relaxed);
  if (after > grace_) lost_.fetch_add(1, std::memory_order_relaxed);
  std::int64_t seen = max_after_cancel_ns_.load(std::memory_order_relaxed);
  while (after.count() > seen && !max_after_cancel_ns_.compare_exchange_weak(
                                     seen, after.count(), std::memory_order_relaxed)) {
  }
}

JobLedger::JobLedger(std::string what) : what_(std::move(what)) { Registry::Get().Add(this); }

JobLedger::~JobLedger() { Registry::Get().Remove(this); }

LostWork CollectLostWork() { return Registry::Get().Collect(); }

}  // namespace racelab::http
