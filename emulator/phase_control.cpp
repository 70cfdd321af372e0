#include "phase_control.h"

namespace snapbus::emulator {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kRuntimeVersion = "snapbus-emulator:0.1.0";

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

std::string_view to_string(ShutdownReason reason) {
  switch (reason) {
    case ShutdownReason::spindown: return "spindown";
    case ShutdownReason::timeout: return "timeout";
    case ShutdownReason::failure: return "failure";
  }
  return "failure";
}

PhaseControl::PhaseControl(boost::asio::io_context& io, LambdaLog& log, bool snapstart)
    : log_(log), snapstart_(snapstart), phase_timer_(io), stopped_(io.get_executor()) {}

void PhaseControl::arm_timeout(std::chrono::milliseconds timeout, Phase phase, std::function<void()> on_timeout) {
  phase_timer_.expires_after(timeout);
  phase_timer_.async_wait([this, phase, on_timeout = std::move(on_timeout)](boost::system::error_code ec) {
    if (ec || phase_ != phase) return;
    on_timeout();
  });
}

void PhaseControl::begin_init(std::chrono::milliseconds timeout, std::function<void()> on_timeout,
                              std::string_view phase) {
  phase_ = Phase::init;
  init_phase_ = phase;
  init_start_ = Clock::now();
  log_.init_start(kRuntimeVersion);
  arm_timeout(timeout, Phase::init, std::move(on_timeout));
}

void PhaseControl::end_init() {
  phase_timer_.cancel();
  init_ms_ = ms_since(init_start_);
  if (snapstart_) {
    log_.init_report(*init_ms_, PhaseOutcome{});
  } else {
    log_.init_recorded(*init_ms_);
  }
  phase_ = snapstart_ ? Phase::frozen : Phase::ready;
}

void PhaseControl::begin_restore(std::chrono::milliseconds timeout, std::function<void()> on_timeout) {
  phase_ = Phase::restore;
  restore_start_ = Clock::now();
  log_.restore_start(kRuntimeVersion);
  arm_timeout(timeout, Phase::restore, std::move(on_timeout));
}

void PhaseControl::end_restore() {
  phase_timer_.cancel();
  restore_ms_ = ms_since(restore_start_);
  log_.restore_report(*restore_ms_, PhaseOutcome{});
  phase_ = Phase::ready;
}

int PhaseControl::report_startup_failure(const std::string& type, const std::string& message,
                                         const std::string& status) {
  phase_timer_.cancel();
  // A failure while frozen (the runtime or an extension died, a stop signal) comes after Init was
  // reported a success: it is the restore's, which begins and fails at once, as RAPID's handleRestore
  // turns a fatal error stored after the snapshot into the restore's error.
  if (phase_ == Phase::frozen) {
    restore_start_ = Clock::now();
    log_.restore_start(kRuntimeVersion);
    phase_ = Phase::restore;
  }
  const bool restoring = phase_ == Phase::restore;
  startup_failure_ms_ = ms_since(restoring ? restore_start_ : init_start_);
  if (restoring) {
    log_.restore_report(startup_failure_ms_, PhaseOutcome{status, type});
  } else {
    log_.init_report(startup_failure_ms_, PhaseOutcome{status, type}, init_phase_);
  }
  log_.error("", message, type);
  return restoring ? kExitRestoreFailed : kExitInitFailed;
}

void PhaseControl::bill_first_report(InvocationReport& report) {
  if (first_report_billed_) return;
  if (snapstart_) {
    report.restore_ms = restore_ms_;
  } else {
    report.init_ms = init_ms_;
  }
  first_report_billed_ = true;
}

void PhaseControl::stop(int exit_code) {
  if (exit_code_) return;
  exit_code_ = exit_code;
  stopped_.notify();
}

boost::asio::awaitable<void> PhaseControl::wait_stopped() {
  while (!exit_code_) co_await stopped_.wait();
}

void PhaseControl::begin_shutdown() {
  phase_ = Phase::shutdown;
  phase_timer_.cancel();
}

void PhaseControl::set_shutdown_reason(ShutdownReason reason) {
  if (shutdown_reason_ != ShutdownReason::timeout) shutdown_reason_ = reason;
}

}  // namespace snapbus::emulator
