#include "process_supervisor.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <optional>

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "lambda_log.h"
#include "process_tree.h"

namespace snapbus::emulator {
namespace {

constexpr std::chrono::seconds kKillBound{5};

}  // namespace

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("signal: {}", ::strsignal(WTERMSIG(status)));
  return "unknown status";
}

ProcessSupervisor::ProcessSupervisor(boost::asio::io_context& io, std::string marker, Events events)
    : io_(io),
      marker_(std::move(marker)),
      events_(std::move(events)),
      signals_(io, SIGINT, SIGTERM, SIGCHLD),
      child_exit_(io.get_executor()) {
  signals_.add(SIGHUP);
  // Caught rather than fatal: a write to a closed stdout then fails with EPIPE, and the function is
  // shut down as on SIGTERM (extensions told, the report written) instead of the emulator dying
  // mid-line. A caught signal is the default again after exec, so the function's own is unchanged.
  signals_.add(SIGPIPE);
}

void ProcessSupervisor::start() {
  boost::asio::co_spawn(io_, watch_signals(), boost::asio::detached);
  become_subreaper();
}

boost::asio::awaitable<void> ProcessSupervisor::watch_signals() {
  for (;;) {
    boost::system::error_code ec;
    const int sig = co_await signals_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    if (ec) co_return;
    if (sig == SIGCHLD) {
      int status = 0;
      pid_t pid = 0;
      while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) on_child_exit(pid, status);
    } else if (sig != SIGPIPE || !heard_broken_pipe_) {
      heard_broken_pipe_ = heard_broken_pipe_ || sig == SIGPIPE;  // one stop for a closed pipe
      events_.stop_requested(sig);
    }
  }
}

void ProcessSupervisor::on_child_exit(pid_t pid, int status) {
  child_exit_.notify();
  if (auto it = command_watchers_.find(pid); it != command_watchers_.end()) {
    auto watcher = std::move(it->second);
    command_watchers_.erase(it);
    watcher(status);
    return;
  }
  if (pid == runtime_pid_) {
    runtime_alive_ = false;
    events_.runtime_exited(pid, status);
    return;
  }
  events_.child_exited(pid, status);
}

std::string ProcessSupervisor::create_freezer(FreezerMode mode) {
  std::string note;
  freezer_ = Freezer::create(mode, freezer_cgroup_name(::getpid()), note);
  return note;
}

std::string_view ProcessSupervisor::freezer_backend() const { return freezer_ ? freezer_->backend() : "none"; }

pid_t ProcessSupervisor::launch_extension(const LaunchSpec& spec) { return spawn_process(spec, freezer_.get()); }

pid_t ProcessSupervisor::launch_runtime(const LaunchSpec& spec) {
  runtime_launch_attempted_ = true;
  runtime_pid_ = spawn_process(spec, freezer_.get());
  runtime_alive_ = true;
  return runtime_pid_;
}

std::vector<pid_t> ProcessSupervisor::runtime_pids() const {
  if (!runtime_alive_) return {};
  return {runtime_pid_};
}

boost::asio::awaitable<int> ProcessSupervisor::run_command(const LaunchSpec& spec) {
  const pid_t pid = spawn_process(spec, nullptr);
  auto status = std::make_shared<std::optional<int>>();
  command_watchers_[pid] = [status](int st) { *status = st; };
  while (!*status && !stopping_) co_await child_exit_.wait();
  co_return status->value_or(-1);
}

void ProcessSupervisor::stop_waiting() {
  stopping_ = true;
  child_exit_.notify();
}

void ProcessSupervisor::retire() {
  boost::system::error_code ignored;
  signals_.cancel(ignored);
  signals_.clear(ignored);
}

void ProcessSupervisor::freeze() {
  freezer_->freeze();
  frozen_ = true;
}

void ProcessSupervisor::thaw() {
  freezer_->thaw();
  frozen_ = false;
}

void ProcessSupervisor::terminate_runtime(int signal_number) {
  if (frozen_ && freezer_) {
    try {
      thaw();
    } catch (const std::exception& e) {
      diagnostic(e.what());
    }
    frozen_ = false;
  }
  // The runtime's whole process group (it leads one), as the RIE's supervisor signals it: a server's
  // workers get the signal too, not only the process Lambda started.
  if (runtime_alive_ && ::kill(-runtime_pid_, signal_number) != 0) ::kill(runtime_pid_, signal_number);
}

void ProcessSupervisor::end_all() {
  if (freezer_) freezer_->kill_all();
  if (!kill_descendants_and_reap(::getpid(), kKillBound)) diagnostic("some processes of the function survived SIGKILL");
  for (pid_t pid : processes_with_env(marker_)) {
    if (pid != ::getpid()) ::kill(pid, SIGKILL);
  }
  runtime_alive_ = false;
}

}  // namespace snapbus::emulator
