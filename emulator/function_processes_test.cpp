#include "function_processes.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace snapbus::emulator {
namespace {

using namespace std::chrono_literals;

bool listed(const std::vector<pid_t>& pids, pid_t pid) { return std::ranges::find(pids, pid) != pids.end(); }

// A child of this process that sleeps until killed, with `env` as its whole environment.
class SleepingChild {
 public:
  explicit SleepingChild(const std::string& env = "SLEEPING_CHILD=1") {
    pid_ = ::fork();
    if (pid_ == 0) {
      char* argv[] = {const_cast<char*>("/bin/sleep"), const_cast<char*>("30"), nullptr};
      char* envp[] = {const_cast<char*>(env.c_str()), nullptr};
      ::execve(argv[0], argv, envp);
      _exit(127);
    }
  }
  ~SleepingChild() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  SleepingChild(const SleepingChild&) = delete;
  SleepingChild& operator=(const SleepingChild&) = delete;
  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// Whether `done` comes to hold of current(roots)'s list within 5 s.
template <typename Done>
bool holds_within_5s(FunctionProcesses& processes, const std::vector<pid_t>& roots, Done done) {
  for (const auto until = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < until;) {
    if (done(processes.current(roots))) return true;
    std::this_thread::sleep_for(2ms);
  }
  return false;
}

TEST(FunctionProcesses, NoRootsIsNoProcessAndNoWalk) {
  const SleepingChild child;
  FunctionProcesses processes(::getpid(), 1h);
  EXPECT_TRUE(processes.current({}).empty());
}

TEST(FunctionProcesses, NewRootsAreWalkedAtOnce) {
  const SleepingChild first;
  FunctionProcesses processes(::getpid(), 1h);
  EXPECT_TRUE(listed(processes.current({first.pid()}), first.pid()));
  // Another runtime: the list is walked again at once, however young the last walk is.
  const SleepingChild second;
  const std::vector<pid_t>& pids = processes.current({second.pid()});
  EXPECT_TRUE(listed(pids, first.pid()));
  EXPECT_TRUE(listed(pids, second.pid()));
}

TEST(FunctionProcesses, AYoungListIsKept) {
  const SleepingChild root;
  FunctionProcesses processes(::getpid(), 1h);
  ASSERT_TRUE(listed(processes.current({root.pid()}), root.pid()));
  const SleepingChild later;
  EXPECT_FALSE(listed(processes.current({root.pid()}), later.pid()));
}

// The caller that finds the list old gets the old list: the walk runs on another thread, and a later
// call takes its result. Walked on the caller's thread, the new process would be in the first answer.
TEST(FunctionProcesses, AnOldListIsWalkedWithoutHoldingUpTheCaller) {
  const SleepingChild root;
  FunctionProcesses processes(::getpid(), 50ms);
  ASSERT_TRUE(listed(processes.current({root.pid()}), root.pid()));
  const SleepingChild later;
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(listed(processes.current({root.pid()}), later.pid()));
  EXPECT_TRUE(holds_within_5s(processes, {root.pid()}, [&later](const std::vector<pid_t>& pids) {
    return listed(pids, later.pid());
  })) << "a process started after the first walk was not counted once the list was old";
}

TEST(FunctionProcesses, MarkedProcessesAreLeftOut) {
  const std::string marker = "FUNCTION_PROCESSES_TEST=" + std::to_string(::getpid());
  const SleepingChild root;
  const SleepingChild marked(marker);
  FunctionProcesses processes(::getpid(), 50ms);
  ASSERT_TRUE(listed(processes.current({root.pid()}), marked.pid()));
  processes.leave_out(marker);
  EXPECT_TRUE(holds_within_5s(processes, {root.pid()}, [&](const std::vector<pid_t>& pids) {
    return listed(pids, root.pid()) && !listed(pids, marked.pid());
  }));
}

}  // namespace
}  // namespace snapbus::emulator
