// Runs a function in a forked child and waits for it with a deadline, so a hung child fails the
// test instead of stalling it.
//
//   auto child = snapbus::testing::fork_child([&] { return do_work() ? 0 : 1; });
//   EXPECT_EQ(child.wait_exit_code(std::chrono::seconds(5)), 0);
//
// The child runs the function and _exits with its result: no atexit handlers, no gtest teardown.
#pragma once

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

#include "snapbus/sanitizer_build.h"

namespace snapbus::testing {

// The AddressSanitizer runtimes of GCC 12 and clang 14 do not take their allocator lock across
// fork() (LLVM added that in release 17): a child forked while another thread of the parent is
// inside malloc can block for ever in its first allocation. Tests that fork a process that runs a
// watcher thread skip themselves under ASan; the default and ThreadSanitizer builds run them.
inline constexpr bool kForkWithThreadsIsUnreliable = kAddressSanitizer;

#define SNAPBUS_SKIP_FORK_WITH_THREADS_UNDER_ASAN()                                          \
  do {                                                                                       \
    if (::snapbus::testing::kForkWithThreadsIsUnreliable) {                                  \
      GTEST_SKIP() << "AddressSanitizer can deadlock a child forked from a threaded parent"; \
    }                                                                                        \
  } while (false)

// ThreadSanitizer keeps a forked child's copy of the parent's threads registered as running, while
// glibc hands their stacks (and so their thread ids) to the threads the child starts: a child that
// starts a thread of its own (a Subscriber claiming its slot starts one to watch its path) can
// abort with "dup thread with used id", depending on the order the stack cache hands them out.
inline constexpr bool kThreadsInForkedChildrenConfuseTsan = kThreadSanitizer;

#define SNAPBUS_SKIP_THREADS_IN_FORKED_CHILD_UNDER_TSAN()                                                 \
  do {                                                                                                    \
    if (::snapbus::testing::kThreadsInForkedChildrenConfuseTsan) {                                        \
      GTEST_SKIP() << "ThreadSanitizer mistakes a forked child's new thread for a parent's (dup thread)"; \
    }                                                                                                     \
  } while (false)

class ChildProcess {
 public:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  ChildProcess(ChildProcess&& other) noexcept : pid_(other.pid_) { other.pid_ = -1; }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  pid_t pid() const { return pid_; }

  // True once the child is blocked in the futex system call (/proc/<pid>/syscall names the call):
  // lets a test publish only after a subscriber is really waiting, without sleeping.
  bool blocked_in_futex() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/syscall");
    long number = -1;
    in >> number;
    return number == SYS_futex;
  }

  // Polls blocked_in_futex() until it holds or the timeout passes.
  bool wait_until_blocked_in_futex(std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!blocked_in_futex()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }

  // The raw wait status, or -1 if the child was still running at the deadline (it is then killed).
  int wait_status(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int status = 0;
      const pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        pid_ = -1;
        return status;
      }
      if (std::chrono::steady_clock::now() > deadline) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  // The exit code, -1 on timeout, or 128 + signal when a signal ended it (as a shell reports it).
  int wait_exit_code(std::chrono::milliseconds timeout) {
    const int status = wait_status(timeout);
    if (status == -1) return -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
  }

 private:
  pid_t pid_;
};

inline ChildProcess fork_child(const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int code = 120;
    try {
      code = body();
    } catch (...) {
      code = 121;
    }
    ::_exit(code);
  }
  return ChildProcess(pid);
}

}  // namespace snapbus::testing
