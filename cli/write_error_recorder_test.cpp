#include "write_error_recorder.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace snapbus::cli {
namespace {

// Some other system call fails afterwards, as the rest of a command does: errno no longer names the write.
void overwrite_errno() {
  EXPECT_EQ(::open("/nonexistent-directory-of-this-test/file", O_RDONLY), -1);
  EXPECT_EQ(errno, ENOENT);
}

TEST(WriteErrorRecorder, PassesEverythingOnAndKeepsNoErrorWhileNoneFails) {
  std::stringbuf text;
  WriteErrorRecorder recorder(&text);
  std::ostream out(&recorder);
  out << "acked " << 4 << '\n' << std::flush;
  EXPECT_TRUE(out.good());
  EXPECT_EQ(text.str(), "acked 4\n");
  EXPECT_EQ(recorder.first_error(), 0);
  EXPECT_TRUE(recorder.printed());
}

TEST(WriteErrorRecorder, AWriteThatSucceedsLeavesErrnoAsItWas) {
  std::stringbuf text;
  WriteErrorRecorder recorder(&text);
  std::ostream out(&recorder);
  EXPECT_FALSE(recorder.printed());
  overwrite_errno();
  out << "a line\n" << std::flush;
  EXPECT_EQ(errno, ENOENT);
}

TEST(WriteErrorRecorder, KeepsTheFirstFailedWritesErrnoAfterOtherCallsOverwroteIt) {
  std::filebuf full;
  ASSERT_NE(full.open("/dev/full", std::ios::out), nullptr);
  WriteErrorRecorder recorder(&full);
  std::ostream out(&recorder);
  out << "a progress line\n" << std::flush;
  EXPECT_FALSE(out.good());
  overwrite_errno();
  EXPECT_EQ(recorder.first_error(), ENOSPC);
}

TEST(WriteErrorRecorder, NamesAReaderThatLeftAsABrokenPipe) {
  std::array<int, 2> pipe_ends{};
  ASSERT_EQ(::pipe(pipe_ends.data()), 0);
  // Opened while the pipe has its reader (opening a pipe's write end blocks until one exists).
  std::filebuf pipe_out;
  ASSERT_NE(pipe_out.open("/proc/self/fd/" + std::to_string(pipe_ends[1]), std::ios::out), nullptr);
  ASSERT_EQ(::close(pipe_ends[0]), 0);
  ASSERT_EQ(::close(pipe_ends[1]), 0);
  // A write to a pipe without a reader then fails with EPIPE instead of ending the test.
  struct sigaction ignore {};
  struct sigaction previous {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGPIPE, &ignore, &previous), 0);
  {
    WriteErrorRecorder recorder(&pipe_out);
    std::ostream out(&recorder);
    out << "a line nobody reads\n" << std::flush;
    overwrite_errno();
    EXPECT_EQ(recorder.first_error(), EPIPE);
  }
  // Closed while SIGPIPE is ignored: closing tries once more to write what is still buffered.
  pipe_out.close();
  ASSERT_EQ(::sigaction(SIGPIPE, &previous, nullptr), 0);
}

}  // namespace
}  // namespace snapbus::cli
