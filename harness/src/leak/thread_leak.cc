#include "racelab/leak/thread_leak.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>

#include "racelab/base/thread_name.h"

namespace racelab::leak {

namespace {

std::string ReadFirstLine(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// Fills state and start_time from /proc/self/task/<tid>/stat: "tid (comm)
// S ppid ...". comm may hold spaces and parentheses, so the fields start
// after the last ')'. State is field 3, starttime field 22.
bool ParseStat(const std::string& stat, ThreadRecord& out) {
  const std::size_t close = stat.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(stat.substr(close + 1));
  std::vector<std::string> rest{std::istream_iterator<std::string>(fields),
                                std::istream_iterator<std::string>()};
  constexpr std::size_t kStartTime = 22 - 3;  // index of field 22 when field 3 is index 0
  if (rest.size() <= kStartTime || rest[0].empty()) return false;
  out.state = rest[0][0];
  out.start_time = std::strtoull(rest[kStartTime].c_str(), nullptr, 10);
  return true;
}

// Starts and joins one thread, once per process: a sanitizer runtime that
// starts a helper with the first pthread_create (TSan) has it running after.
void StartRuntimeHelpers() {
  static std::once_flag once;
  std::call_once(once, [] { std::thread([] { SetCurrentThreadName("rl-leak-warmup"); }).join(); });
}

}  // namespace

std::string ThreadRecord::Describe() const {
  std::string out = (name.empty() ? std::string("(unnamed)") : name) + " (tid " +
                    std::to_string(tid) + ", state " + std::string(1, state);
  if (!wchan.empty()) out += ", waiting in " + wchan;
  return out + ")";
}

std::optional<ThreadRecord> ReadThread(long tid) {
  const std::filesystem::path dir = "/proc/self/task/" + std::to_string(tid);
  ThreadRecord record;
  record.tid = tid;
  if (!ParseStat(ReadFirstLine(dir / "stat"), record)) return std::nullopt;
  record.name = ReadFirstLine(dir / "comm");
  record.wchan = ReadFirstLine(dir / "wchan");
  if (record.wchan == "0") record.wchan.clear();  // running, or hidden by the kernel
  return record;
}

Snapshot Snapshot::Take() {
  StartRuntimeHelpers();
  Snapshot snapshot;
  for (const ThreadInfo& info : ListThreads()) {
    if (std::optional<ThreadRecord> record = ReadThread(info.tid)) {
      snapshot.threads_.push_back(std::move(*record));
    }
  }
  return snapshot;  // ListThreads sorts by tid
}

bool Snapshot::Contains(const ThreadRecord& thread) const noexcept {
  return std::any_of(threads_.begin(), threads_.end(),
                     [&](const ThreadRecord& t) { return t.SameThread(thread); });
}

bool MatchesAny(std::string_view name, const std::vector<std::string>& patterns) {
  return std::any_of(patterns.begin(), patterns.end(), [&](std::string_view pattern) {
    if (!pattern.empty() && pattern.back() == '*') {
      return name.substr(0, pattern.size() - 1) == pattern.substr(0, pattern.size() - 1);
    }
    return name == pattern;
  });
}

std::vector<ThreadRecord> NewThreads(const Snapshot& before, const Snapshot& after,
                                     const std::vector<std::string>& ignore) {
  std::vector<ThreadRecord> found;
  for (const ThreadRecord& t : after.threads()) {
    if (!before.Contains(t) && !MatchesAny(t.name, ignore)) found.push_back(t);
  }
  return found;
}

std::vector<ThreadRecord> FindLeakedThreads(const Snapshot& before, const CheckOptions& options) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point give_up = Clock::now() + options.deadline;
  std::chrono::milliseconds backoff{1};
  while (true) {
    std::vector<ThreadRecord> found = NewThreads(before, Snapshot::Take(), options.ignore);
    const Clock::time_point now = Clock::now();
    if (found.empty() || now >= give_up) return found;
    // A thread on its way out has no event to wait on: look again later.
    std::this_thread::sleep_for(std::min<Clock::duration>(backoff, give_up - now));
    backoff = std::min(backoff * 2, std::max(options.max_backoff, std::chrono::milliseconds(1)));
  }
}

}  // namespace racelab::leak
