#include "racelab/base/thread_name.h"

#include <pthread.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace racelab {

namespace {
constexpr std::size_t kMaxNameBytes = 15;  // TASK_COMM_LEN - 1
}  // namespace

void SetCurrentThreadName(std::string_view name) {
  std::string cut(name.substr(0, kMaxNameBytes));
  pthread_setname_np(pthread_self(), cut.c_str());
}

std::string CurrentThreadName() {
  char buf[kMaxNameBytes + 1] = {};
  if (pthread_getname_np(pthread_self(), buf, sizeof buf) != 0) return {};
  return buf;
}

std::vector<ThreadInfo> ListThreads() {
  std::vector<ThreadInfo> threads;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    ThreadInfo info;
    char* end = nullptr;
    const std::string tid = entry.path().filename().string();
    info.tid = std::strtol(tid.c_str(), &end, 10);
    if (end == tid.c_str()) continue;
    std::ifstream comm(entry.path() / "comm");
    std::getline(comm, info.name);  // a thread that just exited reads ""
    threads.push_back(std::move(info));
  }
  std::sort(threads.begin(), threads.end(),
            [](const ThreadInfo& a, const ThreadInfo& b) { return a.tid < b.tid; });
  return threads;
}

int CountThreads(long pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::atoi(line.c_str() + 8);
  }
  return -1;
}

}  // namespace racelab
