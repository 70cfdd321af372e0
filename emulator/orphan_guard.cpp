#include "orphan_guard.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <thread>

#include "freezer.h"
#include "process_tree.h"
#include "snapbus/unique_fd.h"

namespace snapbus::emulator {
namespace {

[[noreturn]] void guard(int read_end, const std::string& marker_entry, pid_t emulator) {
  for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
  // Hold nothing of the emulator's (sockets, stdout pipes) beyond the pipe we wait on.
  ::dup2(read_end, 0);
  const int devnull = ::open("/dev/null", O_WRONLY);
  if (devnull >= 0) ::dup2(devnull, 1);
  ::close_range(3, ~0U, 0);
  char byte = 0;
  ssize_t n = 0;
  do {
    n = ::read(0, &byte, 1);
  } while (n > 0 || (n < 0 && errno == EINTR));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    auto left = processes_with_env(marker_entry);
    if (left.empty() || std::chrono::steady_clock::now() > deadline) break;
    for (pid_t pid : left) ::kill(pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  remove_freezer_cgroup(freezer_cgroup_name(emulator));
  _exit(0);
}

}  // namespace

void start_orphan_guard(const std::string& marker_entry) {
  const pid_t emulator = ::getpid();
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    std::perror("snapbus emulate: orphan guard");
    return;
  }
  const UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  const pid_t child = ::fork();
  if (child < 0) {
    std::perror("snapbus emulate: orphan guard");
    return;
  }
  if (child == 0) {
    write_end.reset();
    ::setsid();  // no terminal signals, not in the emulator's process group
    if (::fork() == 0) guard(read_end.get(), marker_entry, emulator);
    _exit(0);
  }
  ::waitpid(child, nullptr, 0);
  // The write end stays open for the emulator's whole life: the kernel closes it however the emulator ends.
  (void)write_end.release();
}

}  // namespace snapbus::emulator
