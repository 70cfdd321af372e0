#include "orphan_guard.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <thread>

#include <gtest/gtest.h>

#include "process_tree.h"

namespace snapbus::emulator {
namespace {

using namespace std::chrono_literals;

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

TEST(OrphanGuard, KillsMarkedProcessesWhenItsOwnerIsKilled) {
  const std::string marker = "ORPHAN_GUARD_TEST=" + std::to_string(::getpid());
  int report[2];
  ASSERT_EQ(::pipe(report), 0);
  const pid_t owner = ::fork();
  if (owner == 0) {
    // Plays the emulator: starts its guard, starts a marked process, then dies without cleaning up.
    start_orphan_guard(marker);
    const pid_t sleeper = ::fork();
    if (sleeper == 0) {
      char* argv[] = {const_cast<char*>("/bin/sleep"), const_cast<char*>("60"), nullptr};
      char* envp[] = {const_cast<char*>(marker.c_str()), nullptr};
      ::execve(argv[0], argv, envp);
      _exit(127);
    }
    (void)!::write(report[1], &sleeper, sizeof sleeper);
    for (;;) ::pause();
  }
  ::close(report[1]);
  pid_t sleeper = 0;
  ASSERT_EQ(::read(report[0], &sleeper, sizeof sleeper), static_cast<ssize_t>(sizeof sleeper));
  ::close(report[0]);
  ASSERT_TRUE(wait_until([&] { return processes_with_env(marker) == std::vector<pid_t>{sleeper}; }, 10s));

  ::kill(owner, SIGKILL);
  ::waitpid(owner, nullptr, 0);
  EXPECT_TRUE(wait_until([&] { return processes_with_env(marker).empty(); }, 10s))
      << "the guard did not kill the orphaned process " << sleeper;
  for (pid_t pid : processes_with_env(marker)) ::kill(pid, SIGKILL);
}

}  // namespace
}  // namespace snapbus::emulator
