// Thread names: every thread racelab starts carries one, so TSan reports
// ("Thread T3 'rl-io-2' (tid=...)"), /debug/threads and leak checks can say
// which thread is which.
//
//   racelab::SetCurrentThreadName("rl-io-0");
//   for (const ThreadInfo& t : racelab::ListThreads()) ...
//
// Linux limits a name to 15 bytes; longer names are cut, never rejected.
//
// Memory ordering: none; these functions read and write kernel state only.
#ifndef RACELAB_BASE_THREAD_NAME_H_
#define RACELAB_BASE_THREAD_NAME_H_

#include <string>
#include <string_view>
#include <vector>

namespace racelab {

// Names the calling thread. Any thread may call it, at any time.
void SetCurrentThreadName(std::string_view name);

// The name of the calling thread ("" if it cannot be read).
std::string CurrentThreadName();

struct ThreadInfo {
  long tid = 0;      // kernel thread id (as in /proc/self/task)
  std::string name;  // comm, as set by SetCurrentThreadName
};

// Every thread of this process, sorted by tid. Reads /proc/self/task.
std::vector<ThreadInfo> ListThreads();

// Number of threads of process `pid` (its "Threads:" in /proc/PID/status),
// or -1 when the process is gone or /proc cannot be read.
int CountThreads(long pid);

}  // namespace racelab

#endif  // RACELAB_BASE_THREAD_NAME_H_
