// The processes of one environment: launching the runtime and the external extensions, noticing
// when any of them exits (SIGCHLD), the stop signals (SIGINT, SIGTERM, SIGHUP, and SIGPIPE: the
// reader of the emulator's output went away, as in `snapbus emulate | head`), the freezer that holds
// them all still for the snapshot, and ending every one of them at shutdown.
//
//   ProcessSupervisor processes(io, marker, {.runtime_exited = ..., .child_exited = ..., .stop_requested = ...});
//   processes.start();                                     // signals, subreaper
//   processes.create_freezer(FreezerMode::automatic);          // SnapStart only
//   processes.launch_runtime({.argv = runtime_argv(config), .env = env, .cwd = config.task_root});
//   processes.freeze(); ... processes.thaw();
//   processes.end_all();                                   // at shutdown: nothing of the function survives
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "freezer.h"
#include "function_launcher.h"
#include "wake_signal.h"

namespace snapbus::emulator {

// "exit status 3", "signal: Killed": a wait status as a log line shows it.
std::string describe_exit(int status);

class ProcessSupervisor {
 public:
  struct Events {
    std::function<void(pid_t pid, int status)> runtime_exited;
    // Any other child that exits, except commands awaited through run_command.
    std::function<void(pid_t pid, int status)> child_exited;
    std::function<void(int signal_number)> stop_requested;
  };

  // `marker` (KEY=VALUE) is in the environment of every process of the function: end_all sweeps by it.
  ProcessSupervisor(boost::asio::io_context& io, std::string marker, Events events);

  // Starts watching signals and makes this process the child subreaper, so orphans of the
  // function come back to it. Once, before launching anything.
  void start();

  // SnapStart: picks the freezer (throws std::runtime_error when the mode cannot be had) and
  // returns the sentence explaining the choice.
  std::string create_freezer(FreezerMode mode);
  [[nodiscard]] std::string_view freezer_backend() const;

  // Both throw LaunchError; processes join the freezer before they run.
  pid_t launch_extension(const LaunchSpec& spec);
  pid_t launch_runtime(const LaunchSpec& spec);
  // Whether launch_runtime was called (even if it failed): the runtime is launched once.
  [[nodiscard]] bool runtime_launch_attempted() const { return runtime_launch_attempted_; }
  [[nodiscard]] bool runtime_alive() const { return runtime_alive_; }
  [[nodiscard]] std::vector<pid_t> runtime_pids() const;

  // Runs a helper command outside the function (not frozen with it) and returns its wait status,
  // or -1 when stop_waiting() came first. Throws LaunchError.
  boost::asio::awaitable<int> run_command(const LaunchSpec& spec);
  // Releases run_command waits: the environment is ending.
  void stop_waiting();
  // Stops watching signals and children: a fresh environment's supervisor, made before this is
  // called, takes over (so a signal never meets no handler).
  void retire();

  // Throw std::runtime_error when the freezer fails.
  void freeze();
  void thaw();

  // Shutdown, step 1: a frozen function is thawed (it could not act on SIGTERM), and the runtime's
  // process group gets `signal_number`: SIGTERM, or SIGKILL when it gets no graceful shutdown.
  void terminate_runtime(int signal_number);
  // Shutdown, step 2: SIGKILL for everything left, through the freezer, the process tree and the marker.
  void end_all();

 private:
  boost::asio::awaitable<void> watch_signals();
  void on_child_exit(pid_t pid, int status);

  boost::asio::io_context& io_;
  std::string marker_;
  Events events_;
  boost::asio::signal_set signals_;
  std::unique_ptr<Freezer> freezer_;
  bool frozen_ = false;
  pid_t runtime_pid_ = -1;
  bool runtime_launch_attempted_ = false;
  bool heard_broken_pipe_ = false;
  bool runtime_alive_ = false;
  std::map<pid_t, std::function<void(int)>> command_watchers_;
  WakeSignal child_exit_;  // also notified by stop_waiting()
  bool stopping_ = false;
};

}  // namespace snapbus::emulator
