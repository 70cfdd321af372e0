// The processes and sockets the benchmarks that run real executables share: a child process with
// its output in files, `snapbus emulate` started on free ports, and loopback connections.
//
//   snapbus::bench::EmulatorProcess emulator(SNAPBUS_EXECUTABLE, dir, {"--", "/bin/sleep", "3600"});
//   tcp::socket client = snapbus::bench::connect_loopback(io, emulator.front_door());
//   snapbus::bench::LoopbackEchoServer bare;   // the machine's yardstick: one HTTP round trip
//   const snapbus::bench::OnOneCore pinned(state.range(0) == 1);  // before the processes start
#pragma once

#include <sched.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace snapbus::bench {

using tcp = boost::asio::ip::tcp;

// `args[0]` run with `args`, `extra_env` ("NAME=value") added, stdout and stderr into files.
// Dropped or stopped: SIGTERM, then SIGKILL if it has not exited within 5 s.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& args, const std::vector<std::string>& extra_env,
               const std::filesystem::path& stdout_file, const std::filesystem::path& stderr_file);
  ~ChildProcess() { stop(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  void stop();
  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// `snapbus emulate --port 0 --runtime-api-port 0 --ready-file <dir>/ready.json <options>`, ready once
// its ready file is written (throws, naming its stderr log, when that takes over 20 s).
class EmulatorProcess {
 public:
  EmulatorProcess(const std::string& executable, const std::filesystem::path& dir,
                  const std::vector<std::string>& options, const std::vector<std::string>& extra_env = {});

  void stop() { process_->stop(); }
  [[nodiscard]] std::uint16_t front_door() const { return front_door_; }
  [[nodiscard]] std::uint16_t runtime_api() const { return runtime_api_; }
  [[nodiscard]] pid_t pid() const { return process_->pid(); }
  // When this process first saw the ready file (polled every millisecond).
  [[nodiscard]] std::chrono::steady_clock::time_point ready_at() const { return ready_at_; }

 private:
  std::optional<ChildProcess> process_;
  std::uint16_t front_door_ = 0;
  std::uint16_t runtime_api_ = 0;
  std::chrono::steady_clock::time_point ready_at_;
};

// A connection to 127.0.0.1:port with Nagle off, as every client in the benchmarks wants.
tcp::socket connect_loopback(boost::asio::io_context& io, std::uint16_t port);

// A new directory under /tmp, "snapbus-<name>-XXXXXX", readable by everyone (the processes a
// benchmark starts may run as another user), removed with everything in it when this goes.
class TempDir {
 public:
  explicit TempDir(const std::string& name);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A bare HTTP server for one connection, answering every request with "{}". It runs in a process
// of its own, as every hop it is the yardstick for does: a round trip between two threads of one
// process costs less on one core (no switch of address space).
class LoopbackEchoServer {
 public:
  LoopbackEchoServer();
  ~LoopbackEchoServer();  // the caller's connection closes first; the server then exits
  LoopbackEchoServer(const LoopbackEchoServer&) = delete;
  LoopbackEchoServer& operator=(const LoopbackEchoServer&) = delete;
  [[nodiscard]] std::uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

// When `wanted`, this thread and everything it starts afterwards (child processes and their
// threads: affinity is inherited) run on one core until it is dropped. A relay's cost is then its
// own work and its context switches, without the cross-core wake-ups whose price on a VM (an idle
// vCPU's wake costs about 100 us here), and which core the scheduler happens to pick for each
// process, decide most of an unpinned figure.
class OnOneCore {
 public:
  explicit OnOneCore(bool wanted);
  ~OnOneCore();
  OnOneCore(const OnOneCore&) = delete;
  OnOneCore& operator=(const OnOneCore&) = delete;

 private:
  bool wanted_;
  cpu_set_t saved_{};
};

}  // namespace snapbus::bench
