#include "racelab/sync/errgroup.h"

#include <cstdio>
#include <exception>
#include <map>
#include <stdexcept>
#include <thread>
#include <vector>

#include "racelab/base/thread_name.h"
#include "racelab/sync/mutex.h"
#include "racelab/sync/thread_annotations.h"

namespace racelab {

struct ErrGroup::Impl {
  Impl(Context c, CancelFunc f) : ctx(std::move(c)), cancel(std::move(f)) {}

  // Runs on the task's own thread.
  void Run(std::uint64_t id, std::unique_ptr<Task>& task) RACELAB_EXCLUDES(mu) {
    SetCurrentThreadName("rl-errgroup-" + std::to_string(id));
    Status err;
    try {
      err = task->Run(ctx);
    } catch (const std::exception& e) {
      err = e.what();
    } catch (...) {
      err = "unknown exception";
    }
    task = nullptr;  // captures die before wait() can return
    bool first = false;
    {
      MutexLock lock(mu);
      if (!err.ok() && first_error.ok()) {
        first_error = err;
        first = true;
      }
      --active;
      // Hand our own std::thread to whoever joins next (go() or wait()).
      auto it = running.find(id);
      finished.push_back(std::move(it->second));
      running.erase(it);
      changed.NotifyAll();
    }
    if (first) CancelQuietly(err.message());
  }

  // The group's context is canceled from a task thread or wait(); an
  // exception from someone's on_done callback must not escape a thread.
  void CancelQuietly(const std::string& cause) {
    try {
      cancel(cause);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "racelab::ErrGroup: context callback threw: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "racelab::ErrGroup: context callback threw\n");
    }
  }

  static void JoinAll(std::vector<std::thread>& threads) {
    for (std::thread& t : threads) t.join();  // finished: each returns promptly
  }

  const Context ctx;
  const CancelFunc cancel;  // cancels nothing for a plain group

  Mutex mu;
  CondVar changed;  // a task finished
  int limit RACELAB_GUARDED_BY(mu) = -1;
  int active RACELAB_GUARDED_BY(mu) = 0;
  std::uint64_t next_id RACELAB_GUARDED_BY(mu) = 0;
  Status first_error RACELAB_GUARDED_BY(mu);
  std::map<std::uint64_t, std::thread> running RACELAB_GUARDED_BY(mu);
  std::vector<std::thread> finished RACELAB_GUARDED_BY(mu);  // to join
};

ErrGroup::ErrGroup() : impl_(std::make_unique<Impl>(Context::Background(), CancelFunc())) {}

std::pair<ErrGroup, Context> ErrGroup::WithContext(const Context& parent) {
  auto [ctx, cancel] = WithCancel(parent);
  ErrGroup group;
  group.impl_ = std::make_unique<Impl>(ctx, cancel);
  return {std::move(group), ctx};
}

ErrGroup::ErrGroup(ErrGroup&& other) noexcept = default;

ErrGroup& ErrGroup::operator=(ErrGroup&& other) noexcept {
  if (this != &other) {
    if (impl_) wait();
    impl_ = std::move(other.impl_);
  }
  return *this;
}

ErrGroup::~ErrGroup() {
  if (impl_) wait();
}

const Context& ErrGroup::context() const { return impl_->ctx; }

void ErrGroup::set_limit(int n) {
  MutexLock lock(impl_->mu);
  if (impl_->active > 0) {
    throw std::logic_error("errgroup: set_limit(" + std::to_string(n) + ") while " +
                           std::to_string(impl_->active) + " tasks are still active");
  }
  impl_->limit = n < 0 ? -1 : n;
}

bool ErrGroup::Start(std::unique_ptr<Task> task, bool block) {
  Impl& g = *impl_;
  std::vector<std::thread> to_join;
  {
    MutexLock lock(g.mu);
    if (g.limit == 0) {
      if (!block) return false;
      throw std::logic_error("errgroup: go() with limit 0 would block forever");
    }
    auto has_room = [&]() RACELAB_REQUIRES(g.mu) { return g.limit < 0 || g.active < g.limit; };
    if (!has_room()) {
      if (!block) return false;
      g.changed.Wait(lock, has_room);
    }
    to_join.swap(g.finished);
    const std::uint64_t id = ++g.next_id;
    // Started under mu: the task's epilogue locks mu, so it finds its entry.
    auto [it, inserted] = g.running.emplace(id, std::thread());
    try {
      it->second = std::thread([&g, id, task = std::move(task)]() mutable { g.Run(id, task); });
    } catch (...) {
      g.running.erase(it);
      g.finished.insert(g.finished.end(), std::make_move_iterator(to_join.begin()),
                        std::make_move_iterator(to_join.end()));
      throw;
    }
    ++g.active;
  }
  Impl::JoinAll(to_join);
  return true;
}

Status ErrGroup::wait() {
  Impl& g = *impl_;
  std::vector<std::thread> to_join;
  Status result;
  {
    MutexLock lock(g.mu);
    g.changed.Wait(lock, [&]() RACELAB_REQUIRES(g.mu) { return g.active == 0; });
    to_join.swap(g.finished);
    result = g.first_error;
  }
  Impl::JoinAll(to_join);
  g.CancelQuietly(result.message());
  return result;
}

}  // namespace racelab
