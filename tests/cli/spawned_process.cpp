#include "spawned_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <utility>

#include "snapbus/futex.h"
#include "snapbus/segment.h"

extern char** environ;

namespace snapbus::testing {

namespace {

// ctest names the built executables (cmake/SnapbusTest.cmake); a test never guesses build paths.
std::string executable_from_environment(const char* variable) {
  const char* path = std::getenv(variable);
  if (path == nullptr) throw std::runtime_error(std::string(variable) + " is not set (run the test through ctest)");
  return path;
}

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what + ": " + std::strerror(errno)); }

std::vector<std::string> merged_environment(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> merged;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text = *entry;
    const std::size_t equals = text.find('=');
    if (equals != std::string::npos) merged[text.substr(0, equals)] = text.substr(equals + 1);
  }
  // Children that fork after starting threads (example_subscriber --fork) would be killed by TSan.
  merged["TSAN_OPTIONS"] = "die_after_fork=0";
  for (const auto& [key, value] : extra) merged[key] = value;
  std::vector<std::string> result;
  result.reserve(merged.size());
  for (const auto& [key, value] : merged) result.push_back(std::string(key).append("=").append(value));
  return result;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (std::string& text : strings) pointers.push_back(text.data());
  pointers.push_back(nullptr);
  return pointers;
}

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

}  // namespace

std::string snapbus_binary() { return executable_from_environment("SNAPBUS_CLI"); }
std::string example_subscriber_binary() { return executable_from_environment("SNAPBUS_EXAMPLE_SUBSCRIBER"); }

SpawnedProcess::SpawnedProcess(std::vector<std::string> argv, const std::map<std::string, std::string>& environment) {
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) fail("pipe2");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  std::vector<std::string> env = merged_environment(environment);
  std::vector<char*> argv_pointers = c_strings(argv);
  std::vector<char*> env_pointers = c_strings(env);
  // A process group of its own, so kill_and_reap also ends what it forked (example_subscriber
  // --fork): a child left behind would outlive the test.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  const int rc =
      ::posix_spawn(&pid_, argv_pointers[0], &actions, &attributes, argv_pointers.data(), env_pointers.data());
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  ::close(err[1]);
  stdout_fd_ = out[0];
  stderr_fd_ = err[0];
  if (rc != 0) {
    errno = rc;
    fail("posix_spawn " + argv[0]);
  }
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd_ < 0) fail("pidfd_open");
}

SpawnedProcess::SpawnedProcess(SpawnedProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::exchange(other.pidfd_, -1)),
      stdout_fd_(std::exchange(other.stdout_fd_, -1)),
      stderr_fd_(std::exchange(other.stderr_fd_, -1)),
      stdout_(std::move(other.stdout_)),
      stderr_(std::move(other.stderr_)) {}

SpawnedProcess::~SpawnedProcess() {
  kill_and_reap();
  for (int fd : {pidfd_, stdout_fd_, stderr_fd_}) {
    if (fd >= 0) ::close(fd);
  }
}

void SpawnedProcess::kill_and_reap() noexcept {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGKILL);       // its group: it and whatever it forked
  ::kill(pid_, SIGKILL);        // it alone, should it have left its group
  ::waitpid(pid_, nullptr, 0);  // bounded: SIGKILL cannot be ignored
  pid_ = -1;
}

bool SpawnedProcess::pump(std::chrono::milliseconds timeout, bool include_exit) {
  pollfd descriptors[3];
  nfds_t count = 0;
  for (int fd : {stdout_fd_, stderr_fd_}) {
    if (fd >= 0) descriptors[count++] = {.fd = fd, .events = POLLIN, .revents = 0};
  }
  if (include_exit && pidfd_ >= 0 && pid_ > 0) descriptors[count++] = {.fd = pidfd_, .events = POLLIN, .revents = 0};
  if (count == 0) return false;
  const int ready = ::poll(descriptors, count, static_cast<int>(timeout.count()));
  if (ready < 0 && errno != EINTR) fail("poll");
  for (nfds_t i = 0; i < count; ++i) {
    if ((descriptors[i].revents & (POLLIN | POLLHUP)) == 0 || descriptors[i].fd == pidfd_) continue;
    int& fd = descriptors[i].fd == stdout_fd_ ? stdout_fd_ : stderr_fd_;
    std::string& sink = &fd == &stdout_fd_ ? stdout_ : stderr_;
    char buffer[4096];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      sink.append(buffer, static_cast<std::size_t>(n));
    } else {
      ::close(fd);
      fd = -1;
    }
  }
  return true;
}

bool SpawnedProcess::wait_for_output(std::string_view text, std::chrono::milliseconds timeout, Stream stream) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string& seen = stream == Stream::out ? stdout_ : stderr_;
  const int& fd = stream == Stream::out ? stdout_fd_ : stderr_fd_;
  while (seen.find(text) == std::string::npos) {
    const int left = remaining_ms(deadline);
    if (left == 0 || fd < 0) return false;
    pump(std::chrono::milliseconds(left), false);
  }
  return true;
}

std::size_t SpawnedProcess::count_in_output(std::string_view text) const {
  std::size_t count = 0;
  for (std::size_t at = stdout_.find(text); at != std::string::npos; at = stdout_.find(text, at + text.size())) ++count;
  return count;
}

void SpawnedProcess::send_signal(int signal) const {
  if (pid_ > 0) ::kill(pid_, signal);
}

ExitResult SpawnedProcess::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  ExitResult result;
  while (pid_ > 0) {
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      pid_ = -1;
      result.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    const int left = remaining_ms(deadline);
    if (left == 0) {
      kill_and_reap();
      break;
    }
    pump(std::chrono::milliseconds(left), true);
  }
  // The exited child's pipes may still hold output (or be held open by its own children: bounded).
  const auto drain_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while ((stdout_fd_ >= 0 || stderr_fd_ >= 0) && remaining_ms(drain_deadline) > 0) {
    pump(std::chrono::milliseconds(remaining_ms(drain_deadline)), false);
  }
  result.stdout_text = stdout_;
  result.stderr_text = stderr_;
  return result;
}

ExitResult run_to_exit(std::vector<std::string> argv, const std::map<std::string, std::string>& environment,
                       std::chrono::milliseconds timeout) {
  SpawnedProcess process(std::move(argv), environment);
  return process.wait_exit(timeout);
}

bool wait_for_file(const std::filesystem::path& path, std::chrono::milliseconds timeout) {
  return wait_until_segment_exists(path, FutexClock::now() + timeout);
}

std::vector<pid_t> read_pids(const std::filesystem::path& ready_file) {
  std::ifstream in(ready_file);
  std::vector<pid_t> pids;
  for (pid_t pid = 0; in >> pid;) pids.push_back(pid);
  return pids;
}

}  // namespace snapbus::testing
