#include "snapbus/unique_fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <utility>

#include <gtest/gtest.h>

namespace snapbus {
namespace {

TEST(UniqueFd, ClosesOnceAndHandsOn) {
  int raw = -1;
  {
    UniqueFd fd(::dup(STDIN_FILENO));
    ASSERT_TRUE(fd);
    raw = fd.get();
    UniqueFd moved(std::move(fd));
    EXPECT_FALSE(fd);  // NOLINT(bugprone-use-after-move): the moved-from state is what is tested
    EXPECT_EQ(moved.get(), raw);
  }
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1);
  UniqueFd kept(::dup(STDIN_FILENO));
  const int released = kept.release();
  EXPECT_FALSE(kept);
  EXPECT_NE(::fcntl(released, F_GETFD), -1);
  ::close(released);
}

}  // namespace
}  // namespace snapbus
