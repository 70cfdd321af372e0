#include "process_memory.h"

#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

namespace snapbus::emulator {
namespace {

constexpr std::size_t kTouchedMiB = 48;
constexpr int kChildTimeoutMs = 10'000;

// A child that touches kTouchedMiB of memory, gives it back, says so on `ready` and then waits to
// be killed: its peak is above kTouchedMiB, what it holds now well below.
pid_t child_that_peaked(int ready) {
  const pid_t child = ::fork();
  if (child == 0) {
    const std::size_t bytes = kTouchedMiB << 20;
    void* block = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (block == MAP_FAILED) _exit(1);
    std::memset(block, 1, bytes);
    ::munmap(block, bytes);
    const char byte = 1;
    (void)!::write(ready, &byte, 1);
    ::pause();
    _exit(0);
  }
  return child;
}

// How many of this process's descriptors are open on `path`.
int descriptors_open_on(const std::string& path) {
  int open = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code error;
    if (std::filesystem::read_symlink(entry.path(), error).string() == path) ++open;
  }
  return open;
}

// The child of child_that_peaked, once it has peaked; killed and reaped at the end of the test.
struct PeakedChild {
  PeakedChild() {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe");
    pid = child_that_peaked(fds[1]);
    // Only the child holds the write end now: if it exits without a word, the read sees the end.
    ::close(fds[1]);
    pollfd told_fd{.fd = fds[0], .events = POLLIN, .revents = 0};
    char byte = 0;
    const bool told = ::poll(&told_fd, 1, kChildTimeoutMs) == 1 && ::read(fds[0], &byte, 1) == 1;
    ::close(fds[0]);
    if (!told) {
      end();
      throw std::runtime_error("the child did not touch its memory within the timeout");
    }
  }
  ~PeakedChild() { end(); }
  void end() {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid = 0;
  }
  pid_t pid = 0;
};

TEST(ProcessMemory, ReadsTheFunctionsPeakAndWhatItHoldsNow) {
  PeakedChild child;
  ProcessMemory memory;
  const unsigned peak = memory.peak_mb({child.pid});
  const unsigned now = memory.current_mb({child.pid});
  EXPECT_GE(peak, kTouchedMiB);
  EXPECT_GE(now, 1U);
  EXPECT_LT(now, kTouchedMiB / 2) << "the child gave its block back";
  // Two processes are summed.
  EXPECT_GE(memory.peak_mb({child.pid, ::getpid()}), peak + 1);
}

TEST(ProcessMemory, KeepsEachProcessFilesOpenBetweenReads) {
  PeakedChild child;
  ProcessMemory memory;
  const std::string status = "/proc/" + std::to_string(child.pid) + "/status";
  const std::string statm = "/proc/" + std::to_string(child.pid) + "/statm";
  const unsigned first = memory.peak_mb({child.pid});
  EXPECT_EQ(descriptors_open_on(status), 1);
  EXPECT_EQ(memory.peak_mb({child.pid}), first);  // read again from the start, not from where it stopped
  EXPECT_EQ(descriptors_open_on(status), 1);
  EXPECT_GE(memory.current_mb({child.pid}), 1U);
  EXPECT_GE(memory.current_mb({child.pid}), 1U);
  EXPECT_EQ(descriptors_open_on(statm), 1);
  EXPECT_EQ(memory.open_processes(), 1U);
  // A process no longer in the list has its files closed.
  EXPECT_GE(memory.peak_mb({::getpid()}), 1U);
  EXPECT_EQ(descriptors_open_on(status), 0);
  EXPECT_EQ(descriptors_open_on(statm), 0);
  EXPECT_EQ(memory.open_processes(), 1U);
}

TEST(ProcessMemory, AProcessThatEndedCountsNothingAndItsFilesAreClosed) {
  PeakedChild child;
  ProcessMemory memory;
  const pid_t pid = child.pid;
  ASSERT_GE(memory.peak_mb({pid}), kTouchedMiB);
  child.end();
  EXPECT_EQ(memory.peak_mb({pid}), 0U);
  EXPECT_EQ(memory.current_mb({pid}), 0U);
  EXPECT_EQ(memory.open_processes(), 0U);
  EXPECT_EQ(descriptors_open_on("/proc/" + std::to_string(pid) + "/status"), 0);
}

TEST(ProcessMemory, NoProcessesIsNoMemory) {
  ProcessMemory memory;
  EXPECT_EQ(memory.peak_mb({}), 0U);
  EXPECT_EQ(memory.current_mb({}), 0U);
  EXPECT_EQ(memory.open_processes(), 0U);
}

}  // namespace
}  // namespace snapbus::emulator
