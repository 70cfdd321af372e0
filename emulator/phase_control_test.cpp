#include "phase_control.h"

#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <boost/asio.hpp>

namespace snapbus::emulator {
namespace {

using namespace std::chrono_literals;

// A LambdaLog whose lines land in memory.
class CapturedLog {
 public:
  CapturedLog() : log_([this](std::string_view bytes) { text_.append(bytes); }) {}
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;
  LambdaLog& log() { return log_; }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  LambdaLog log_;
};

TEST(PhaseControl, OnDemandInitGoesStraightToReadyAndBillsInitOnce) {
  boost::asio::io_context io;
  CapturedLog captured;
  PhaseControl phases(io, captured.log(), false);
  phases.begin_init(10s, [] { FAIL() << "no timeout expected"; });
  EXPECT_EQ(phases.phase(), Phase::init);
  phases.end_init();
  EXPECT_EQ(phases.phase(), Phase::ready);
  const std::string text = captured.text();
  EXPECT_NE(text.find("INIT_START"), std::string::npos) << text;
  // As Lambda's: no INIT_REPORT for an on-demand Init that succeeded; the first REPORT has it.
  EXPECT_EQ(text.find("INIT_REPORT"), std::string::npos) << text;
  EXPECT_TRUE(captured.log().json(0).at("init").is_object());
  InvocationReport first;
  phases.bill_first_report(first);
  EXPECT_TRUE(first.init_ms);
  EXPECT_FALSE(first.restore_ms);
  InvocationReport second;
  phases.bill_first_report(second);
  EXPECT_FALSE(second.init_ms);
  io.run_for(10ms);  // the cancelled timeout does not fire
}

TEST(PhaseControl, SnapStartFreezesThenRestoresAndBillsRestore) {
  boost::asio::io_context io;
  CapturedLog captured;
  PhaseControl phases(io, captured.log(), true);
  phases.begin_init(10s, [] {});
  phases.end_init();
  EXPECT_EQ(phases.phase(), Phase::frozen);
  phases.begin_restore(10s, [] {});
  EXPECT_EQ(phases.phase(), Phase::restore);
  phases.end_restore();
  EXPECT_EQ(phases.phase(), Phase::ready);
  EXPECT_NE(captured.text().find("RESTORE_REPORT Restore Duration"), std::string::npos) << captured.text();
  InvocationReport first;
  phases.bill_first_report(first);
  EXPECT_TRUE(first.restore_ms);
  EXPECT_FALSE(first.init_ms);
}

TEST(PhaseControl, TimeoutFiresOnlyWhileItsPhaseLasts) {
  boost::asio::io_context io;
  CapturedLog captured;
  PhaseControl phases(io, captured.log(), true);
  int init_timeouts = 0;
  phases.begin_init(5ms, [&] { ++init_timeouts; });
  io.run_for(100ms);
  EXPECT_EQ(init_timeouts, 1);
  phases.end_init();
  int restore_timeouts = 0;
  phases.begin_restore(20ms, [&] { ++restore_timeouts; });
  phases.end_restore();
  io.restart();
  io.run_for(60ms);
  EXPECT_EQ(restore_timeouts, 0);
}

TEST(PhaseControl, StartupFailureReportsItsPhaseAndExitCode) {
  boost::asio::io_context io;
  CapturedLog init_log;
  PhaseControl init(io, init_log.log(), true);
  init.begin_init(10s, [] {});
  EXPECT_EQ(init.report_startup_failure("Runtime.ExitError", "it died", "error"), kExitInitFailed);
  EXPECT_NE(init_log.text().find("INIT_REPORT"), std::string::npos);
  EXPECT_NE(init_log.text().find("Status: error"), std::string::npos) << init_log.text();
  EXPECT_NE(init_log.text().find("it died"), std::string::npos);

  CapturedLog restore_log;
  PhaseControl restore(io, restore_log.log(), true);
  restore.begin_init(10s, [] {});
  restore.end_init();
  restore.begin_restore(10s, [] {});
  EXPECT_EQ(restore.report_startup_failure("SnapStartTimeoutException", "slow", "timeout"), kExitRestoreFailed);
  EXPECT_NE(restore_log.text().find("RESTORE_REPORT"), std::string::npos);
  EXPECT_NE(restore_log.text().find("Status: timeout"), std::string::npos) << restore_log.text();
}

TEST(PhaseControl, FirstStopWinsAndWakesTheWaiter) {
  boost::asio::io_context io;
  CapturedLog captured;
  PhaseControl phases(io, captured.log(), false);
  bool woke = false;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        co_await phases.wait_stopped();
        woke = true;
      },
      boost::asio::detached);
  io.run_for(5ms);
  EXPECT_FALSE(woke);
  phases.stop(kExitInvokeFailed);
  phases.stop(kExitOk);
  io.restart();
  io.run_for(50ms);
  EXPECT_TRUE(woke);
  EXPECT_TRUE(phases.stopping());
  EXPECT_EQ(phases.exit_code(), kExitInvokeFailed);
}

TEST(PhaseControl, TimeoutStaysTheShutdownReason) {
  boost::asio::io_context io;
  CapturedLog captured;
  PhaseControl phases(io, captured.log(), false);
  EXPECT_EQ(to_string(phases.shutdown_reason()), "spindown");
  phases.set_shutdown_reason(ShutdownReason::timeout);
  phases.set_shutdown_reason(ShutdownReason::failure);
  EXPECT_EQ(to_string(phases.shutdown_reason()), "timeout");
}

}  // namespace
}  // namespace snapbus::emulator
