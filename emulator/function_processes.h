// The processes whose memory Max Memory Used counts, kept up to date without holding up invocations.
//
//   FunctionProcesses processes(::getpid(), std::chrono::seconds(1));
//   const std::vector<pid_t>& pids = processes.current(runtime_and_extension_pids);  // on the io thread
//   memory = process_memory.peak_mb(pids);
//
// Finding them walks all of /proc (process_tree.h's descendants): 0.7 to 1.7 ms on a machine with 70
// processes. Done on the emulator's io thread once a second, as it was, the walk held up whatever
// came in meanwhile, a runtime's answer or a streamed chunk, once a second: with streamed invocations
// (about 12 a second in adapter_bench) that was one in every dozen, and set the 99th percentile of
// the time to first byte. So only a walk that cannot wait (the runtime or an extension changed, and
// the list must be theirs) runs on the caller's thread; the walk a list's age asks for runs on a
// thread of its own at idle priority, and a later call takes its result.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace snapbus::emulator {

class FunctionProcesses {
 public:
  using Clock = std::chrono::steady_clock;

  // Every process below `root` is the function's (as a child subreaper the emulator adopts orphans,
  // which Lambda's count still holds). A list older than `max_age` is walked anew.
  FunctionProcesses(pid_t root, Clock::duration max_age);
  // Waits for a walk in progress (a few milliseconds).
  ~FunctionProcesses();
  FunctionProcesses(const FunctionProcesses&) = delete;
  FunctionProcesses& operator=(const FunctionProcesses&) = delete;

  // The function's processes. Empty, without a walk, when `roots` (the runtime's and the extensions'
  // processes) is empty; walked now when `roots` changed since the last call; otherwise the last
  // walk's list, a process started since it being counted from a later walk on. Not thread-safe:
  // called from one thread (the emulator's io thread).
  const std::vector<pid_t>& current(const std::vector<pid_t>& roots);

  // Processes whose initial environment holds `marker` (KEY=VALUE) are left out from the next walk on:
  // what the --while-frozen command left running was adopted by the emulator, not started by the function.
  void leave_out(std::string marker);

 private:
  struct Walk {
    Clock::time_point started;
    std::vector<pid_t> pids;
  };
  // descendants(root_) less the marked processes.
  [[nodiscard]] static std::vector<pid_t> walk(pid_t root, const std::string& marker);
  void walk_in_background();

  const pid_t root_;
  const Clock::duration max_age_;
  // The caller's side.
  std::vector<pid_t> roots_;
  std::vector<pid_t> pids_;
  Clock::time_point walked_;
  bool background_walk_asked_ = false;
  // Shared with the walker thread.
  std::mutex mutex_;
  std::condition_variable asked_;
  std::string marker_;
  bool walk_wanted_ = false;
  bool stopping_ = false;
  std::optional<Walk> background_result_;
  std::thread walker_;  // started at the first walk that a list's age asks for
};

}  // namespace snapbus::emulator
