#include "stop_signals.h"

#include <gtest/gtest.h>

namespace snapbus::cli {
namespace {

sighandler_t handler_of(int signal_number) {
  struct sigaction current {};
  sigaction(signal_number, nullptr, &current);
  return current.sa_handler;
}

TEST(StopSignalsTest, ASignalSetsTheFlagAndSoDoesASecondOne) {
  const sighandler_t before = signal(SIGINT, SIG_IGN);
  {
    StopSignals signals;
    EXPECT_FALSE(signals.flag()->load());
    EXPECT_EQ(signals.caught_name(), "");
    ASSERT_EQ(raise(SIGINT), 0);
    EXPECT_TRUE(signals.flag()->load());
    EXPECT_EQ(signals.caught_name(), "SIGINT");
    // A wrapper passing on the Ctrl-C its process group also got: the report must still come.
    ASSERT_EQ(raise(SIGINT), 0);
    EXPECT_TRUE(signals.flag()->load());
  }
  // What was there before is back.
  EXPECT_EQ(handler_of(SIGINT), SIG_IGN);
  signal(SIGINT, before);
}

TEST(StopSignalsTest, SigtermIsCaughtTooAndEachInstanceStartsClear) {
  {
    StopSignals signals;
    ASSERT_EQ(raise(SIGTERM), 0);
    EXPECT_EQ(signals.caught_name(), "SIGTERM");
  }
  StopSignals again;
  EXPECT_FALSE(again.flag()->load());
  EXPECT_EQ(again.caught_name(), "");
  EXPECT_NE(handler_of(SIGTERM), SIG_DFL);
}

}  // namespace
}  // namespace snapbus::cli
