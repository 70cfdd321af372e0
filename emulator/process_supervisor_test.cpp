// In its own executable: the supervisor makes the test process a child subreaper, catches SIGCHLD
// and reaps every child, which would disturb tests that wait for their own children.
#include "process_supervisor.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio.hpp>

#include "process_tree.h"

namespace snapbus::emulator {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

std::string test_marker() { return "SNAPBUS_SUPERVISOR_TEST=" + std::to_string(::getpid()); }

LaunchSpec shell(const std::string& script) {
  return {.argv = {"/bin/sh", "-c", script}, .env = {"PATH=/usr/bin:/bin", test_marker()}, .cwd = {}};
}

// A supervisor on its own io_context that records what it reports.
struct Recorder {
  asio::io_context io;
  std::optional<std::pair<pid_t, int>> runtime_exit;
  std::optional<std::pair<pid_t, int>> child_exit;
  std::optional<int> stop_signal;
  ProcessSupervisor processes{io,
                              test_marker(),
                              {.runtime_exited =
                                   [this](pid_t pid, int status) {
                                     runtime_exit = {pid, status};
                                   },
                               .child_exited =
                                   [this](pid_t pid, int status) {
                                     child_exit = {pid, status};
                                   },
                               .stop_requested = [this](int sig) { stop_signal = sig; }}};

  Recorder() { processes.start(); }
  ~Recorder() { processes.end_all(); }
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  bool run_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io.restart();
      io.run_for(5ms);
    }
    return done();
  }
};

TEST(ProcessSupervisor, RuntimeExitIsReportedWithItsStatus) {
  Recorder r;
  const pid_t pid = r.processes.launch_runtime(shell("exit 7"));
  EXPECT_TRUE(r.processes.runtime_launch_attempted());
  ASSERT_TRUE(r.run_until([&] { return r.runtime_exit.has_value(); }));
  EXPECT_EQ(r.runtime_exit->first, pid);
  EXPECT_EQ(describe_exit(r.runtime_exit->second), "exit status 7");
  EXPECT_FALSE(r.processes.runtime_alive());
  EXPECT_TRUE(r.processes.runtime_pids().empty());
  EXPECT_FALSE(r.child_exit);
}

TEST(ProcessSupervisor, OtherChildrenAreReportedAsChildExits) {
  Recorder r;
  const pid_t pid = r.processes.launch_extension(shell("kill -KILL $$"));
  ASSERT_TRUE(r.run_until([&] { return r.child_exit.has_value(); }));
  EXPECT_EQ(r.child_exit->first, pid);
  EXPECT_EQ(describe_exit(r.child_exit->second), "signal: Killed");
  EXPECT_FALSE(r.runtime_exit);
}

TEST(ProcessSupervisor, RunCommandReturnsItsStatusWithoutAChildExit) {
  Recorder r;
  std::optional<int> status;
  asio::co_spawn(
      r.io, [&]() -> asio::awaitable<void> { status = co_await r.processes.run_command(shell("exit 4")); },
      asio::detached);
  ASSERT_TRUE(r.run_until([&] { return status.has_value(); }));
  EXPECT_EQ(describe_exit(*status), "exit status 4");
  EXPECT_FALSE(r.child_exit);
}

TEST(ProcessSupervisor, StopWaitingReleasesRunCommand) {
  Recorder r;
  std::optional<int> status;
  asio::co_spawn(
      r.io, [&]() -> asio::awaitable<void> { status = co_await r.processes.run_command(shell("sleep 30")); },
      asio::detached);
  r.io.run_for(20ms);
  EXPECT_FALSE(status);
  r.processes.stop_waiting();
  ASSERT_TRUE(r.run_until([&] { return status.has_value(); }));
  EXPECT_EQ(*status, -1);
}

TEST(ProcessSupervisor, LaunchFailureThrowsAndCountsAsAttempt) {
  Recorder r;
  EXPECT_THROW(r.processes.launch_runtime({.argv = {"/nonexistent/bootstrap"}, .env = {}, .cwd = {}}), LaunchError);
  EXPECT_TRUE(r.processes.runtime_launch_attempted());
  EXPECT_FALSE(r.processes.runtime_alive());
}

TEST(ProcessSupervisor, StopSignalsAreReported) {
  Recorder r;
  ::kill(::getpid(), SIGHUP);
  ASSERT_TRUE(r.run_until([&] { return r.stop_signal.has_value(); }));
  EXPECT_EQ(*r.stop_signal, SIGHUP);
}

TEST(ProcessSupervisor, FreezesAndThawsTheFunction) {
  Recorder r;
  EXPECT_NE(r.processes.create_freezer(FreezerMode::signal).find("SIGSTOP"), std::string::npos);
  EXPECT_EQ(r.processes.freezer_backend(), "signal");
  // exec: a shell that runs `sleep` through vfork waits for it uninterruptibly ('D'), which the
  // freezer counts as frozen but which is not the 'T' this test checks.
  const pid_t pid = r.processes.launch_runtime(shell("exec sleep 30"));
  r.processes.freeze();
  EXPECT_EQ(process_state(pid), 'T');
  r.processes.thaw();
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (process_state(pid) == 'T' && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  EXPECT_NE(process_state(pid), 'T');
}

TEST(ProcessSupervisor, EndAllLeavesNothingBehind) {
  Recorder r;
  r.processes.launch_runtime(shell("sleep 30 & sleep 30"));
  r.processes.launch_extension(shell("sleep 30"));
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (descendants(::getpid()).size() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_GE(descendants(::getpid()).size(), 3U);
  r.processes.terminate_runtime(SIGTERM);
  r.processes.end_all();
  EXPECT_TRUE(descendants(::getpid()).empty());
  EXPECT_TRUE(processes_with_env(test_marker()).empty());
  EXPECT_FALSE(r.processes.runtime_alive());
}

}  // namespace
}  // namespace snapbus::emulator
