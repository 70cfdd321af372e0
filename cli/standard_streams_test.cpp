#include "standard_streams.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <climits>
#include <string>

#include <gtest/gtest.h>

namespace snapbus::cli {
namespace {

std::string target_of(int fd) {
  std::array<char, PATH_MAX> path{};
  const ssize_t size = ::readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), path.data(), path.size() - 1);
  return size < 0 ? std::string() : std::string(path.data(), static_cast<std::size_t>(size));
}

// In a child, which closes the descriptors asked first; its exit code carries the verdict: 0 when
// a closed stdout was reported, the closed descriptors now name /dev/null, and stderr (left open) is
// as it was.
int in_child_with_closed(bool close_stdin, bool close_stdout) {
  const pid_t child = ::fork();
  if (child == 0) {
    ::alarm(10);
    const std::string stderr_before = target_of(2);
    if (close_stdin) ::close(0);
    if (close_stdout) ::close(1);
    const bool stdout_was_closed = hold_standard_streams_open();
    // A file opened now must not take a standard stream's number.
    const int next = ::open("/proc/self/stat", O_RDONLY);
    const bool ok = stdout_was_closed == close_stdout && (!close_stdin || target_of(0) == "/dev/null") &&
                    (!close_stdout || target_of(1) == "/dev/null") && target_of(2) == stderr_before && next > 2;
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  if (child < 0 || ::waitpid(child, &status, 0) != child) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(StandardStreams, AClosedStdoutBecomesDevNullAndIsReported) { EXPECT_EQ(in_child_with_closed(false, true), 0); }

TEST(StandardStreams, SeveralClosedOnesAreFilledInOrder) { EXPECT_EQ(in_child_with_closed(true, true), 0); }

TEST(StandardStreams, AClosedStdinAloneIsFilledAndStdoutReportedOpen) {
  EXPECT_EQ(in_child_with_closed(true, false), 0);
}

TEST(StandardStreams, OpenOnesAreLeftAsTheyAre) { EXPECT_EQ(in_child_with_closed(false, false), 0); }

}  // namespace
}  // namespace snapbus::cli
