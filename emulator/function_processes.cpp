#include "function_processes.h"

#include <pthread.h>
#include <sched.h>

#include <utility>

#include "process_tree.h"
#include "thread_without_signals.h"

namespace snapbus::emulator {

FunctionProcesses::FunctionProcesses(pid_t root, Clock::duration max_age) : root_(root), max_age_(max_age) {}

FunctionProcesses::~FunctionProcesses() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  asked_.notify_one();
  if (walker_.joinable()) walker_.join();
}

std::vector<pid_t> FunctionProcesses::walk(pid_t root, const std::string& marker) {
  std::vector<pid_t> pids = descendants(root);
  if (!marker.empty()) std::erase_if(pids, [&marker](pid_t pid) { return has_env(pid, marker); });
  return pids;
}

const std::vector<pid_t>& FunctionProcesses::current(const std::vector<pid_t>& roots) {
  if (roots.empty()) {
    pids_.clear();
    roots_.clear();
    return pids_;
  }
  const auto now = Clock::now();
  std::string marker;
  {
    const std::lock_guard lock(mutex_);
    marker = marker_;
    if (background_result_) {
      // A walk that began before the last one made here is older than what this side has.
      if (background_result_->started >= walked_) {
        pids_ = std::move(background_result_->pids);
        walked_ = background_result_->started;
      }
      background_result_.reset();
      background_walk_asked_ = false;
    }
  }
  if (roots != roots_) {
    pids_ = walk(root_, marker);
    roots_ = roots;
    walked_ = now;
  } else if (now - walked_ >= max_age_ && !background_walk_asked_) {
    background_walk_asked_ = true;
    {
      const std::lock_guard lock(mutex_);
      walk_wanted_ = true;
    }
    if (!walker_.joinable()) walker_ = thread_without_signals([this] { walk_in_background(); });
    asked_.notify_one();
  }
  return pids_;
}

void FunctionProcesses::leave_out(std::string marker) {
  const std::lock_guard lock(mutex_);
  marker_ = std::move(marker);
}

void FunctionProcesses::walk_in_background() {
  // Idle priority: the walk is bookkeeping and may wait, while every process of the function and the
  // emulator's io thread are on an invocation's path. Lowering one's own priority needs no privilege;
  // should it fail anyway, the walk runs at normal priority, which is still off the io thread.
  const sched_param idle{};
  (void)::pthread_setschedparam(::pthread_self(), SCHED_IDLE, &idle);
  std::unique_lock lock(mutex_);
  for (;;) {
    asked_.wait(lock, [this] { return walk_wanted_ || stopping_; });
    if (stopping_) return;
    walk_wanted_ = false;
    const std::string marker = marker_;
    lock.unlock();
    Walk result{.started = Clock::now(), .pids = {}};
    result.pids = walk(root_, marker);
    lock.lock();
    background_result_ = std::move(result);
  }
}

}  // namespace snapbus::emulator
