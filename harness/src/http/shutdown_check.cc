#include "racelab/http/shutdown_check.h"

#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <cerrno>
#include <cstdlib>
#include <string_view>

namespace racelab::http {

namespace {

std::atomic<bool> graceful_shutdown{false};

bool HoldRequested() {
  const char* hold = std::getenv("RACELAB_HOLD_AFTER_SHUTDOWN");
  return hold != nullptr && std::string_view(hold) == "1";
}

// Blocks until stdin reaches EOF (or fails).
void WaitForEndOfInput() {
  char buf[256];
  while (true) {
    const ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    return;
  }
}

}  // namespace

void NoteGracefulShutdown() { graceful_shutdown.store(true, std::memory_order_relaxed); }

std::vector<std::string> FindingsJson(const std::vector<leak::ThreadRecord>& leaked,
                                      const LostWork& work) {
  std::vector<std::string> out;
  for (const leak::ThreadRecord& t : leaked) {
    out.push_back(boost::json::serialize(boost::json::object{{"kind", "leaked-thread"},
                                                             {"tid", t.tid},
                                                             {"name", t.name},
                                                             {"state", std::string(1, t.state)},
                                                             {"wchan", t.wchan}}));
  }
  for (const WorkTally& w : work.work) {
    if (w.lost == 0) continue;
    out.push_back(boost::json::serialize(
        boost::json::object{{"kind", "lost-cancellation"},
                            {"what", w.what},
                            {"count", w.lost},
                            {"max_after_cancel_ms", w.max_after_cancel.count()}}));
  }
  for (const JobTally& j : work.jobs) {
    if (j.lost() == 0) continue;
    out.push_back(boost::json::serialize(
        boost::json::object{{"kind", "lost-job"}, {"what", j.what}, {"count", j.lost()}}));
  }
  return out;
}

ShutdownCheck::ShutdownCheck(leak::CheckOptions threads)
    : options_(std::move(threads)), before_(leak::Snapshot::Take()) {}

int ShutdownCheck::Report(std::FILE* out, std::FILE* log) const {
  const std::vector<leak::ThreadRecord> leaked = leak::FindLeakedThreads(before_, options_);
  const LostWork work = CollectLostWork();  // after the threads: late jobs count as run

  std::fprintf(log, "racelab: leak check: %zu thread(s) left behind\n", leaked.size());
  for (const leak::ThreadRecord& t : leaked) {
    std::fprintf(log, "racelab:   %s\n", t.Describe().c_str());
  }
  for (const WorkTally& w : work.work) {
    std::fprintf(log,
                 "racelab: work '%s': %llu unit(s), %llu after a cancel, %llu past the %lld ms "
                 "grace (latest %lld ms after)\n",
                 w.what.c_str(), static_cast<unsigned long long>(w.units),
                 static_cast<unsigned long long>(w.after_cancel),
                 static_cast<unsigned long long>(w.lost), static_cast<long long>(w.grace.count()),
                 static_cast<long long>(w.max_after_cancel.count()));
  }
  for (const JobTally& j : work.jobs) {
    std::fprintf(log, "racelab: jobs '%s': %llu accepted, %llu run, %llu lost\n", j.what.c_str(),
                 static_cast<unsigned long long>(j.accepted),
                 static_cast<unsigned long long>(j.ran), static_cast<unsigned long long>(j.lost()));
  }
  std::fflush(log);

  const std::vector<std::string> findings = FindingsJson(leaked, work);
  for (const std::string& json : findings) {
    std::fprintf(out, "racelab: finding %s\n", json.c_str());
  }
  std::fflush(out);
  return static_cast<int>(findings.size());
}

int ShutdownCheck::Finish(int status) const {
  if (status != 0 || !graceful_shutdown.load(std::memory_order_relaxed)) return status;
  Report(stdout, stderr);
  std::printf("racelab: shutdown complete\n");
  std::fflush(stdout);
  if (HoldRequested()) WaitForEndOfInput();
  return status;
}

}  // namespace racelab::http
