#include "racelab/http/internal/hangup_watcher.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <utility>
#include <vector>

#include "racelab/base/thread_name.h"

namespace racelab::http {

namespace {
constexpr std::uint64_t kStopKey = 0;
constexpr int kMaxEvents = 64;
}  // namespace

HangupWatcher::Watch::Watch(Watch&& other) noexcept
    : watcher_(std::exchange(other.watcher_, nullptr)), key_(other.key_), fd_(other.fd_) {}

HangupWatcher::Watch& HangupWatcher::Watch::operator=(Watch&& other) noexcept {
  if (this != &other) {
    Stop();
    watcher_ = std::exchange(other.watcher_, nullptr);
    key_ = other.key_;
    fd_ = other.fd_;
  }
  return *this;
}

bool HangupWatcher::Watch::Stop() {
  HangupWatcher* watcher = std::exchange(watcher_, nullptr);
  return watcher != nullptr && watcher->Remove(key_, fd_);
}

HangupWatcher::HangupWatcher() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) {
    const int err = errno;
    close(epoll_fd_);
    throw std::system_error(err, std::generic_category(), "eventfd");
  }
  epoll_event stop{};
  stop.events = EPOLLIN;
  stop.data.u64 = kStopKey;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, stop_fd_, &stop);
  thread_ = std::thread([this] { Loop(); });
}

HangupWatcher::~HangupWatcher() {
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = write(stop_fd_, &one, sizeof one);
  thread_.join();
  close(stop_fd_);
  close(epoll_fd_);
}

HangupWatcher::Watch HangupWatcher::Add(int fd, std::function<void()> on_hangup) {
  MutexLock lock(mu_);
  const std::uint64_t key = next_key_++;
  epoll_event event{};
  event.events = EPOLLRDHUP | EPOLLONESHOT;  // EPOLLHUP and EPOLLERR come anyway
  event.data.u64 = key;
  // Registered under mu_, so the loop finds the callback when the event fires.
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) return Watch();
  watches_.emplace(key, std::move(on_hangup));
  return Watch(this, key, fd);
}

bool HangupWatcher::Remove(std::uint64_t key, int fd) {
  MutexLock lock(mu_);
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);  // before the owner closes fd
  return watches_.erase(key) > 0;
}

void HangupWatcher::Loop() {
  SetCurrentThreadName("rl-hangup");
  epoll_event events[kMaxEvents];
  while (true) {
    const int n = epoll_wait(epoll_fd_, events, kMaxEvents, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;  // the epoll fd is broken: nothing more to watch
    std::vector<std::function<void()>> hung_up;
    {
      MutexLock lock(mu_);
      for (int i = 0; i < n; ++i) {
        const std::uint64_t key = events[i].data.u64;  // a copy: epoll_event is packed
        if (key == kStopKey) return;
        const auto it = watches_.find(key);
        if (it == watches_.end()) continue;  // its Watch was stopped meanwhile
        hung_up.push_back(std::move(it->second));
        watches_.erase(it);
      }
    }
    for (const auto& fn : hung_up) fn();  // outside mu_: Add and Stop go on
  }
}

}  // namespace racelab::http
