// A real child process for end-to-end tests: posix_spawn with its stdout and stderr captured, and
// every wait bounded by a deadline (a process still running at its deadline is killed).
//
//   snapbus::testing::SpawnedProcess publish({snapbus_binary(), "publish", "restore"},
//                                            {{"SNAPBUS_SEGMENT", path}});
//   ASSERT_TRUE(publish.wait_for_output("waiting for 2 subscribers", 10s));
//   snapbus::testing::ExitResult result = publish.wait_exit(10s);
//   EXPECT_EQ(result.code, 0) << result.stderr_text;
//
// Waiting uses a pidfd and poll, so nothing sleeps: the test wakes when the child prints or exits.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace snapbus::testing {

// $SNAPBUS_CLI and $SNAPBUS_EXAMPLE_SUBSCRIBER: the built executables, as ctest names them.
std::string snapbus_binary();
std::string example_subscriber_binary();

struct ExitResult {
  int code = -1;  // the exit code; 128 + signal when a signal ended it; -1 if killed at the deadline
  std::string stdout_text;
  std::string stderr_text;
};

class SpawnedProcess {
 public:
  // `environment` is added to (and overrides) this process's environment.
  SpawnedProcess(std::vector<std::string> argv, const std::map<std::string, std::string>& environment);
  SpawnedProcess(SpawnedProcess&& other) noexcept;
  SpawnedProcess(const SpawnedProcess&) = delete;
  SpawnedProcess& operator=(const SpawnedProcess&) = delete;
  SpawnedProcess& operator=(SpawnedProcess&&) = delete;
  ~SpawnedProcess();  // SIGKILL and reap if still running

  pid_t pid() const noexcept { return pid_; }

  enum class Stream { out, err };
  // Reads until the stream contains `text` (true) or the deadline/EOF (false).
  bool wait_for_output(std::string_view text, std::chrono::milliseconds timeout, Stream stream = Stream::out);
  // How many times `text` occurs in what stdout has printed so far.
  std::size_t count_in_output(std::string_view text) const;
  const std::string& stdout_so_far() const noexcept { return stdout_; }
  const std::string& stderr_so_far() const noexcept { return stderr_; }

  void send_signal(int signal) const;
  // Waits for the exit, draining its output meanwhile; kills it at the deadline (code -1).
  ExitResult wait_exit(std::chrono::milliseconds timeout);

 private:
  // Polls the pipes (and the pidfd) once, up to `timeout`; false when nothing is left to read.
  bool pump(std::chrono::milliseconds timeout, bool include_exit);
  void kill_and_reap() noexcept;

  pid_t pid_ = -1;
  int pidfd_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  std::string stdout_;
  std::string stderr_;
};

// Runs a command to completion (bounded), returning its exit code and output.
ExitResult run_to_exit(std::vector<std::string> argv, const std::map<std::string, std::string>& environment,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20));

// Waits (inotify, no polling) until a file exists; false at the deadline.
bool wait_for_file(const std::filesystem::path& path, std::chrono::milliseconds timeout);

// The pids listed one per line in an example_subscriber ready file.
std::vector<pid_t> read_pids(const std::filesystem::path& ready_file);

}  // namespace snapbus::testing
