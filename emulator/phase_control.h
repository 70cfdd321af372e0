// Where one environment is in its life (Init, frozen for the snapshot, Restore, Ready, Shutdown),
// the Init and Restore timeouts, the platform log lines that mark each phase, and how it ends (the
// exit code, and the reason extensions are given in their SHUTDOWN event).
//
//   PhaseControl phases(io, log, /*snapstart=*/true);
//   phases.begin_init(10s, [&] { fail("Sandbox.Timedout", ...); });   // INIT_START
//   phases.end_init();                                                 // INIT_REPORT, now frozen
//   phases.begin_restore(10s, on_timeout); phases.end_restore();       // RESTORE_START/REPORT, ready
//   phases.stop(kExitOk); co_await phases.wait_stopped();
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "lambda_log.h"
#include "snapbus/emulator.h"
#include "wake_signal.h"

namespace snapbus::emulator {

enum class Phase { init, frozen, restore, ready, shutdown };

// What extensions are told in their SHUTDOWN event.
enum class ShutdownReason { spindown, timeout, failure };
std::string_view to_string(ShutdownReason reason);

class PhaseControl {
 public:
  PhaseControl(boost::asio::io_context& io, LambdaLog& log, bool snapstart);

  [[nodiscard]] Phase phase() const { return phase_; }

  // Init starts now (INIT_START); on_timeout runs if it is still going after `timeout`. `phase` is
  // where it runs, as a failed INIT_REPORT names it: "init", or "invoke" when an invocation waits.
  void begin_init(std::chrono::milliseconds timeout, std::function<void()> on_timeout, std::string_view phase = "init");
  // Init succeeded: Ready on demand (its duration goes in the first REPORT), Frozen for the snapshot
  // with SnapStart (INIT_REPORT).
  void end_init();
  // Restore starts now (RESTORE_START); on_timeout runs if it is still going after `timeout`.
  void begin_restore(std::chrono::milliseconds timeout, std::function<void()> on_timeout);
  // Restore succeeded (RESTORE_REPORT): Ready.
  void end_restore();

  // Init (or the frozen time after it) or Restore failed: that phase's report with this outcome and
  // the platform error line. Returns the exit code that failure ends the emulator with.
  int report_startup_failure(const std::string& type, const std::string& message, const std::string& status);

  // How long the last Init took, once it succeeded.
  [[nodiscard]] std::optional<double> init_ms() const { return init_ms_; }
  // An Init run for the invocation that waits for it (begin_init's phase "invoke"): Lambda's
  // "suppressed init", whose failure that invocation's START, END and REPORT lines follow.
  [[nodiscard]] bool init_runs_for_an_invocation() const { return init_phase_ == "invoke"; }
  // The duration report_startup_failure() wrote: that invocation's REPORT bills the same figure.
  [[nodiscard]] double startup_failure_ms() const { return startup_failure_ms_; }

  // Lambda bills Init on the first invocation of an on-demand environment, Restore on the first
  // after a restore: fills that into the first report it is given.
  void bill_first_report(InvocationReport& report);

  // The environment ends with this exit code; the first call wins.
  void stop(int exit_code);
  [[nodiscard]] bool stopping() const { return exit_code_.has_value(); }
  [[nodiscard]] int exit_code() const { return exit_code_.value_or(kExitOk); }
  boost::asio::awaitable<void> wait_stopped();
  // Shutdown begins: no more phase timeouts.
  void begin_shutdown();

  // A timeout stays the reason once given.
  void set_shutdown_reason(ShutdownReason reason);
  [[nodiscard]] ShutdownReason shutdown_reason() const { return shutdown_reason_; }

 private:
  void arm_timeout(std::chrono::milliseconds timeout, Phase phase, std::function<void()> on_timeout);

  LambdaLog& log_;
  bool snapstart_;
  Phase phase_ = Phase::init;
  boost::asio::steady_timer phase_timer_;
  std::chrono::steady_clock::time_point init_start_;
  std::string init_phase_ = "init";
  std::chrono::steady_clock::time_point restore_start_;
  std::optional<double> init_ms_;
  std::optional<double> restore_ms_;
  double startup_failure_ms_ = 0;
  bool first_report_billed_ = false;
  std::optional<int> exit_code_;
  WakeSignal stopped_;
  ShutdownReason shutdown_reason_ = ShutdownReason::spindown;
};

}  // namespace snapbus::emulator
