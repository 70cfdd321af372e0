#include "output_reader.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>

#include <gtest/gtest.h>

namespace snapbus::cli {
namespace {

TEST(OutputReader, APipeWhoseReaderClosedIsGone) {
  int ends[2];
  ASSERT_EQ(::pipe(ends), 0);
  EXPECT_FALSE(output_reader_gone(ends[1]));
  ::close(ends[0]);
  EXPECT_TRUE(output_reader_gone(ends[1]));
  ::close(ends[1]);
}

TEST(OutputReader, ASocketWhosePeerClosedIsGone) {
  int ends[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, ends), 0);
  EXPECT_FALSE(output_reader_gone(ends[0]));
  ::close(ends[1]);
  EXPECT_TRUE(output_reader_gone(ends[0]));
  ::close(ends[0]);
}

TEST(OutputReader, AFileOrAClosedDescriptorIsNot) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  EXPECT_FALSE(output_reader_gone(::fileno(file)));
  std::fclose(file);
  const int closed = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(closed, 0);
  ::close(closed);
  EXPECT_FALSE(output_reader_gone(closed));
}

}  // namespace
}  // namespace snapbus::cli
